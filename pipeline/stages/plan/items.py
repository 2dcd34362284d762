"""Line items: each valid row as Tango will see it, with its deterministic ``externalRefLineItemID``
(see the package's docstring for how it is made)."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import polars as pl

from pipeline.config import Campaign
from pipeline.frames import occurrences
from pipeline.model import (
    ADDRESS_FIELDS,
    IDX,
    RECIPIENT_DETAILS,
    ROW,
    SHEET,
    Status,
    same_reward,
)
from pipeline.recipients import recipient_keys_of
from pipeline.rows import Columns, Picked, RowFields
from rules import ACCOUNT, RuleBook, ShippingForm

_T = TypeVar("_T")

__all__ = ["ID_PREFIX", "LineItem", "line_item_ids", "line_items"]

RECIPIENT_FIELDS = ("firstName", "lastName", "email", "mobileNumber")
OPTIONAL_FIELDS = ("deliveryDate", "etid", "ptid", "expirationDate", "emailSubject", "message",
                   "lineItemNote")
ID_PREFIX = "L"



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



def _reward_key(campaign: Campaign) -> pl.Expr:
    """What makes two rows the same reward for the same recipient (before occurrence). The
    campaign's default account, never the row's own: existing ledgers hold IDs made so, and a row
    moved to another account is the same reward."""
    return pl.concat_str([pl.lit(campaign.customerIdentifier), pl.lit(campaign.accountIdentifier),
                          pl.lit(campaign.campaign or ""), *same_reward()], separator="\x1f")


ID_ROWS = 100_000     # rows whose IDs are made at a time: a million rows' keys are never held at once


def line_item_ids(frame: pl.DataFrame, campaign: Campaign) -> pl.Series:
    """The externalRefLineItemID of every row of a validated frame (valid or not)."""
    key = _reward_key(campaign)
    occurrence = occurrences(frame, key, rows_at_a_time=ID_ROWS)
    sha256 = hashlib.sha256          # it runs once per row
    pieces = [pl.Series("line_item_id", [], dtype=pl.String)]
    for start in range(0, frame.height, ID_ROWS):
        piece = frame.slice(start, ID_ROWS).select("externalRefLineItemID", key.alias("key"),
                                                   occurrence.slice(start, ID_ROWS).alias("n"))
        # what is hashed, as UTF-8 bytes: the key and the occurrence, "\x1f" between (rows with a Reference: none)
        hashed = piece.select(pl.when(pl.col("externalRefLineItemID").is_null()).then(pl.concat_str(
            [pl.col("key"), pl.col("n").cast(pl.String)], separator="\x1f")).cast(pl.Binary)).to_series()
        digests = pl.Series([None if text is None else sha256(text).hexdigest() for text in hashed], dtype=pl.String)
        pieces.append(piece.select(pl.coalesce(pl.col("externalRefLineItemID"), pl.lit(ID_PREFIX)
                                               + digests.str.slice(0, 32)).alias("line_item_id")).to_series())
    return pl.concat(pieces, rechunk=True)


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


