"""The ledger's own care: an older ledger found under ``--output`` is merged into the customer's,
a ledger is checked against what Tango holds before it sends, and ``ledger rebuild`` reads back
what Tango holds that the ledger does not know.

A ledger that starts empty (a new machine, a lost file) would otherwise send again every reward
Tango already has under another batch. So before a run sends, Tango's order list of the account
(``GET /asyncOrders``, paged) is read from the last check on (all of it the first time); an order
this tool placed (its externalRefID's shape) that the ledger does not know stops the run before
anything is sent. Tango's list shows processed orders only: an order still being processed on
another machine is not seen yet, so the check runs again on every run that sends.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pipeline.config import RunSettings, StatusSettings
from pipeline.errors import Stop, TangoError, UsageError
from pipeline.ledger import Ledger
from pipeline.ledger.merge import merge
from pipeline.model import Status, recipient_of
from pipeline.progress import Progress
from pipeline.stages.follow import Follower
from pipeline.stages.plan import OWN_ORDER
from pipeline.state import OLD_LEDGER_NAME
from pipeline.tango import TangoClient
from pipeline.tango.connect import SIMULATOR_STATE

__all__ = ["adopt_old_ledger", "check_against_tango", "merge_into", "rebuild"]

MARGIN = dt.timedelta(days=2)        # orders processed late are listed by when they were created


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def merge_into(settings: StatusSettings, others: list[Path], progress: Progress) -> None:
    """Merge other ledgers into this one; each merged file is renamed, so it is never merged twice."""
    ledger = Ledger(settings.ledger, settings.target.namespace)
    try:
        for other in others:
            if not other.is_file():
                raise UsageError(f"{other}: no such ledger file")
            merged = merge(ledger, other)
            kept = other.with_name(f"{other.name}.merged-{_now():%Y%m%d-%H%M%S}")
            other.rename(kept)
            progress.say(f"merged the ledger found at {other} ({merged.runs} runs, {merged.line_items} line items, "
                         f"{merged.batches} orders) into {settings.ledger}; the old file is kept as {kept}")
    finally:
        ledger.close()


def adopt_old_ledger(settings: StatusSettings, progress: Progress) -> None:
    """A ledger an older version kept under ``--output`` is merged into this one, never abandoned;
    the simulator's state there moves beside the ledger it serves."""
    old = settings.output / OLD_LEDGER_NAME
    if old.is_file() and (not isinstance(settings.ledger, Path) or old.resolve() != settings.ledger.resolve()):
        merge_into(settings, [old], progress)
    old_state, state = settings.output / SIMULATOR_STATE, settings.beside_ledger(SIMULATOR_STATE)
    if settings.target.simulated and old_state.is_file() and not state.exists():
        state.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(old_state, state)
        progress.say(f"moved the built-in simulator's state from {old_state} to {state}, beside its ledger")


def _own_orders(client: TangoClient, customer: str, account: str, since: dt.datetime | None) -> list[str]:
    filters = {"startDate": since.isoformat(timespec="seconds").replace("+00:00", "Z")} if since else {}
    return [str(o.get("externalRefID")) for o in client.list_orders(customer, account, filters=filters)
            if OWN_ORDER.match(str(o.get("externalRefID") or ""))]


def check_against_tango(client: TangoClient, ledger: Ledger, settings: RunSettings) -> None:
    """Stop before sending (``Stop``, exit 3) if Tango holds orders of this tool the ledger does not
    know, in any account the campaign may order from."""
    for account in settings.campaign.account_identifiers:
        _check_account(client, ledger, settings, account)


def _check_account(client: TangoClient, ledger: Ledger, settings: RunSettings, account: str) -> None:
    customer = settings.campaign.customerIdentifier
    last = ledger.last_check(customer, account)
    started = _now()
    try:
        refs = _own_orders(client, customer, account, dt.datetime.fromisoformat(last) - MARGIN if last else None)
    except TangoError as exc:
        raise Stop(f"could not read Tango's order list to check the ledger against it: {exc}") from None
    unknown = [ref for ref in refs if ledger.batch(ref) is None]
    if unknown:
        raise Stop(f"Tango holds {len(unknown)} orders placed by tango-batch that the ledger at {settings.ledger} "
                   "does not know (a new machine, or a ledger moved or lost?). Nothing was sent. Read them into "
                   f"the ledger with 'tango-batch ledger rebuild --config {settings.campaign.path or 'FILE'}', "
                   "then run again: the rewards Tango has are then never sent twice")
    ledger.record_check(customer, account, started.isoformat())


@dataclass(frozen=True)
class Rebuilt:
    orders: int             # orders of this tool Tango listed
    read: int               # of them, read back into the ledger
    line_items: int


@dataclass(frozen=True)
class _Line:
    """A line item as Tango's order detail shows it: who it was for is not known here."""
    id: str
    amount: Decimal
    quantity: int
    delivery_method: str
    utid: str
    recipient: str | None = None
    details: dict[str, str | None] = field(default_factory=dict)


def _line(li: dict[str, Any]) -> _Line:
    """A line of the order's detail; who it was for, as far as the detail says (its recipient)."""
    recipient = li.get("recipient") or {}
    address = recipient.get("address") or {}
    cells: dict[str, str | None] = {
        "firstName": recipient.get("firstName"), "lastName": recipient.get("lastName"),
        "email": recipient.get("email"), "mobileNumber": recipient.get("mobileNumber"),
        "streetLine1": address.get("streetLine1"), "postalCode": address.get("postalCode"),
        "utid": li.get("utid"), "amount": str(li.get("amount")), "quantity": str(li.get("quantity") or 1),
        "deliveryMethod": li.get("deliveryMethod")}
    return _Line(str(li["externalRefLineItemID"]), Decimal(str(li.get("amount") or 0)), int(li.get("quantity") or 1),
                 str(li.get("deliveryMethod") or ""), str(li.get("utid") or ""), recipient_of(cells), cells)


def _lines(detail: dict[str, Any]) -> list[_Line]:
    return [_line(li) for li in detail.get("lineItems") or [] if li.get("externalRefLineItemID")]


def rebuild(client: TangoClient, ledger: Ledger, settings: RunSettings, progress: Progress,
            since: dt.date | None = None) -> Rebuilt:
    """Read back every order of this tool Tango lists for the campaign's accounts (since a day) that
    the ledger does not know whole: the order, its members and each line's status."""
    run_id = ledger.start_run("ledger rebuild")
    found = [_rebuild_account(client, ledger, settings, progress, since, run_id, account)
             for account in settings.campaign.account_identifiers]
    read = sum(f.read for f in found)
    ledger.finish_run(run_id, 0, f"{read} orders read back from Tango")
    return Rebuilt(sum(f.orders for f in found), read, sum(f.line_items for f in found))


def _rebuild_account(client: TangoClient, ledger: Ledger, settings: RunSettings, progress: Progress,
                     since: dt.date | None, run_id: int, account: str) -> Rebuilt:
    customer = settings.campaign.customerIdentifier
    started = _now()
    since_time = dt.datetime.combine(since, dt.time(), dt.UTC) if since else None
    refs = _own_orders(client, customer, account, since_time)
    follower = Follower(client, ledger, run_id, physical=settings.book.groups["shipped"], say=progress.say)
    read = lines = 0
    for ref in refs:
        known = ledger.batch(ref)
        if known is not None and known.final:
            continue
        detail = client.get_order(customer, account, ref)
        if detail is None:
            continue
        members = _lines(detail)
        ledger.add_pending(run_id, members, detail.get("campaign") or None)
        payload = {"externalRefID": ref, "customerIdentifier": customer, "accountIdentifier": account,
                   "rebuiltFrom": "GET /asyncOrders"}
        ledger.begin_batch(run_id, ref, f"rebuilt:{ref}", 0, payload, [m.id for m in members])
        follower.adopt(ref, [m.id for m in members], detail, (Status.SENDING,))
        read, lines = read + 1, lines + len(members)
        progress.say(f"order {ref}: read back into the ledger ({len(members)} line items)")
    if since is None:
        ledger.record_check(customer, account, started.isoformat())
    return Rebuilt(len(refs), read, lines)
