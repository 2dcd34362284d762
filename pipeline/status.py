"""``tango-batch status``: settle what earlier runs left unfinished, then say what the ledger holds.

Batches left ``sending`` are reconciled with Tango, accepted orders not yet final are followed
(one pass, or up to ``--wait`` seconds), and the counts are printed: runs, line items per status,
orders not yet final, batches still ``sending``.
"""

from __future__ import annotations

from typing import Any

from pipeline.config import Settings
from pipeline.ledger import B_SENDING, Ledger
from pipeline.progress import Progress
from pipeline.run import EXIT_STOPPED, make_client
from pipeline.submit import Stop, Submitter

__all__ = ["status"]


def status(settings: Settings, progress: Progress) -> dict[str, Any]:
    assert settings.target is not None
    target = settings.target
    if not settings.ledger.exists():
        progress.say(f"no ledger at {settings.ledger}: nothing has been run yet")
        return {"target": target.namespace, "runs": 0, "line_items": {}, "unfinished_orders": 0,
                "sending": 0, "exit_code": 0}
    ledger = Ledger(settings.ledger, target.namespace)
    code, stopped = 0, None
    try:
        run_id = ledger.start_run("status")
        client = make_client(target, settings, ledger, run_id)
        try:
            submitter = Submitter(client, ledger, run_id, say=progress.say)
            try:
                submitter.reconcile()
                submitter.follow(settings.wait)
            except Stop as exc:
                stopped, code = str(exc), EXIT_STOPPED
        finally:
            client.close()
        ledger.finish_run(run_id, code, stopped)
        report = {
            "target": target.namespace,
            "runs": ledger.db.execute("SELECT COUNT(*) FROM runs WHERE target = ? AND command = 'run'",
                                      (target.namespace,)).fetchone()[0],
            "line_items": ledger.counts(),
            "unfinished_orders": len(ledger.batches(unfinished=True)),
            "sending": len(ledger.batches(states=[B_SENDING])),
            "stopped": stopped,
            "exit_code": code,
        }
    finally:
        ledger.close()
    progress.say(f"target {report['target']}: {report['runs']} runs; line items: "
                 + (", ".join(f"{n} {s}" for s, n in sorted(report["line_items"].items())) or "none"))
    progress.say(f"orders not yet final: {report['unfinished_orders']}; "
                 f"batches with an unknown outcome: {report['sending']}")
    if stopped:
        progress.say(f"stopped: {stopped}")
    return report
