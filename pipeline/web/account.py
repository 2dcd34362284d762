"""The account page: each of the campaign's Tango accounts, its balance and status (from Tango,
through the pipeline's client), the age of the catalog cached beside the ledger, and the outcome of
the last nightly run."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pipeline.errors import TangoError
from pipeline.ledger import Ledger
from pipeline.model import ExitCode
from pipeline.stages.preflight import cached_catalog
from pipeline.web.guard import who
from pipeline.web.runtime import Desk, desk_of

__all__ = ["router"]

router = APIRouter()
OUTCOMES = {ExitCode.OK: "every row fine", ExitCode.ROWS_TO_FIX: "some rows to fix",
            ExitCode.UNREADABLE: "a file could not be read", ExitCode.STOPPED: "stopped early",
            ExitCode.LOCKED: "another run held the ledger"}


def _accounts(desk: Desk) -> list[dict[str, Any]]:
    from pipeline.state import beside
    from pipeline.tango.connect import SIMULATOR_STATE, connect
    settings = desk.settings
    client = settings.client() if settings.client is not None else connect(
        settings.target, simulator_state=beside(settings.ledger, SIMULATOR_STATE), rate=settings.rate)
    out = []
    try:
        for account in settings.campaign.account_identifiers:
            try:
                info = client.get_account(account)
                out.append({"account": account, "status": info.get("status"), "balance": info.get("currentBalance"),
                            "currency": info.get("currencyCode") or "USD", "error": None})
            except TangoError as exc:
                out.append({"account": account, "status": None, "balance": None, "currency": "", "error": str(exc)})
    finally:
        client.close()
    return out


def _last_night(ledger: Ledger) -> dict[str, Any] | None:
    nights = [r for r in ledger.runs_since(None) if r["command"] == "nightly"]
    if not nights:
        return None
    run = nights[-1]
    code = run["exit_code"]
    outcome = "did not finish (killed?)" if code is None else OUTCOMES.get(code, f"exit {code}")
    return {**run, "outcome": outcome}


@router.get("/account")
def account_page(request: Request) -> Response:
    desk = desk_of(request)
    with desk.ledger() as ledger:
        user = who(request, ledger, desk.settings)
        night = _last_night(ledger)
    catalog = cached_catalog(desk.settings.ledger, desk.settings.target.namespace)
    age = None
    if catalog is not None and catalog.fetched_at:
        fetched = dt.datetime.fromtimestamp(catalog.fetched_at, dt.UTC)
        age = {"at": fetched.strftime("%Y-%m-%d %H:%M UTC"),
               "hours": (dt.datetime.now(dt.UTC) - fetched).total_seconds() / 3600, "items": len(catalog.items)}
    return desk.page(request, "account.html", user=user, accounts=_accounts(desk), catalog=age, night=night,
                     target=desk.settings.target.describe())
