"""The ledger: the durable, write-ahead record that keeps every reward ordered once and every row
accounted for. ``records`` says what it holds; ``sqlite`` keeps it in one SQLite file."""

from pipeline.ledger.core import Ledger
from pipeline.ledger.records import BatchRecord, FileRecord, LineRecord, LineUpdate, OrderedTo, RowRecord, Sendable

__all__ = ["BatchRecord", "FileRecord", "Ledger", "LineRecord", "LineUpdate", "OrderedTo", "RowRecord", "Sendable"]
