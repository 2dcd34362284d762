"""The account page: each of the campaign's Tango accounts, its balance and status (from Tango,
through the pipeline's client), the age of the catalog cached beside the ledger, and the outcome of
the last nightly run."""

from __future__ import annotations

import datetime as dt
import threading
import time
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


# what Tango said of each account, and when: read again after BALANCE_SECONDS. Tango's pace is one call
# a second for the whole platform: without it, two people opening the page at once would wait on each other
BALANCE_SECONDS = 30.0
_read: dict[tuple[str, str, str], tuple[float, dict[str, Any]]] = {}      # (ledger, target, account)
_reading = threading.Lock()


def _accounts(desk: Desk) -> list[dict[str, Any]]:
    from pipeline.state import beside
    from pipeline.tango.connect import SIMULATOR_STATE, connect
    settings = desk.settings
    key = (str(settings.ledger), settings.target.namespace)
    with _reading:
        now = time.monotonic()
        wanted = [a for a in settings.campaign.account_identifiers
                  if now - _read.get((*key, a), (-BALANCE_SECONDS, {}))[0] >= BALANCE_SECONDS]
        if wanted:
            client = settings.client() if settings.client is not None else connect(
                settings.target, simulator_state=beside(settings.ledger, SIMULATOR_STATE), rate=settings.rate)
            try:
                for account in wanted:
                    _read[(*key, account)] = (time.monotonic(), _one(client, account))
            finally:
                client.close()
        return [_read[(*key, a)][1] for a in settings.campaign.account_identifiers]


def _one(client: Any, account: str) -> dict[str, Any]:
    at = dt.datetime.now(dt.UTC).strftime("%H:%M:%S UTC")
    try:
        info = client.get_account(account)
        return {"account": account, "status": info.get("status"), "balance": info.get("currentBalance"),
                "currency": info.get("currencyCode") or "USD", "error": None, "at": at}
    except TangoError as exc:
        return {"account": account, "status": None, "balance": None, "currency": "", "error": str(exc), "at": at}


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
