"""What the ledger holds, as records: line items, batches, files, and the updates written to them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any, NamedTuple, Protocol

from pipeline.model import BatchState, FileState, Status

__all__ = ["BatchRecord", "FileRecord", "LineRecord", "LineUpdate", "OrderedTo", "RowRecord", "Sendable"]


class LineRecord(NamedTuple):
    """A line item as the ledger holds it (a tuple: a run reads every line of its files, often)."""
    line_item_id: str
    status: Status
    batch_ref: str | None
    reference_line_item_id: str | None
    message: str | None
    amount: str
    quantity: int
    first_run: int
    accepted_run: int | None
    delivery_status: str | None = None      # Tango's delivery event, for a physical reward


@dataclass(frozen=True)
class BatchRecord:
    external_ref_id: str
    member_key: str
    generation: int
    customer: str
    account: str
    state: BatchState
    order_status: str | None
    final: bool
    attempts: int
    payload_json: str                       # the exact request, as written ahead of its POST
    run_id: int
    members: tuple[str, ...]
    created_at: str = ""
    delivery_open: bool = False             # physical rewards of it not yet delivered (or not known)

    @cached_property
    def payload(self) -> dict[str, Any]:
        """The request, parsed when asked for: following many orders needs none of their payloads."""
        return dict(json.loads(self.payload_json))


@dataclass(frozen=True)
class FileRecord:
    sha256: str
    name: str
    path: str
    state: FileState
    run_date: str
    sheet: str | None                       # the sheet read; several as a JSON list; None for CSV
    report_folder: str | None
    first_run: int
    last_run: int
    campaign: dict[str, Any]

    @property
    def sheets(self) -> list[str] | None:
        """The sheets its last run read (None for CSV). Excel forbids '[' in a sheet's name."""
        if self.sheet is None:
            return None
        return list(json.loads(self.sheet)) if self.sheet.startswith("[") else [self.sheet]

    @staticmethod
    def sheets_text(sheets: tuple[str, ...]) -> str | None:
        """How ``sheets`` is stored: a name, a JSON list of names, or None for CSV."""
        return None if not sheets else sheets[0] if len(sheets) == 1 else json.dumps(list(sheets))


@dataclass(frozen=True)
class LineUpdate:
    """A line item's new status after an answer from Tango."""
    line_item_id: str
    status: Status
    reference: str | None = None            # Tango's referenceLineItemId, once known
    message: str | None = None              # Tango's reason, for a line refused or failed
    delivery: str | None = None             # Tango's delivery event, once it says one


class RowRecord(NamedTuple):
    """One input row of a file as a run left it (a tuple: a run records every row, twice)."""
    row: int                                # the row number Excel shows
    line_item_id: str | None
    status: Status
    message: str | None
    sheet: str | None = None                # the sheet it is on; None for CSV


class Sendable(Protocol):
    """A line item about to be sent, as the ledger records it."""
    @property
    def id(self) -> str: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def quantity(self) -> int: ...
    @property
    def delivery_method(self) -> str: ...
    @property
    def recipient(self) -> str | None: ...
    @property
    def utid(self) -> str: ...
    @property
    def details(self) -> Mapping[str, str | None]: ...


@dataclass(frozen=True)
class OrderedTo:
    """A line item Tango accepted for a recipient, and where it came from (the recipient guard)."""
    line_item_id: str
    recipient: str
    status: Status
    utid: str
    campaign: str | None
    details: dict[str, str | None]
    order: str | None                       # the batch's externalRefID
    run: int | None                         # the run that had it accepted
    accepted_at: str | None                 # when that run started
    file: str | None                        # the file and row it came from, as last recorded
    sheet: str | None
    row: int | None
