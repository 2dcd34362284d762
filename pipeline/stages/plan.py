"""Plan: valid rows become Tango line items with deterministic IDs, grouped into batches.

A line item's ``externalRefLineItemID`` is the row's Reference cell when given, otherwise a hash
of what the reward is (customer, account, campaign, recipient identity, utid, amount, quantity,
delivery method) and of its occurrence number among identical rows of the upload. So the same
row gets the same ID in a re-uploaded or partly fixed sheet, whatever the file is called, and a
corrected row gets a new one.

The account a row orders from (its Account cell, else the campaign's ``accountIdentifier``) is
not part of that hash: the campaign's default account is, as it always was, so a row whose Account
cell is corrected after it was ordered keeps its ID and is not ordered twice.

A batch holds the lines of one account only; its ``externalRefID`` is a hash of its order-level
fields (its ``accountIdentifier`` among them), its members and its attempt generation: a batch
resent after an unknown outcome replays the same ID (Tango then answers with the existing order
instead of creating a second one); a batch sent again after a definite failure gets generation + 1,
hence a new ID.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import polars as pl

from pipeline.config import Campaign
from pipeline.model import (
    ADDRESS_FIELDS,
    IDX,
    RECIPIENT_DETAILS,
    ROW,
    SHEET,
    Status,
    recipient_keys_of,
    same_reward,
)
from pipeline.rows import Columns, Picked, RowFields
from rules import ACCOUNT, RuleBook, ShippingForm

_T = TypeVar("_T")

__all__ = ["OWN_ORDER", "Batch", "BatchPlan", "LineItem", "batch_ref", "line_item_ids", "line_items", "member_key",
           "order_fields", "plan_batches"]

RECIPIENT_FIELDS = ("firstName", "lastName", "email", "mobileNumber")
OPTIONAL_FIELDS = ("deliveryDate", "etid", "ptid", "expirationDate", "emailSubject", "message",
                   "lineItemNote")
ID_PREFIX = "L"
BATCH_PREFIX = "B"
# what an order this tool placed looks like at Tango: its externalRefID
OWN_ORDER = re.compile(r"^B[0-9a-f]{40}$")


if TYPE_CHECKING:   # a line item is frozen to the type checker: ``make test`` refuses any assignment to its fields ...
    from typing_extensions import dataclass_transform

    @dataclass_transform(frozen_default=True, field_specifiers=(field,))
    def _line_item(cls: type[_T]) -> type[_T]: ...
else:               # ... but not at run time, where a frozen dataclass's __init__ sets each field with
    def _line_item(cls):     # object.__setattr__: a second more for the items of a million-row file
        return dataclass(slots=True)(cls)


@_line_item
class LineItem:
    """One valid row as Tango will see it.

    Its ``payload`` (the line item of the order's JSON) is made from ``fields`` the first time it
    is asked for: a run sends it, a preview (``validate``) never does and never pays for it. Slots,
    not a dict per item: a million-row file plans 900,000 of them."""
    id: str                       # externalRefLineItemID
    idx: int                      # row position in its sheet's frame
    row: int                      # Excel row number
    amount: Decimal
    quantity: int
    delivery_method: str
    fields: Mapping[str, Any]     # the row's filled values; without a ``book``, the payload itself (made by hand)
    recipient: str | None = None  # who it is for (``model.recipient_of``); None for bulk lines
    referenced: bool = False      # the row has its own Reference: a reward meant on purpose
    details: Mapping[str, str | None] = field(default_factory=dict)   # what the recipient guard compares
    sheet: str = ""               # the sheet it is on ('' for CSV)
    recipient_keys: tuple[str, ...] = ()   # every way the row names its recipient (``model.recipient_keys``)
    account: str | None = None    # the accountIdentifier it is ordered from; None: the order's (the campaign's)
    book: RuleBook | None = field(default=None, compare=False, repr=False)   # how ``fields`` become the payload
    _made: dict[str, Any] | None = field(default=None, init=False, compare=False, repr=False)   # the payload, once made

    @property
    def payload(self) -> dict[str, Any]:
        made = self._made
        if made is None:
            made = dict(self.fields) if self.book is None else _payload(
                self.fields.filled() if isinstance(self.fields, RowFields) else self.fields, self.id, self.book)
            object.__setattr__(self, "_made", made)     # frozen, but made once when first asked
        return made

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every key of its recipient (``recipient_keys``; its ``recipient`` alone where only that is known)."""
        return self.recipient_keys or ((self.recipient,) if self.recipient else ())

    @property
    def utid(self) -> str:
        return str(self.fields["utid"])

    @property
    def value(self) -> Decimal:
        return self.amount * self.quantity


@dataclass(frozen=True)
class Batch:
    """One POST /asyncOrders request."""
    ref: str                      # externalRefID
    member_key: str               # hash of the order fields and the member IDs, generation aside
    generation: int
    order: dict[str, Any]         # order-level fields
    members: tuple[LineItem, ...] = field(default=())

    @property
    def payload(self) -> dict[str, Any]:
        return {"externalRefID": self.ref, **self.order,
                "lineItems": [item.payload for item in self.members]}

    @property
    def value(self) -> Decimal:
        return sum((m.value for m in self.members), Decimal(0))


def _digest(parts: Iterable[str], length: int = 32) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:length]


def order_fields(campaign: Campaign) -> dict[str, Any]:
    """The order-level fields of every batch planned from this campaign file."""
    order: dict[str, Any] = {"customerIdentifier": campaign.customerIdentifier,
                             "accountIdentifier": campaign.accountIdentifier}
    if campaign.sender:
        order["sender"] = dict(campaign.sender)
    for key in ("campaign", "purchaseOrderNumber", "notes"):
        if getattr(campaign, key):
            order[key] = getattr(campaign, key)
    return order


def _reward_key(campaign: Campaign) -> pl.Expr:
    """What makes two rows the same reward for the same recipient (before occurrence). The
    campaign's default account, never the row's own: existing ledgers hold IDs made so, and a row
    moved to another account is the same reward."""
    return pl.concat_str([pl.lit(campaign.customerIdentifier), pl.lit(campaign.accountIdentifier),
                          pl.lit(campaign.campaign or ""), *same_reward()], separator="\x1f")


def line_item_ids(frame: pl.DataFrame, campaign: Campaign) -> pl.Series:
    """The externalRefLineItemID of every row of a validated frame (valid or not)."""
    keyed = frame.select("externalRefLineItemID", _reward_key(campaign).alias("key"))
    keyed = keyed.with_columns(pl.int_range(pl.len()).over("key").alias("occurrence"))
    sha256 = hashlib.sha256          # _digest([key, str(occurrence)]), written out: it runs once per row
    hashed = [None if ref is not None else ID_PREFIX + sha256(f"{key}\x1f{n}".encode()).hexdigest()[:32]
              for ref, key, n in zip(*(keyed.get_column(c).to_list()
                                       for c in ("externalRefLineItemID", "key", "occurrence")), strict=True)]
    return keyed.select(pl.coalesce(pl.col("externalRefLineItemID"),
                                    pl.Series(hashed, dtype=pl.String)).alias("line_item_id"))["line_item_id"]


def _address(row: Mapping[str, Any]) -> dict[str, Any]:
    return {f: row[f] for f in ADDRESS_FIELDS if row.get(f)}


def _bulk_shipping(row: Mapping[str, Any], form: ShippingForm) -> dict[str, Any]:
    """Where a bulk shipment goes, in the spelling ``form`` (seed 004's or the reference's)."""
    contact = {key: " ".join(v for v in (row.get(f) for f in cells.split()) if v) or None
               for key, cells in form.fields.items()}
    address = {k: v for k, v in _address(row).items() if k != "companyName"}
    return {**{k: v for k, v in contact.items() if v}, "address": address}


def _payload(row: Mapping[str, Any], item_id: str, book: RuleBook) -> dict[str, Any]:
    method = row["deliveryMethod"]
    spec = book.methods[method]
    item: dict[str, Any] = {
        "externalRefLineItemID": item_id,
        "utid": row["utid"],
        "amount": float(Decimal(row["amount"])),
        "quantity": int(row.get("quantity") or 1),
        "deliveryMethod": method,
    }
    if spec["recipient"] == "required":
        recipient = {f: row[f] for f in RECIPIENT_FIELDS if row.get(f)}
        if not spec["digital"]:          # a physical reward is mailed to the recipient
            recipient["address"] = _address(row)
        item["recipient"] = recipient
    if spec["shipping"] == "required":   # BULKSHIPMENT: the row's person is the shipping contact
        item[book.bulk_shipping.object] = _bulk_shipping(row, book.bulk_shipping)
    if not spec["digital"]:
        item["shippingMethod"] = row.get("shippingMethod")
    for f in OPTIONAL_FIELDS:
        if row.get(f):
            item[f] = row[f]
    return item


# the cells each line item is made with before its payload is asked for (the rest are read then)
_MADE_OF = (IDX, ROW, SHEET, "_id", "amount", "quantity", "externalRefLineItemID", ACCOUNT, "deliveryMethod")


def line_items(frame: pl.DataFrame, campaign: Campaign, book: RuleBook,
               ids: pl.Series | None = None) -> list[LineItem]:
    """The valid rows of a validated frame as line items, in row order (``ids``: the frame's
    ``line_item_ids``, when the caller has them already). Each item's ``fields`` read the frame's
    columns when asked (``pipeline.rows.RowFields``)."""
    ids = line_item_ids(frame, campaign) if ids is None else ids
    # the frame itself, not a filtered copy of its thirty columns: an item reads its row by position
    columns = Columns(frame.with_columns(ids.alias("_id")))
    valid = (frame.get_column("status") == Status.VALID.value).to_list()
    items = []
    default_account = campaign.accountIdentifier
    for at, idx, row, sheet, item_id, amount, quantity, ref, account, method, keys in itertools.compress(zip(
            range(frame.height), *(columns.column(c) for c in _MADE_OF), recipient_keys_of(frame), strict=True),
            valid):
        fields = RowFields(columns, at)
        items.append(LineItem(id=item_id, idx=idx, row=row, amount=Decimal(amount), quantity=int(quantity or 1),
                              delivery_method=method, fields=fields, book=book,
                              recipient=keys[0] if keys else None, recipient_keys=keys, referenced=bool(ref),
                              details=Picked(fields, RECIPIENT_DETAILS), sheet=sheet,
                              account=account or default_account))
    return items


def member_key(order: dict[str, Any], member_ids: Iterable[str]) -> str:
    return _digest([json.dumps(order, sort_keys=True), *member_ids], 40)


def batch_ref(key: str, generation: int) -> str:
    return BATCH_PREFIX + _digest([key, str(generation)], 40)


def plan_batches(items: Iterable[LineItem], order: dict[str, Any], size: int,
                 generation_of: Callable[[str], int] = lambda key: 0) -> list[Batch]:
    """Batches of at most ``size`` line items, in line-item-ID order, each with its externalRefID.

    ``generation_of(member_key)`` says how many earlier batches of exactly these members ended in
    a definite failure (the ledger knows); the ID changes with it.
    """
    ordered = sorted(items, key=lambda i: i.id)
    batches = []
    for start in range(0, len(ordered), size):
        members = tuple(ordered[start:start + size])
        key = member_key(order, (m.id for m in members))
        generation = generation_of(key)
        batches.append(Batch(batch_ref(key, generation), key, generation, order, members))
    return batches


@dataclass(frozen=True)
class BatchPlan:
    """How a run cuts its line items into orders: the one place batches are planned, for sending,
    for a dry run, and for the lines of a refused batch that go again. Batches never mix accounts:
    the lines of each account (in accountIdentifier order) are cut into orders of their own, whose
    ``accountIdentifier`` is that account's."""
    order: dict[str, Any]                               # the order-level fields (the campaign's default account)
    size: int                                           # line items per order, at most
    generation_of: Callable[[str], int] = lambda key: 0  # the ledger's count of definite failures

    def batches(self, items: Iterable[LineItem]) -> list[Batch]:
        default = str(self.order.get("accountIdentifier") or "")
        by_account: dict[str, list[LineItem]] = {}
        for item in items:
            by_account.setdefault(item.account or default, []).append(item)
        return [batch for account in sorted(by_account)
                for batch in plan_batches(by_account[account], self._order(account, default), self.size,
                                          self.generation_of)]

    def _order(self, account: str, default: str) -> dict[str, Any]:
        """The order-level fields of an account's batches: the default account's are ``order`` itself."""
        return self.order if account == default else {**self.order, "accountIdentifier": account}
