"""Pre-flight: what Tango would refuse is caught before anything is sent.

- The catalog (``GET /catalogs``, cached for 12 hours as Tango asks): every row's UTID exists, is
  active, and its amount fits the item (a fixed item's face value, a variable item's min/max,
  whole dollars when the item requires them). A row that does not fit becomes INVALID.
- The accounts (``GET /accounts/{id}``): each account the rows about to be sent order from (their
  Account cells, else the campaign's) exists, is ACTIVE, and its balance covers the total of its own
  rows. Otherwise the run stops before any POST, naming the account (and the names the campaign
  file gives it) and saying by how much it is short.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from pipeline.errors import Rejected, Shortfall, Stop, TangoError
from pipeline.model import IDX, Decision, RunRule, Severity, Status
from pipeline.stages.plan import LineItem, Lines
from pipeline.state import Where, beside

if TYPE_CHECKING:     # httpx: not imported by validate when the catalog is cached
    from pipeline.tango import TangoClient

__all__ = ["CATALOG_TTL", "Catalog", "cache_path", "cached_catalog", "catalog_check", "check_account", "check_accounts",
           "load_catalog"]

CATALOG_TTL = 12 * 3600


def _money(value: Any) -> str:
    return f"${Decimal(str(value)):,.2f}"


class Catalog:
    """UTID -> catalog item, and the one question asked of it: does this amount fit?"""

    def __init__(self, data: dict[str, Any], fetched_at: float | None = None) -> None:
        self.fetched_at = fetched_at            # when it was read from Tango (epoch seconds)
        self.items: dict[str, dict[str, Any]] = {}
        for brand in data.get("brands") or []:
            for item in brand.get("items") or []:
                if item.get("utid"):
                    self.items[str(item["utid"]).upper()] = item

    def problem(self, utid: str, amount: str) -> tuple[str, str] | None:
        """(field, why) when ``amount`` of ``utid`` cannot be ordered, in words for HR; else None."""
        item = self.items.get(utid.upper())
        if item is None:
            return "utid", f"UTID {utid} is not in this account's Tango catalog: check the reward ID."
        name = item.get("rewardName") or utid
        if str(item.get("status", "active")).lower() != "active":
            return "utid", f"Reward {utid} ({name}) is not active in the Tango catalog: choose another reward."
        try:
            value = Decimal(amount)
        except InvalidOperation:
            return None                      # the amount rule has already said so
        if str(item.get("valueType", "")).upper() == "FIXED_VALUE" and item.get("faceValue") is not None:
            face = Decimal(str(item["faceValue"]))
            if value != face:
                return "amount", (f"Amount {amount} does not fit reward {utid} ({name}): it has a fixed "
                                  f"value of {_money(face)}. Write {face.normalize():f}.")
        low, high = item.get("minValue"), item.get("maxValue")
        if (low is not None and value < Decimal(str(low))) or (high is not None and value > Decimal(str(high))):
            return "amount", (f"Amount {amount} is outside the range of reward {utid} ({name}): "
                              f"{_money(low or 0)} to {_money(high or 0)}.")
        if item.get("isWholeAmountValueRequired") and value != value.to_integral_value():
            return "amount", f"Reward {utid} ({name}) takes whole dollar amounts only; got {amount}."
        return None


def catalog_check(lines: Lines, catalog: Catalog) -> tuple[Lines, dict[int, Decision]]:
    """The lines whose reward fits the catalog, and an INVALID decision, with the reason, for the others.

    Only rows about to be sent are checked: a row already ordered keeps its status whatever the
    catalog says now. Each reward and amount is looked up once, however many rows have it.
    """
    pairs = pl.DataFrame({IDX: lines.rows, "utid": lines.column("utid"), "amount": lines.column("amount")})
    said: list[Decision] = []
    bad: list[tuple[str, str, int]] = []        # (utid, amount, its decision in ``said``)
    for utid, amount in pairs.select("utid", "amount").unique().iter_rows():
        verdict = catalog.problem(str(utid), str(Decimal(amount)))
        if verdict is not None:
            column, why = verdict
            rule = RunRule.CATALOG_UTID if column == "utid" else RunRule.CATALOG_AMOUNT
            bad.append((utid, amount, len(said)))
            said.append(Decision(rule, Severity.ERROR, why, Status.INVALID, column))
    refused: dict[int, Decision] = {}
    if said:
        refusals = pl.DataFrame(bad, schema={"utid": pl.String, "amount": pl.String, "said": pl.Int64}, orient="row")
        found = pairs.join(refusals, on=["utid", "amount"], nulls_equal=True)
        refused = {idx: said[n] for idx, n in found.select(IDX, "said").sort(IDX).iter_rows()}
    return lines.without(refused), refused


def cache_path(base: Path, namespace: str) -> Path:
    """The cache of one target's catalog: ``<base>-<target>.json``."""
    return base.with_name(f"{base.name}-{re.sub(r'[^A-Za-z0-9]+', '-', namespace).strip('-')}.json")


def cached_catalog(ledger: Where, namespace: str, clock: Callable[[], float] = time.time) -> Catalog | None:
    """The catalog cached beside ``ledger`` when it is younger than 12 hours; else None."""
    path = cache_path(beside(ledger, "catalog"), namespace)
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
        if clock() - float(cached["fetched_at"]) < CATALOG_TTL:
            return Catalog(cached["catalog"], float(cached["fetched_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def load_catalog(client: TangoClient, ledger: Where, namespace: str,
                 clock: Callable[[], float] = time.time) -> Catalog:
    """The catalog, from a cache younger than 12 hours or from Tango (then cached beside ``ledger``)."""
    cached = cached_catalog(ledger, namespace, clock)
    if cached is not None:
        return cached
    path = cache_path(beside(ledger, "catalog"), namespace)
    try:
        data = client.get_catalog()
    except TangoError as exc:
        raise Stop(f"could not read the Tango catalog: {exc}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_text(json.dumps({"fetched_at": clock(), "catalog": data}), encoding="utf-8")
    os.replace(tmp, path)
    return Catalog(data, clock())


def check_account(client: TangoClient, account: str, total: Decimal, names: Sequence[str] = ()) -> dict[str, Any]:
    """Stop before any POST unless the account exists, is ACTIVE and covers ``total``; ``names``:
    the campaign file's names for it (its ``[accounts]`` keys), said with it."""
    said = f"account '{account}'" + (f" ({', '.join(names)})" if names else "")
    try:
        info = client.get_account(account)
    except Rejected as exc:
        where = "[accounts]" if names else "accountIdentifier"
        raise Stop(f"Tango does not know {said} ({exc.status}): check {where} in the campaign file") from None
    except TangoError as exc:
        raise Stop(f"could not check {said}: {exc}") from None
    status = str(info.get("status", "")).upper()
    if status != "ACTIVE":
        raise Stop(f"{said} is {status or 'not active'}: Tango accepts orders only from an ACTIVE account")
    balance = Decimal(str(info.get("currentBalance", 0)))
    if balance < total:
        raise Stop(f"insufficient funds: {said} holds {_money(balance)}, the rows to send from it "
                   f"total {_money(total)}, short by {_money(total - balance)}. Top up the account and "
                   "run again: nothing was sent", can_follow=True,
                   short=Shortfall(account, tuple(names), balance, total))
    return info


def check_accounts(client: TangoClient, items: Iterable[LineItem], default: str,
                   names_of: Callable[[str], Sequence[str]] = lambda account: ()) -> None:
    """Each account ``items`` order from (``default`` for a line that names none) checked against the
    total of its own lines (``check_account``), in accountIdentifier order, all before any POST."""
    totals: dict[str, Decimal] = {}
    for item in items:
        account = item.account or default
        totals[account] = totals.get(account, Decimal(0)) + item.value
    for account in sorted(totals):
        check_account(client, account, totals[account], names_of(account))
