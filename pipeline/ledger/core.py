"""The ledger: a durable, write-ahead record of runs, rows, line items and batches, in an SQLite
file or a PostgreSQL database (see ``store``).

It is what makes the two promises hold across crashes and reruns:
- a batch is recorded as ``sending``, with its members and its exact payload, *before* the POST,
  and its outcome after; a batch found ``sending`` at start is reconciled with Tango first;
- a line item already accepted by Tango (by any run, from any file) is never sent again;
- every input row of every run is recorded with its status and message.

Every state change is one transaction (SQLite: WAL journal, synchronous=FULL; PostgreSQL: a
committed transaction), so killing the process at any instant leaves the ledger consistent. Each
target (simulator, sandbox, production, a URL) is its own namespace: a simulator run never shadows
a real one. The HTTP log is no state change: its rows are written with the next state change (the
outcome of the request they log, mostly), or when the ledger is closed, rather than each with a
commit of its own.

A ledger shared by several workers (PostgreSQL) may be given the accounts this worker holds the
locks of (``accounts``): it then reconciles and follows only their orders (``batches``).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from pipeline.errors import LedgerUnusable, Locked
from pipeline.ledger.desk import Desk
from pipeline.ledger.history import History
from pipeline.ledger.opening import connect, create, failures_of, not_empty, whole
from pipeline.ledger.records import LineUpdate, RowRecord, Sendable
from pipeline.ledger.schema import migrations_for
from pipeline.ledger.store import SqliteStore, Store, migrate
from pipeline.lock import still_held
from pipeline.model import AT_TANGO, BatchState, FileState, Status
from pipeline.rows import as_dict
from pipeline.state import LedgerURL, Where

__all__ = ["Ledger", "schema_version"]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def _sqlite(path: Path) -> SqliteStore:
    with failures_of(path):
        if not path.exists():
            create(path)
        not_empty(path)
        db = connect(path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        whole(db, path)
        return SqliteStore(db, path)


def _postgres(where: LedgerURL, *, view: bool = False) -> Store:
    from pipeline.ledger.postgres import PostgresStore  # psycopg only for a ledger that needs it
    return PostgresStore(where, view=view)


def schema_version(where: Where) -> int:
    """The version of the ledger's schema, as it is (0: no ledger yet)."""
    if isinstance(where, LedgerURL):
        store = _postgres(where, view=True)
    elif where.is_file():
        with failures_of(where):
            store = SqliteStore(connect(where, read_only=True), where)
    else:
        return 0
    try:
        return store.version()
    finally:
        store.close()


class Ledger(History, Desk):
    """One ledger (an SQLite file or a PostgreSQL database); one namespace per target."""

    def __init__(self, where: Where | str, target: str,
                 accounts: Iterable[tuple[str, str]] | None = None) -> None:
        self.where: Where = Path(where) if isinstance(where, str) else where
        self.target = target
        self.accounts = None if accounts is None else sorted(set(accounts))
        self._http: list[tuple[Any, ...]] = []      # HTTP log rows, written with the next transaction
        self.db: Store = _postgres(self.where) if isinstance(self.where, LedgerURL) else _sqlite(self.where)
        migrate(self.db, migrations_for(self.db.dialect))

    @classmethod
    def read_only(cls, where: Where, target: str, *, copy: bool = False) -> Ledger:
        """The ledger at ``where`` for reading only (``validate``): nothing is created or written, not
        even a migration; an empty ledger in memory when there is no SQLite file there yet. ``copy``: a
        copy (in memory; for PostgreSQL, a transaction never committed), which may be written (to merge
        another into it, say) and is then forgotten."""
        ledger = cls.__new__(cls)
        ledger.where, ledger.target, ledger.accounts, ledger._http = where, target, None, []
        if isinstance(where, LedgerURL):
            ledger.db = _postgres(where, view=True)
            migrate(ledger.db, migrations_for(ledger.db.dialect))   # in the view only: rolled back at close
            return ledger
        if not where.exists():
            db = sqlite3.connect(":memory:", isolation_level=None)
        else:
            with failures_of(where):
                not_empty(where)
                db = connect(where, read_only=True)
                db.execute("PRAGMA query_only = ON")
                whole(db, where)
            if copy or db.execute("PRAGMA user_version").fetchone()[0] < len(migrations_for("sqlite")):
                # written by an older version (or to be added to): a copy in memory, brought up to date there
                source, db = db, sqlite3.connect(":memory:", isolation_level=None)
                source.backup(db)
                source.close()
        ledger.db = SqliteStore(db, where)
        migrate(ledger.db, migrations_for("sqlite"))
        return ledger

    def close(self) -> None:
        if self._http:
            # the log rows no state change took along; a ledger that cannot be written keeps its own error
            with suppress(Locked, LedgerUnusable), self.tx():
                pass
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[Store]:
        """One state change: all of it is written, or none of it. A ledger that fails under it
        (locked by another program, a full disk, a lost server, damage) is said by name."""
        with self.db.tx() as db:
            if self._http:
                db.executemany("INSERT INTO http_log (target, run_id, at, method, path, status, request_id,"
                               " outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", self._http)
            yield db
        self._http.clear()

    # --- runs ---------------------------------------------------------------------------------
    def start_run(self, command: str) -> int:
        with self.tx() as db:
            return int(db.execute("INSERT INTO runs (target, command, started_at) VALUES (?, ?, ?) RETURNING id",
                                  (self.target, command, _now())).fetchone()[0])

    def finish_run(self, run_id: int, exit_code: int, note: str | None = None) -> None:
        with self.tx() as db:
            db.execute("UPDATE runs SET finished_at = ?, exit_code = ?, note = ? WHERE id = ?",
                       (_now(), exit_code, note, run_id))

    # --- line items and rows ------------------------------------------------------------------
    def add_pending(self, run_id: int, items: Iterable[Sendable], campaign: str | None = None) -> None:
        """Record line items about to be sent, with who they are for; known ones are kept as they are.
        Stored in line-item ID order, the order batches take them in: the updates of a batch's lines
        then fall on a few neighbouring pages of the table rather than one page each."""
        now = _now()
        items = sorted(items, key=lambda i: i.id)
        with self.tx() as db:
            db.executemany(
                "INSERT INTO line_items (target, line_item_id, status, amount, quantity, delivery_method,"
                " first_run, updated_at, recipient, utid, campaign, details)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (target, line_item_id) DO NOTHING",
                [(self.target, i.id, Status.PENDING, str(i.amount), i.quantity, i.delivery_method, run_id, now,
                  i.recipient, i.utid.upper(), campaign, json.dumps(as_dict(i.details))) for i in items])
        self.db.grew("line_items", len(items))

    def record_rows(self, run_id: int, file_sha256: str, file_name: str, rows: Iterable[RowRecord]) -> None:
        """Every input row of a file in this run, on its sheet."""
        values = [(run_id, self.target, file_sha256, file_name, r.sheet or "", r.row, r.line_item_id, r.status,
                   r.message) for r in rows]
        insert = ("INSERT INTO rows (run_id, target, file_sha256, file_name, sheet, row_number, line_item_id, status,"
                  " message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, file_sha256, sheet, row_number)"
                  " DO UPDATE SET file_name = excluded.file_name, status = excluded.status, message = excluded.message")
        with self.tx() as db:
            # A run records its rows before sending and again at the end: updated in place, and, as their
            # line item is the same, without rewriting the index entries of the columns that did not change.
            same = db.executemany(insert + " WHERE rows.target = excluded.target AND rows.line_item_id IS NOT"
                                  " DISTINCT FROM excluded.line_item_id", values)
            if same.rowcount != len(values):        # some row's line item (or target) did change
                db.executemany(insert + ", target = excluded.target, line_item_id = excluded.line_item_id", values)
        self.db.grew("rows", len(values))

    # --- batches ------------------------------------------------------------------------------
    def generation(self, member_key: str) -> int:
        """How many batches of exactly these members ended in a definite failure."""
        row = self.db.execute(
            "SELECT COUNT(*) FROM batches WHERE target = ? AND member_key = ? AND state IN (?, ?)",
            (self.target, member_key, BatchState.FAILED, BatchState.REJECTED)).fetchone()
        return int(row[0])

    def begin_batch(self, run_id: int, ref: str, member_key: str, generation: int,
                    payload: dict[str, Any], member_ids: list[str]) -> None:
        """Write-ahead: the batch, its members and its payload, before the POST; only while this
        process still holds its locks (a shared ledger's may be lost with their session)."""
        still_held()
        now = _now()
        with self.tx() as db:
            db.execute(
                "INSERT INTO batches (target, external_ref_id, member_key, generation, customer, account,"
                " state, payload, run_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (target, external_ref_id) DO UPDATE SET state = excluded.state,"
                " updated_at = excluded.updated_at",
                (self.target, ref, member_key, generation, payload["customerIdentifier"],
                 payload["accountIdentifier"], BatchState.SENDING, json.dumps(payload), run_id, now, now))
            db.executemany(
                "INSERT INTO batch_members (target, external_ref_id, line_item_id, position)"
                " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(self.target, ref, m, i) for i, m in enumerate(member_ids)])
            db.executemany(
                "UPDATE line_items SET status = ?, batch_ref = ?, updated_at = ?"
                " WHERE target = ? AND line_item_id = ?",
                [(Status.SENDING, ref, now, self.target, m) for m in member_ids])

    def end_batch(self, ref: str, state: BatchState, *, http: int | None, request_id: str | None,
                  attempts: int, message: str | None, lines: Iterable[LineUpdate], run_id: int,
                  order_status: str | None = None, final: bool = False, delivery_open: bool = False) -> None:
        """The outcome of a batch and of each of its line items, in one transaction."""
        now = _now()
        with self.tx() as db:
            db.execute(
                "UPDATE batches SET state = ?, last_http = ?, last_request_id = ?,"
                " attempts = attempts + ?, message = ?, order_status = COALESCE(?, order_status),"
                " final = ?, delivery_open = ?, updated_at = ? WHERE target = ? AND external_ref_id = ?",
                (state, http, request_id, attempts, message, order_status, int(final), int(delivery_open), now,
                 self.target, ref))
            # a line back to PENDING is in no order; a line Tango has remembers the run that sent it
            db.executemany(
                "UPDATE line_items SET status = ?, reference_line_item_id = COALESCE(?, reference_line_item_id),"
                " message = ?, updated_at = ?, batch_ref = CASE WHEN ? THEN NULL ELSE batch_ref END,"
                " accepted_run = CASE WHEN ? THEN COALESCE(accepted_run, ?) ELSE accepted_run END,"
                " delivery_status = COALESCE(?, delivery_status) WHERE target = ? AND line_item_id = ?",
                [(line.status, line.reference, line.message, now, line.status == Status.PENDING,
                  line.status in AT_TANGO, run_id, line.delivery, self.target, line.line_item_id) for line in lines])

    def close_deliveries(self, ref: str) -> None:
        """Stop following the deliveries of an order (they are final, or followed long enough)."""
        with self.tx() as db:
            db.execute("UPDATE batches SET delivery_open = 0, updated_at = ? WHERE target = ? AND external_ref_id = ?",
                       (_now(), self.target, ref))

    def last_check(self, customer: str, account: str) -> str | None:
        """When Tango's order list of this account was last found to hold nothing the ledger did not know."""
        row = self.db.execute("SELECT checked_at FROM ledger_checks WHERE target = ? AND customer = ? AND account = ?",
                              (self.target, customer, account)).fetchone()
        return str(row[0]) if row else None

    def record_check(self, customer: str, account: str, at: str) -> None:
        with self.tx() as db:
            db.execute("INSERT INTO ledger_checks VALUES (?, ?, ?, ?) ON CONFLICT (target, customer, account)"
                       " DO UPDATE SET checked_at = excluded.checked_at", (self.target, customer, account, at))

    def log_http(self, run_id: int | None, method: str, path: str, status: int | None,
                 request_id: str | None, outcome: str) -> None:
        """One request and its answer, stamped now; written with the next transaction (or at close)."""
        self._http.append((self.target, run_id, _now(), method, path, status, request_id, outcome))

    # --- files ------------------------------------------------------------------------------
    def file_seen(self, run_id: int, sha256: str, name: str, path: str, run_date: str, sheet: str | None,
                  campaign: dict[str, Any]) -> None:
        """A file this run works on, with what its report depends on (run date, campaign file)."""
        with self.tx() as db:
            db.execute(
                "INSERT INTO files (target, sha256, name, path, state, run_date, sheet, campaign, first_run,"
                " last_run, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (target, sha256)"
                " DO UPDATE SET path = excluded.path, state = excluded.state, run_date = excluded.run_date,"
                " sheet = excluded.sheet, campaign = excluded.campaign, last_run = excluded.last_run,"
                " updated_at = excluded.updated_at",
                (self.target, sha256, name, path, FileState.PROCESSING, run_date, sheet,
                 json.dumps(campaign, default=str), run_id, run_id, _now()))

    def file_update(self, sha256: str, *, state: FileState | None = None, path: str | None = None,
                    report_folder: str | None = None, note: str | None = None) -> None:
        with self.tx() as db:
            db.execute(
                "UPDATE files SET state = COALESCE(?, state), path = COALESCE(?, path),"
                " report_folder = COALESCE(?, report_folder), note = COALESCE(?, note), updated_at = ?"
                " WHERE target = ? AND sha256 = ?",
                (state, path, report_folder, note, _now(), self.target, sha256))
