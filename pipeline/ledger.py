"""The ledger: a durable, write-ahead record of runs, rows, line items and batches (SQLite).

It is what makes the two promises hold across crashes and reruns:
- a batch is recorded as ``sending``, with its members and its exact payload, *before* the POST,
  and its outcome after; a batch found ``sending`` at start is reconciled with Tango first;
- a line item already accepted by Tango (by any run, from any file) is never sent again;
- every input row of every run is recorded with its status and message.

Every state change is one transaction (WAL journal, synchronous=FULL), so killing the process at
any instant leaves the ledger consistent. Each target (simulator, sandbox, production, a URL) is
its own namespace: a simulator run never shadows a real one.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Ledger", "ACCEPTED", "LineRecord", "BatchRecord", "FileRecord"]

# line-item statuses; ACCEPTED ones are never sent again
PENDING, SENDING, SUBMITTED, COMPLETE, REJECTED, FAILED, DUPLICATE = (
    "PENDING", "SENDING", "SUBMITTED", "COMPLETE", "REJECTED", "FAILED", "DUPLICATE")
# Tango has these lines (DUPLICATE: Tango reported it already had the ID)
ACCEPTED = (SUBMITTED, COMPLETE, FAILED, DUPLICATE)
# batch states
B_SENDING, B_ACCEPTED, B_REJECTED, B_FAILED = "sending", "accepted", "rejected", "failed"

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL, command TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT, exit_code INTEGER, note TEXT
);
CREATE TABLE IF NOT EXISTS line_items (
    target TEXT NOT NULL, line_item_id TEXT NOT NULL,
    status TEXT NOT NULL, batch_ref TEXT, reference_line_item_id TEXT, message TEXT,
    amount TEXT NOT NULL, quantity INTEGER NOT NULL, delivery_method TEXT,
    first_run INTEGER NOT NULL, accepted_run INTEGER, updated_at TEXT NOT NULL,
    PRIMARY KEY (target, line_item_id)
);
CREATE TABLE IF NOT EXISTS rows (
    run_id INTEGER NOT NULL, target TEXT NOT NULL, file_sha256 TEXT NOT NULL, file_name TEXT NOT NULL,
    sheet TEXT, row_number INTEGER NOT NULL, line_item_id TEXT, status TEXT NOT NULL, message TEXT,
    PRIMARY KEY (run_id, file_sha256, row_number)
);
CREATE INDEX IF NOT EXISTS rows_by_file ON rows (target, file_sha256);
CREATE TABLE IF NOT EXISTS batches (
    target TEXT NOT NULL, external_ref_id TEXT NOT NULL, member_key TEXT NOT NULL,
    generation INTEGER NOT NULL, customer TEXT NOT NULL, account TEXT NOT NULL,
    state TEXT NOT NULL, order_status TEXT, final INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0, last_http INTEGER, last_request_id TEXT, message TEXT,
    payload TEXT NOT NULL, run_id INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (target, external_ref_id)
);
CREATE INDEX IF NOT EXISTS batches_by_key ON batches (target, member_key);
CREATE TABLE IF NOT EXISTS batch_members (
    target TEXT NOT NULL, external_ref_id TEXT NOT NULL, line_item_id TEXT NOT NULL, position INTEGER NOT NULL,
    PRIMARY KEY (target, external_ref_id, line_item_id)
);
CREATE TABLE IF NOT EXISTS files (
    target TEXT NOT NULL, sha256 TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL,
    state TEXT NOT NULL, run_date TEXT NOT NULL, sheet TEXT, report_folder TEXT, campaign TEXT,
    first_run INTEGER NOT NULL, last_run INTEGER NOT NULL, note TEXT, updated_at TEXT NOT NULL,
    PRIMARY KEY (target, sha256)
);
CREATE TABLE IF NOT EXISTS http_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, run_id INTEGER, at TEXT NOT NULL,
    method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER, request_id TEXT, outcome TEXT
);
"""


# file states: being worked on (rows may still be pending) / every row settled or reported
F_PROCESSING, F_DONE = "processing", "done"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class LineRecord:
    line_item_id: str
    status: str
    batch_ref: str | None
    reference_line_item_id: str | None
    message: str | None
    amount: str
    quantity: int
    first_run: int
    accepted_run: int | None


@dataclass(frozen=True)
class BatchRecord:
    external_ref_id: str
    member_key: str
    generation: int
    customer: str
    account: str
    state: str
    order_status: str | None
    final: bool
    attempts: int
    payload: dict[str, Any]
    run_id: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class FileRecord:
    sha256: str
    name: str
    path: str
    state: str
    run_date: str
    sheet: str | None
    report_folder: str | None
    first_run: int
    last_run: int
    campaign: dict[str, Any]


class Ledger:
    """One SQLite file; one namespace per target."""

    def __init__(self, path: str | Path, target: str) -> None:
        self.path = Path(path)
        self.target = target
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One state change: all of it is written, or none of it."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- runs ---------------------------------------------------------------------------------
    def start_run(self, command: str) -> int:
        with self.tx() as db:
            cur = db.execute("INSERT INTO runs (target, command, started_at) VALUES (?, ?, ?)",
                             (self.target, command, _now()))
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, exit_code: int, note: str | None = None) -> None:
        with self.tx() as db:
            db.execute("UPDATE runs SET finished_at = ?, exit_code = ?, note = ? WHERE id = ?",
                       (_now(), exit_code, note, run_id))

    # --- line items and rows ------------------------------------------------------------------
    def _where_in(self, select: str, ids: Iterable[str]) -> Iterator[sqlite3.Row]:
        """``select`` ending in "<column> IN" for many ids, a few hundred at a time."""
        ids = list(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            yield from self.db.execute(f"{select} ({','.join('?' * len(chunk))})", (self.target, *chunk))

    def lines(self, ids: Iterable[str]) -> dict[str, LineRecord]:
        rows = self._where_in("SELECT * FROM line_items WHERE target = ? AND line_item_id IN", ids)
        return {r["line_item_id"]: _line(r) for r in rows}

    def add_pending(self, run_id: int, items: Iterable[tuple[str, str, int, str]]) -> None:
        """Record line items about to be sent (id, amount, quantity, method); known ones are kept."""
        now = _now()
        with self.tx() as db:
            db.executemany(
                "INSERT INTO line_items (target, line_item_id, status, amount, quantity, delivery_method,"
                " first_run, updated_at) VALUES (?, ?, 'PENDING', ?, ?, ?, ?, ?)"
                " ON CONFLICT (target, line_item_id) DO NOTHING",
                [(self.target, i, a, q, m, run_id, now) for i, a, q, m in items])

    def record_rows(self, run_id: int, file_sha256: str, file_name: str, sheet: str | None,
                    rows: Iterable[tuple[int, str | None, str, str | None]]) -> None:
        """Every input row of a file in this run: (row number, line-item id, status, message)."""
        with self.tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO rows (run_id, target, file_sha256, file_name, sheet, row_number,"
                " line_item_id, status, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_id, self.target, file_sha256, file_name, sheet, n, i, s, m) for n, i, s, m in rows])

    # --- batches ------------------------------------------------------------------------------
    def generation(self, member_key: str) -> int:
        """How many batches of exactly these members ended in a definite failure."""
        row = self.db.execute(
            "SELECT COUNT(*) FROM batches WHERE target = ? AND member_key = ? AND state IN (?, ?)",
            (self.target, member_key, B_FAILED, B_REJECTED)).fetchone()
        return int(row[0])

    def begin_batch(self, run_id: int, ref: str, member_key: str, generation: int,
                    payload: dict[str, Any], member_ids: list[str]) -> None:
        """Write-ahead: the batch, its members and its payload, before the POST."""
        now = _now()
        with self.tx() as db:
            db.execute(
                "INSERT INTO batches (target, external_ref_id, member_key, generation, customer, account,"
                " state, payload, run_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (target, external_ref_id) DO UPDATE SET state = excluded.state,"
                " updated_at = excluded.updated_at",
                (self.target, ref, member_key, generation, payload["customerIdentifier"],
                 payload["accountIdentifier"], B_SENDING, json.dumps(payload), run_id, now, now))
            db.executemany(
                "INSERT OR IGNORE INTO batch_members (target, external_ref_id, line_item_id, position)"
                " VALUES (?, ?, ?, ?)", [(self.target, ref, m, i) for i, m in enumerate(member_ids)])
            db.executemany(
                "UPDATE line_items SET status = 'SENDING', batch_ref = ?, updated_at = ?"
                " WHERE target = ? AND line_item_id = ?", [(ref, now, self.target, m) for m in member_ids])

    def end_batch(self, ref: str, state: str, *, http: int | None, request_id: str | None,
                  attempts: int, message: str | None,
                  lines: Iterable[tuple[str, str, str | None, str | None]], run_id: int,
                  order_status: str | None = None, final: bool = False) -> None:
        """The outcome of a batch and of each of its line items, in one transaction."""
        now = _now()
        with self.tx() as db:
            db.execute(
                "UPDATE batches SET state = ?, last_http = ?, last_request_id = ?,"
                " attempts = attempts + ?, message = ?, order_status = COALESCE(?, order_status),"
                " final = ?, updated_at = ? WHERE target = ? AND external_ref_id = ?",
                (state, http, request_id, attempts, message, order_status, int(final), now,
                 self.target, ref))
            for line_id, status, reference, text in lines:
                db.execute(
                    "UPDATE line_items SET status = ?, reference_line_item_id = COALESCE(?, reference_line_item_id),"
                    " message = ?, updated_at = ?, batch_ref = CASE WHEN ? = 'PENDING' THEN NULL ELSE batch_ref END,"
                    " accepted_run = CASE WHEN ? IN ('SUBMITTED','COMPLETE','FAILED','DUPLICATE')"
                    "   THEN COALESCE(accepted_run, ?) ELSE accepted_run END"
                    " WHERE target = ? AND line_item_id = ?",
                    (status, reference, text, now, status, status, run_id, self.target, line_id))

    def batches(self, *, states: Iterable[str] | None = None, unfinished: bool = False) -> list[BatchRecord]:
        sql = "SELECT * FROM batches WHERE target = ?"
        args: list[Any] = [self.target]
        if states is not None:
            states = list(states)
            sql += f" AND state IN ({','.join('?' * len(states))})"
            args += states
        if unfinished:
            sql += " AND state = 'accepted' AND final = 0"
        sql += " ORDER BY created_at, external_ref_id"
        out = []
        for r in self.db.execute(sql, args).fetchall():
            members = tuple(m[0] for m in self.db.execute(
                "SELECT line_item_id FROM batch_members WHERE target = ? AND external_ref_id = ?"
                " ORDER BY position", (self.target, r["external_ref_id"])))
            out.append(BatchRecord(r["external_ref_id"], r["member_key"], r["generation"], r["customer"],
                                   r["account"], r["state"], r["order_status"], bool(r["final"]),
                                   r["attempts"], json.loads(r["payload"]), r["run_id"], members))
        return out

    def accepted_among(self, refs: Iterable[str]) -> set[str]:
        """Which of these batches Tango accepted."""
        return {r[0] for r in self._where_in(
            f"SELECT external_ref_id FROM batches WHERE state = '{B_ACCEPTED}' AND target = ?"
            " AND external_ref_id IN", refs)}

    def members_of(self, refs: Iterable[str]) -> list[str]:
        """The line items of these batches."""
        return [r[0] for r in self._where_in(
            "SELECT line_item_id FROM batch_members WHERE target = ? AND external_ref_id IN", refs)]

    def log_http(self, run_id: int | None, method: str, path: str, status: int | None,
                 request_id: str | None, outcome: str) -> None:
        with self.tx() as db:
            db.execute("INSERT INTO http_log (target, run_id, at, method, path, status, request_id, outcome)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (self.target, run_id, _now(), method, path, status, request_id, outcome))

    # --- reading back ------------------------------------------------------------------------
    def run_info(self, run_id: int) -> dict[str, Any] | None:
        r = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return dict(r) if r else None

    def last_run_for_row(self, file_sha256: str, row_number: int, line_item_id: str) -> dict[str, Any] | None:
        """The latest run that recorded this row of this file with this line item, and its end."""
        r = self.db.execute(
            "SELECT runs.id, runs.exit_code, runs.finished_at FROM rows JOIN runs ON runs.id = rows.run_id"
            " WHERE rows.target = ? AND rows.file_sha256 = ? AND rows.row_number = ? AND rows.line_item_id = ?"
            " ORDER BY runs.id DESC LIMIT 1", (self.target, file_sha256, row_number, line_item_id)).fetchone()
        return dict(r) if r else None

    # --- files ------------------------------------------------------------------------------
    def file(self, sha256: str) -> FileRecord | None:
        r = self.db.execute("SELECT * FROM files WHERE target = ? AND sha256 = ?", (self.target, sha256)).fetchone()
        return _file(r) if r else None

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
                (self.target, sha256, name, path, F_PROCESSING, run_date, sheet, json.dumps(campaign),
                 run_id, run_id, _now()))

    def file_update(self, sha256: str, *, state: str | None = None, path: str | None = None,
                    report_folder: str | None = None, note: str | None = None) -> None:
        with self.tx() as db:
            db.execute(
                "UPDATE files SET state = COALESCE(?, state), path = COALESCE(?, path),"
                " report_folder = COALESCE(?, report_folder), note = COALESCE(?, note), updated_at = ?"
                " WHERE target = ? AND sha256 = ?",
                (state, path, report_folder, note, _now(), self.target, sha256))

    def files_with_lines(self, line_ids: Iterable[str]) -> list[FileRecord]:
        """The files whose rows (in the run that last worked on them) carry these line items."""
        shas = {r[0] for r in self._where_in(
            "SELECT DISTINCT file_sha256 FROM rows WHERE target = ? AND line_item_id IN", set(line_ids))}
        return [f for f in (self.file(s) for s in sorted(shas)) if f is not None]

    def last_rows(self, sha256: str, run_id: int) -> dict[int, tuple[str | None, str, str | None]]:
        """row number -> (line item id, status, message) as run ``run_id`` recorded this file."""
        return {r[0]: (r[1], r[2], r[3]) for r in self.db.execute(
            "SELECT row_number, line_item_id, status, message FROM rows WHERE run_id = ? AND target = ?"
            " AND file_sha256 = ?", (run_id, self.target, sha256))}

    def runs_since(self, since: str | None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM runs WHERE target = ?", [self.target]
        if since:
            sql += " AND started_at >= ?"
            args.append(since)
        return [dict(r) for r in self.db.execute(sql + " ORDER BY id", args)]

    def row_counts(self) -> dict[str, int]:
        """Rows per status, each file counted as the last run that worked on it left it."""
        return {r[0]: r[1] for r in self.db.execute(
            "SELECT rows.status, COUNT(*) FROM rows JOIN files ON files.target = rows.target"
            " AND files.sha256 = rows.file_sha256 AND files.last_run = rows.run_id"
            " WHERE rows.target = ? GROUP BY rows.status", (self.target,))}

    def counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.db.execute(
            "SELECT status, COUNT(*) FROM line_items WHERE target = ? GROUP BY status", (self.target,))}


def _file(r: sqlite3.Row) -> FileRecord:
    return FileRecord(r["sha256"], r["name"], r["path"], r["state"], r["run_date"], r["sheet"],
                      r["report_folder"], r["first_run"], r["last_run"], json.loads(r["campaign"] or "{}"))


def _line(r: sqlite3.Row) -> LineRecord:
    return LineRecord(r["line_item_id"], r["status"], r["batch_ref"], r["reference_line_item_id"],
                      r["message"], r["amount"], r["quantity"], r["first_run"], r["accepted_run"])
