"""``tango-batch ledger export``: the audit trail, every line item the ledger knows with the file,
sheet and row it came from (as its latest run recorded them), its order, its account and its
status; and ``ledger migrate``: the ledger's schema brought up to date, on its own.

The export holds no personal data: who a reward was for stays in the ledger (its recipient key and
details are not exported); HR's report is where names are. A CSV cell never starts as a formula.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any, TextIO

from pipeline.ledger import Ledger
from pipeline.ledger.core import schema_version
from pipeline.state import Where

__all__ = ["COLUMNS", "export", "migrate"]

COLUMNS = ["target", "line_item_id", "status", "amount", "quantity", "utid", "delivery_method", "campaign", "order",
           "customer", "account", "order_state", "reference_line_item_id", "message", "delivery_status",
           "first_run", "accepted_run", "accepted_at", "updated_at", "file", "file_sha256", "sheet", "row",
           "row_status", "row_run"]

SELECT = (
    "SELECT li.target, li.line_item_id, li.status, li.amount, li.quantity, li.utid, li.delivery_method,"
    " li.campaign, li.batch_ref, b.customer, b.account, b.state, li.reference_line_item_id, li.message,"
    " li.delivery_status, li.first_run, li.accepted_run, runs.started_at, li.updated_at, r.file_name,"
    " r.file_sha256, r.sheet, r.row_number, r.status, r.run_id"
    " FROM line_items li"
    " LEFT JOIN batches b ON b.target = li.target AND b.external_ref_id = li.batch_ref"
    " LEFT JOIN runs ON runs.id = li.accepted_run"
    " LEFT JOIN rows r ON r.target = li.target AND r.line_item_id = li.line_item_id AND r.run_id ="
    "   (SELECT MAX(r2.run_id) FROM rows r2 WHERE r2.target = li.target AND r2.line_item_id = li.line_item_id)"
    " ORDER BY li.target, li.first_run, li.line_item_id, r.sheet, r.row_number")


def _records(ledger: Ledger) -> Iterator[dict[str, Any]]:
    for values in ledger.db.tuples(SELECT, stream=True):
        yield dict(zip(COLUMNS, values, strict=True))


def _cell(value: Any) -> Any:
    """A CSV cell as Excel will open it: text that would start a formula is kept as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def export(where: Where, out: TextIO, form: str = "csv") -> int:
    """Every line item of the ledger at ``where``, to ``out`` as CSV or JSON lines; how many."""
    ledger = Ledger.read_only(where, "")
    count = 0
    try:
        if form == "jsonl":
            for record in _records(ledger):
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
        else:
            writer = csv.writer(out)
            writer.writerow(COLUMNS)
            for record in _records(ledger):
                writer.writerow([_cell(record[c]) for c in COLUMNS])
                count += 1
    finally:
        ledger.close()
    return count


def migrate(where: Where) -> tuple[int, int]:
    """The ledger's schema version before and after bringing it up to date."""
    before = schema_version(where)
    Ledger(where, "").close()               # opening it migrates it, in one transaction
    return before, schema_version(where)
