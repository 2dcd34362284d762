"""Who may approve a file, and what an approval lets the night send: the rules of the HR desk, kept
in one place (the web page asks here before it records a decision; ``jobs.approvals`` before the
night sends).

- Approvers and admins decide; uploaders do not. A disabled user does nothing.
- Nobody approves a file they uploaded (``approvals = "two-person"``, the default); a one-person team
  turns this off with ``approvals = "single"``, and every page then says so.
- A file whose total is over the campaign's ``max_run_amount`` needs an admin's approval; an
  admin-approved file is then sent although it is over that limit (the approval is the override;
  ``run`` from the command line still stops).
- The night sends a file only as approved: the same content (its SHA-256: a file changed after
  approval is another file) and no more lines and no larger total than were approved.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.config import Campaign
    from pipeline.ledger.desk import UserRecord

__all__ = ["DECIDERS", "over_limit", "single", "why_not"]

DECIDERS = ("approver", "admin")


def single(campaign: Campaign) -> bool:
    """A one-person team: the uploader may approve their own file."""
    return campaign.approvals == "single"


def over_limit(total: Decimal, campaign: Campaign) -> bool:
    return campaign.max_run_amount is not None and total > campaign.max_run_amount


def why_not(user: UserRecord, uploader: str | None, total: Decimal, campaign: Campaign) -> str | None:
    """Why ``user`` may not approve (or reject) a file uploaded by ``uploader`` (None: it came through
    the inbox folder) whose rows to send total ``total``; None when they may."""
    if user.disabled:
        return "this user is disabled"
    if user.role not in DECIDERS:
        return "only approvers and admins approve or reject files"
    if uploader == user.name and not single(campaign):
        return ("nobody approves a file they uploaded: another approver must (a one-person team can set "
                'approvals = "single" in the campaign file)')
    if over_limit(total, campaign) and user.role != "admin":
        return (f"its total ${total:,.2f} is over the campaign's max_run_amount of ${campaign.max_run_amount:,.2f}: "
                "it needs an admin's approval")
    return None
