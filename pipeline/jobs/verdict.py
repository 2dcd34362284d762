"""A file's verdict before anything is sent, the one ``run`` acts on and ``validate`` previews:
which valid rows go to Tango, and why the others do not.

The order is the run's: the ledger first (a row Tango already has is DUPLICATE; a repeat of a row
of this run shares its fate), then the recipient guard (HELD), then the catalog (INVALID, checked
only for the rows still to send). ``validate`` calls this with the ledger opened read-only and
nothing sent, so that its report says what ``run`` would do, row by row.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.config import Campaign
from pipeline.ledger import Ledger
from pipeline.stages.check import Checked
from pipeline.stages.dedupe import FilePlan, Seen, plan_file
from pipeline.stages.guard import guard
from pipeline.stages.preflight import Catalog, catalog_check
from rules import RuleBook

__all__ = ["decide"]


def decide(checked: Checked, ledger: Ledger, campaign: Campaign, book: RuleBook, seen: Seen,
           catalog: Callable[[], Catalog | None]) -> FilePlan:
    """The file's plan: line-item IDs, the rows to send, and a decision for each row not sent.

    ``seen``: the rows of this run's earlier files (see ``plan_file``). ``catalog`` is asked only when
    rows are left to send; None when it cannot be had (the run has stopped, or validate is offline).
    """
    sheet = checked.sheet
    plan = plan_file(checked.validated.frame, sheet.sha256, sheet.name, campaign, book, ledger, seen)
    plan.sending, held = guard(plan.sending, ledger, campaign.campaign, campaign.recipient_guard, sheet.labels(book))
    plan.decisions.update(held)
    found = catalog() if len(plan.sending) else None
    if found is not None:
        plan.sending, refused = catalog_check(plan.sending, found)
        plan.decisions.update(refused)
    return plan
