"""The recipient guard: a reward its recipient already has is not sent again under another name.

A row without a Reference whose recipient (any of ``model.recipient_keys``) already has a line item Tango
accepted (SUBMITTED or COMPLETE) for the same reward (UTID), in the same campaign (no campaign is
a campaign of its own), whatever the amount, from any file and any run, under another line-item
ID (a typo corrected, an amount changed), is HELD: not sent, with what differs and the way out.
The window is the campaign's ``recipient_guard``: the whole campaign (the default), a number of
days, or off. Bulk lines have no recipient and are not guarded: identical ones need References.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

import polars as pl

from pipeline.ledger import Ledger, OrderedTo
from pipeline.model import Decision, RunRule, Severity, Status
from pipeline.stages.plan import LineItem, Lines

__all__ = ["guard", "hold_repeats"]

# the cells compared, and how they are named when a sheet has no column for them
COMPARED = ("firstName", "lastName", "email", "mobileNumber", "streetLine1", "postalCode", "amount", "quantity")


def _same(field: str, before: str | None, now: str | None) -> bool:
    if field in ("amount", "quantity"):         # 50 and 50.00 are the same amount; no quantity is 1
        empty = "1" if field == "quantity" else "0"
        try:
            return Decimal(before or empty) == Decimal(now or empty)
        except InvalidOperation:
            return before == now
    return " ".join((before or "").split()).casefold() == " ".join((now or "").split()).casefold()


def _differences(before: Mapping[str, str | None], now: Mapping[str, str | None], labels: Mapping[str, str]) -> str:
    said = [f"{labels.get(f, f)} was '{before.get(f) or ''}', now '{now.get(f) or ''}'"
            for f in COMPARED if not _same(f, before.get(f), now.get(f))]
    return "; ".join(said) if said else "the same reward"


def _within(earlier: OrderedTo, window: str | int, now: dt.datetime) -> bool:
    """Whether the earlier reward falls in the window: the whole campaign, or the last N days."""
    if isinstance(window, str) or earlier.accepted_at is None:
        return True
    return now - dt.datetime.fromisoformat(earlier.accepted_at) <= dt.timedelta(days=window)


def _message(item: LineItem, earlier: OrderedTo, campaign: str | None, labels: Mapping[str, str]) -> str:
    where = f"{earlier.file or 'an earlier file'}" + (f", sheet '{earlier.sheet}'" if earlier.sheet else "") + \
        (f", row {earlier.row}" if earlier.row else "")
    when = f" on {earlier.accepted_at[:10]}" if earlier.accepted_at else ""
    differs = _differences(earlier.details, item.details, labels)
    return (f"Held, not sent: this recipient already has reward {item.utid} in campaign "
            f"{campaign or '(none)'}: {where} (run {earlier.run}{when}, order {earlier.order}, "
            f"{earlier.status}). {differs[:1].upper()}{differs[1:]}. If this row "
            "corrects that one, nothing more is needed; to send a second reward on purpose, give this row its own "
            "Reference.")


def hold_repeats(items: list[LineItem], earlier: list[OrderedTo], campaign: str | None, window: str | int,
                 labels: Mapping[str, str], now: dt.datetime) -> tuple[list[LineItem], dict[int, Decision]]:
    """The items to send, and a HELD decision for those whose recipient already has the reward."""
    if window == "off":
        return items, {}
    by_recipient: dict[str, list[OrderedTo]] = {}
    for e in earlier:
        by_recipient.setdefault(e.recipient, []).append(e)
    keep: list[LineItem] = []
    held: dict[int, Decision] = {}
    for item in items:
        repeats = [] if item.referenced else [
            e for key in dict.fromkeys(item.recipients) for e in by_recipient.get(key, ()) if e.line_item_id != item.id
            and e.utid.upper() == item.utid.upper() and e.campaign == campaign and _within(e, window, now)]
        if not repeats:
            keep.append(item)
            continue
        # the latest run's; of several a run ordered, the first by its row (not by the ledger's storage order)
        latest = min(repeats, key=lambda e: (-(e.run or 0), e.file or "", e.sheet or "", e.row or 0))
        held[item.idx] = Decision(RunRule.HELD, Severity.ERROR, _message(item, latest, campaign, labels), Status.HELD)
    return keep, held


def guard(lines: Lines, ledger: Ledger, campaign: str | None, window: str | int,
          labels: Mapping[str, str]) -> tuple[Lines, dict[int, Decision]]:
    """``hold_repeats`` with what the ledger knows of these lines' recipients: the lines to send, and
    why the others are held. Only the lines of a recipient the ledger knows are looked at one by one."""
    if window == "off" or not len(lines):
        return lines, {}
    keys = lines.recipient_keys()
    recipients = keys.get_column("key").unique()      # as a column: the ledger matches it with what it holds
    earlier = ledger.ordered_to(recipients) if len(recipients) else []
    if not earlier:
        return lines, {}
    known = pl.Series([e.recipient for e in earlier], dtype=pl.String)
    looked_at = lines.only(keys.filter(pl.col("key").is_in(known.implode())).get_column("at").unique())
    _, held = hold_repeats(looked_at.items(), earlier, campaign, window, labels, dt.datetime.now(dt.UTC))
    return lines.without(held), held
