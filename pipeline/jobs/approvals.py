"""What a run may send, as the HR desk decided (see ``pipeline.approvals``), and each file's history
as the run makes it: run by hand (an operator's explicit act, recorded as such) or by the night,
and done.

``nightly`` with ``require_approval = true`` sends a file only when it was approved, and only as
approved: a file whose lines to send tonight are more, or total more, than the approval said is
held, with the reason. ``run`` by hand sends what it is given, as before; the history says who ran
it. With ``require_approval = false`` the night, too, sends everything, as before.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from pipeline.config import RunSettings
from pipeline.ledger import Ledger
from pipeline.masking import shown
from pipeline.model import AT_TANGO, Status

__all__ = ["actor", "gate", "record_done", "record_sent"]


def actor(settings: RunSettings) -> str:
    """Who sends: the night, or the person at the command line (and where)."""
    if settings.by == "nightly":
        return "nightly"
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "someone"
    return f"{user} on {socket.gethostname()} (tango-batch run, by hand)"


def gate(ledger: Ledger, works: Sequence[tuple[str, str, Sequence[Any]]], settings: RunSettings,
         say: Callable[[str], None], run_id: int) -> tuple[set[str], Decimal]:
    """Of ``works`` ((sha256, name, line items) of each file), the files this run may send, and their
    total that counts against ``max_run_amount`` (an admin's approval over that limit is its
    override). Each file sent gets its history line."""
    obey = settings.by == "nightly" and settings.campaign.require_approval
    allowed: set[str] = set()
    capped = Decimal(0)
    for sha256, name, items in works:
        if not items:
            continue
        total, lines = sum((i.value for i in items), Decimal(0)), len(items)
        if obey:
            decision = ledger.decision(sha256)
            if decision is None or decision.decision != "approved":
                say(f"{shown(name)}: waiting for approval; nothing of it was sent")
                continue
            if total > decision.total or lines > decision.line_count:
                why = (f"{lines:,} lines for ${total:,.2f} to send, more than approved ({decision.line_count:,} lines "
                       f"for ${decision.total:,.2f}): nothing of it was sent; it needs approval again")
                say(f"{shown(name)}: {why}")
                ledger.file_event(sha256, "held", "nightly", {"why": why, "lines": lines, "total": str(total)})
                continue
            capped += Decimal(0) if decision.over_limit else total
        else:
            capped += total
        allowed.add(sha256)
    return allowed, capped


def record_sent(ledger: Ledger, files: dict[str, Sequence[Any]], settings: RunSettings, run_id: int) -> None:
    """Each file's "sent", once its orders went out: the lines of it Tango has or may have (accepted,
    or in flight) after this run's sending, whether it ended or stopped; nothing for a file none of
    whose lines went (a run stopped before sending: funds, max_run_amount, the ledger's check)."""
    if settings.dry_run:
        return
    lines = ledger.lines({i.id for items in files.values() for i in items})
    gone = AT_TANGO | {Status.SENDING}
    for sha256, items in files.items():
        went = [i for i in items if (r := lines.get(i.id)) is not None and r.status in gone]
        if went:
            ledger.file_event(sha256, "sent", actor(settings), {"lines": len(went), "run": run_id,
                                                               "total": str(sum((i.value for i in went), Decimal(0)))})


def record_done(ledger: Ledger, sha256: str, was_done: bool, now_done: bool) -> None:
    if now_done and not was_done:
        ledger.file_event(sha256, "done", None)
