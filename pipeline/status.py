"""``tango-batch status``: settle what earlier runs left unfinished, then say what the ledger holds.

Batches left ``sending`` are reconciled with Tango, accepted orders not yet final are followed
(one pass, or up to ``--wait`` seconds), the reports of files whose rows changed are written
again, and the ledger's contents are printed: runs (since a date), line items per status, orders
not yet final, batches whose outcome is still unknown.
"""

from __future__ import annotations

from typing import Any

from pipeline.config import Settings
from pipeline.ledger import B_SENDING, Ledger
from pipeline.progress import Progress
from pipeline.run import EXIT_STOPPED, make_client, rewrite_after
from pipeline.submit import Stop, Submitter

__all__ = ["status"]


def _settle(ledger: Ledger, settings: Settings, progress: Progress) -> str | None:
    """Reconcile and follow; the files whose orders moved get their report again."""
    assert settings.target is not None
    run_id = ledger.start_run("status")
    unfinished = {b.external_ref_id for b in ledger.batches(unfinished=True)}
    unfinished |= {b.external_ref_id for b in ledger.batches(states=[B_SENDING])}
    client = make_client(settings.target, settings, ledger, run_id)
    stopped = None
    try:
        submitter = Submitter(client, ledger, run_id, say=progress.say)
        try:
            submitter.reconcile()
            submitter.follow(settings.wait)
        except Stop as exc:
            stopped = str(exc)
    finally:
        client.close()
    rewrite_after(ledger, unfinished, settings, progress)
    ledger.finish_run(run_id, EXIT_STOPPED if stopped else 0, stopped)
    return stopped


def status(settings: Settings, progress: Progress, since: str | None = None,
           settle: bool = True) -> dict[str, Any]:
    """``settle=False`` (another run holds the lock): only read the ledger, ask Tango nothing."""
    assert settings.target is not None
    target = settings.target
    if not settings.ledger.exists():
        progress.say(f"no ledger at {settings.ledger}: nothing has been run yet")
        return {"target": target.namespace, "runs": [], "rows": {}, "line_items": {}, "unfinished_orders": [],
                "sending": [], "exit_code": 0}
    ledger = Ledger(settings.ledger, target.namespace)
    try:
        stopped = _settle(ledger, settings, progress) if settle else None
        if not settle:
            progress.say("a run is in progress: the ledger as it stands, without asking Tango")
        report = {
            "target": target.namespace,
            "rows": ledger.row_counts(),
            "runs": [{k: r[k] for k in ("id", "command", "started_at", "finished_at", "exit_code", "note")}
                     for r in ledger.runs_since(since) if r["command"] != "status"],
            "line_items": ledger.counts(),
            "unfinished_orders": [b.external_ref_id for b in ledger.batches(unfinished=True)],
            "sending": [b.external_ref_id for b in ledger.batches(states=[B_SENDING])],
            "stopped": stopped,
            "exit_code": EXIT_STOPPED if stopped else 0,
        }
    finally:
        ledger.close()
    _show(report, since, progress)
    return report


def _show(report: dict[str, Any], since: str | None, progress: Progress) -> None:
    progress.say(f"target {report['target']}: {len(report['runs'])} runs"
                 + (f" since {since}" if since else ""))
    for run in report["runs"]:
        ended = f"exit {run['exit_code']}" if run["finished_at"] else "did not finish (killed?)"
        progress.say(f"  run {run['id']} {run['command']} {run['started_at'][:19]}: {ended}"
                     + (f" ({run['note']})" if run.get("note") else ""))
    rows = ", ".join(f"{n} {s}" for s, n in sorted(report["rows"].items())) or "none"
    progress.say(f"rows (each file as its last run left it): {rows}")
    counts = ", ".join(f"{n} {s}" for s, n in sorted(report["line_items"].items())) or "none"
    progress.say(f"line items at Tango's side: {counts}")
    progress.say(f"orders not yet final: {len(report['unfinished_orders'])}; "
                 f"batches whose outcome is unknown: {len(report['sending'])}")
    if report["stopped"]:
        progress.say(f"stopped: {report['stopped']}")
