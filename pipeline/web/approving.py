"""Approvals: the files waiting for a decision, and the decision itself. Who may decide is
``pipeline.approvals.why_not``'s to say (never one's own upload unless ``approvals = "single"``; an
admin over ``max_run_amount``); what is approved is the total and the lines the check found to send,
which the nightly job will not exceed."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from pipeline.approvals import DECIDERS, over_limit, why_not
from pipeline.ledger.desk import Decision
from pipeline.web.guard import Refused, check_csrf, who
from pipeline.web.records import file_view, waiting_files
from pipeline.web.runtime import desk_of

__all__ = ["router"]

router = APIRouter()
REASON_CHARS = 1000


@router.get("/approvals")
def approvals_page(request: Request) -> Response:
    desk = desk_of(request)
    with desk.ledger() as ledger:
        user = who(request, ledger, desk.settings, DECIDERS)
        undecided, approved = waiting_files(ledger)
    campaign = desk.settings.campaign
    why = {v.sha256: why_not(user, v.uploader, v.total, campaign) for v in undecided}
    return desk.page(request, "approvals.html", user=user, undecided=undecided, approved=approved, why=why,
                     over={v.sha256: over_limit(v.total, campaign) for v in undecided})


@router.post("/approvals/{sha256}")
def decide(request: Request, sha256: str, csrf_token: Annotated[str, Form()] = "",
           decision: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
           lines: Annotated[str, Form()] = "", total: Annotated[str, Form()] = "") -> Response:
    desk = desk_of(request)
    campaign = desk.settings.campaign
    with desk.ledger() as ledger:
        user = who(request, ledger, desk.settings, DECIDERS)
        check_csrf(request, csrf_token)
        if decision not in ("approve", "reject"):
            raise Refused(400, "Approve or reject: nothing else.", "Not decided")
        view = file_view(ledger, sha256)
        if view is None or not view.checkable:
            raise Refused(404, "There is no checked file like that on the desk.", "Not found")
        if not view.waiting:
            by = f" by {view.decision.by_user}" if view.decision else ""
            raise Refused(409, f"This file was decided already{by}, or sent: nothing was changed.", "Already decided")
        why = why_not(user, view.uploader, view.total, campaign)
        if why is not None:
            raise Refused(403, f"You may not decide on this file: {why}.", "Not allowed")
        if (lines, total) != (str(view.lines), str(view.total)):      # what the decider saw is what is decided
            raise Refused(409, f"The file's figures changed since the page showed them: it is now {view.lines:,} "
                          f"lines for ${view.total:,.2f}. Nothing was decided: look again.", "Changed")
        reason = reason.strip()[:REASON_CHARS]
        if decision == "reject" and not reason:
            raise Refused(400, "Say why the file is rejected: the uploader reads the reason.", "A reason is needed")
        approved = decision == "approve"
        made = Decision(sha256, "approved" if approved else "rejected", user.name, user.role,
                        dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), view.total, view.lines,
                        reason or None, approved and over_limit(view.total, campaign))
        if not ledger.decide(made, replacing=view.decision if view.held else None):
            raise Refused(409, "Someone else decided on this file a moment ago: nothing was changed. Look again.",
                          "Already decided")
    word = "approved" if approved else "rejected"
    request.session["flash"] = f"'{view.name}' {word}: {view.lines:,} lines for ${view.total:,.2f}."
    return RedirectResponse("/approvals", status_code=303)
