"""``tango-batch status``: settle what earlier runs left unfinished, then say what the ledger holds.

Batches left ``sending`` are reconciled with Tango, accepted orders not yet final are followed
(one pass, or up to ``--wait`` seconds), the reports of files whose rows changed are written
again, and the ledger's contents are printed: runs (since a date), line items per status, orders
not yet final, batches whose outcome is still unknown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.config import StatusSettings
from pipeline.errors import Stop
from pipeline.jobs.reports import rewrite_after
from pipeline.ledger import Ledger
from pipeline.model import BatchState, ExitCode
from pipeline.progress import Progress
from pipeline.stages.submit import Submitter
from pipeline.tango import TangoClient
from pipeline.tango.connect import client_for

__all__ = ["status"]


def _settle(ledger: Ledger, settings: StatusSettings, progress: Progress, client: TangoClient | None) -> str | None:
    """Reconcile and follow; the files whose orders moved get their report again."""
    run_id = ledger.start_run("status")
    unfinished = {b.external_ref_id for b in ledger.batches(unfinished=True)}
    unfinished |= {b.external_ref_id for b in ledger.batches(states=[BatchState.SENDING])}
    own_client = client is None
    client = client or client_for(settings, ledger, run_id)
    stopped = None
    try:
        submitter = Submitter(client, ledger, run_id, say=progress.say, physical=settings.book.groups["shipped"])
        try:
            submitter.reconcile()
            submitter.follower.follow(settings.wait)
            unfinished |= submitter.follower.follow_deliveries(settings.delivery_days)
        except Stop as exc:
            stopped = str(exc)
    finally:
        if own_client:
            client.close()
    rewrite_after(ledger, unfinished, settings, progress)
    ledger.finish_run(run_id, ExitCode.STOPPED if stopped else ExitCode.OK, stopped)
    return stopped


def status(settings: StatusSettings, progress: Progress, since: str | None = None,
           settle: bool = True, client: TangoClient | None = None) -> dict[str, Any]:
    """``settle=False`` (another run holds the lock): only read the ledger, ask Tango nothing."""
    target = settings.target
    if isinstance(settings.ledger, Path) and not settings.ledger.exists():
        progress.say(f"no ledger at {settings.ledger}: nothing has been run yet")
        return {"target": target.namespace, "runs": [], "rows": {}, "line_items": {}, "unfinished_orders": [],
                "sending": [], "exit_code": ExitCode.OK}
    ledger = Ledger(settings.ledger, target.namespace)
    try:
        stopped = _settle(ledger, settings, progress, client) if settle else None
        if not settle:
            progress.say("a run is in progress: the ledger as it stands, without asking Tango")
        runs = [{k: r[k] for k in ("id", "command", "started_at", "finished_at", "exit_code", "note")}
                for r in ledger.runs_since(since) if r["command"] != "status"]
        files = ledger.run_files(r["id"] for r in runs)
        report = {
            "target": target.namespace,
            "rows": ledger.row_counts(),
            "runs": [{**r, "files": files.get(r["id"], [])} for r in runs],
            "line_items": ledger.counts(),
            "unfinished_orders": [b.external_ref_id for b in ledger.batches(unfinished=True)],
            "sending": [b.external_ref_id for b in ledger.batches(states=[BatchState.SENDING])],
            "stopped": stopped,
            "exit_code": ExitCode.STOPPED if stopped else ExitCode.OK,
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
        for file in run.get("files", []):
            counts = ", ".join(f"{n} {s}" for s, n in sorted(file["status_counts"].items()))
            progress.say(f"    {file['file']}: {file['rows']} rows: {counts}")
    rows = ", ".join(f"{n} {s}" for s, n in sorted(report["rows"].items())) or "none"
    progress.say(f"rows, each by its outcome now (a reward delivered by an earlier run is delivered): {rows}")
    counts = ", ".join(f"{n} {s}" for s, n in sorted(report["line_items"].items())) or "none"
    progress.say(f"line items at Tango's side: {counts}")
    progress.say(f"orders not yet final: {len(report['unfinished_orders'])}; "
                 f"batches whose outcome is unknown: {len(report['sending'])}")
    if report["stopped"]:
        progress.say(f"stopped: {report['stopped']}")
