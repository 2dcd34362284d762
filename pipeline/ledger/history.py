"""What the ledger tells about the past: runs, a file's rows as a run left them, counts, line items and
batches.

A mixin of ``Ledger``: read-only queries, apart from the state changes of ``sqlite.py``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator
from typing import Any

from pipeline.ledger.records import BatchRecord, FileRecord, LineRecord, OrderedTo, RowRecord
from pipeline.ledger.store import Row, Store
from pipeline.model import AT_TANGO, BatchState, ExitCode, FileState, Status

__all__ = ["History"]


# values asked of the ledger at once from which it reads its own instead (``History._narrowed``)
NARROW_FROM = 5000


class History:
    db: Store
    target: str
    accounts: list[tuple[str, str]] | None      # (customer, account) of the orders this worker may act on

    def _where_in(self, select: str, ids: Iterable[str]) -> Iterator[Row]:
        """``select`` ending in "<column> IN" for many ids, a few hundred at a time."""
        ids = list(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            yield from self.db.execute(f"{select} ({','.join('?' * len(chunk))})", (self.target, *chunk))

    def _narrowed(self, asked: Iterable[str], select: str) -> Collection[str]:
        """Those of ``asked`` that ``select`` (one column, the target its one argument) may find. When
        the ledger holds fewer such values than are asked for (a new ledger, a million-row file), they
        are read once and matched here rather than asked for a few hundred at a time. ``asked`` may be
        a polars column: a million keys are then not all made Python strings at once."""
        asked = asked if isinstance(asked, Collection) else set(asked)
        if len(asked) < NARROW_FROM:
            return set(asked)
        (count,) = self.db.execute(f"SELECT COUNT(*) FROM ({select}) AS known", (self.target,)).fetchone()
        if count >= len(asked):
            return set(asked)
        return {r[0] for r in self.db.tuples(select, (self.target,))}.intersection(asked)

    def run_dates(self, run_ids: Iterable[int]) -> dict[int, str]:
        """run id -> when it started (ISO 8601, UTC)."""
        ids = sorted(set(run_ids))
        out: dict[int, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            out.update(self.db.execute(f"SELECT id, started_at FROM runs WHERE id IN ({','.join('?' * len(chunk))})",
                                       chunk).fetchall())
        return out

    def interrupted_rows(self, file_sha256: str) -> set[tuple[str, int, str]]:
        """(sheet, row number, line-item id) of this file's rows whose latest run stopped before its end.

        Such a run was killed (no exit code) or stopped early (exit 3): a run of the same file
        continues it. A row whose latest run finished was reported, and is a duplicate if sent again.
        The sheet is '' for a CSV file.
        """
        last: dict[tuple[str, int, str], int | None] = {}
        for sheet, row, line_id, code in self.db.execute(
                "SELECT rows.sheet, rows.row_number, rows.line_item_id, runs.exit_code FROM rows"
                " JOIN runs ON runs.id = rows.run_id WHERE rows.target = ? AND rows.file_sha256 = ?"
                " AND rows.line_item_id IS NOT NULL ORDER BY runs.id", (self.target, file_sha256)):
            last[(sheet, row, line_id)] = code
        return {key for key, code in last.items() if code is None or code == ExitCode.STOPPED}

    def rows_ordered(self, file_sha256: str) -> dict[tuple[str, int], str]:
        """(sheet, row number) -> line-item id, for this file's rows whose line item Tango has or
        may have (accepted, or in flight): what each row of this very file was ordered under."""
        found: dict[tuple[str, int], str] = {}
        for sheet, row, line_id in self.db.execute(
                "SELECT rows.sheet, rows.row_number, rows.line_item_id FROM rows JOIN line_items li"
                " ON li.target = rows.target AND li.line_item_id = rows.line_item_id"
                " WHERE rows.target = ? AND rows.file_sha256 = ? AND li.status IN (?, ?, ?, ?, ?)"
                " ORDER BY rows.run_id", (self.target, file_sha256, *sorted(AT_TANGO | {Status.SENDING}))):
            found[(sheet, row)] = line_id
        return found

    def ordered_to(self, recipients: Iterable[str]) -> list[OrderedTo]:
        """The line items Tango accepted (SUBMITTED or COMPLETE) for these recipients."""
        found = list(self._where_in(
            "SELECT li.line_item_id, li.recipient, li.status, li.utid, li.campaign, li.details, li.batch_ref,"
            " li.accepted_run, runs.started_at FROM line_items li LEFT JOIN runs ON runs.id = li.accepted_run"
            f" WHERE li.status IN ('{Status.SUBMITTED}', '{Status.COMPLETE}') AND li.target = ? AND li.recipient IN",
            self._narrowed(recipients, f"SELECT recipient FROM line_items WHERE status IN ('{Status.SUBMITTED}',"
                           f" '{Status.COMPLETE}') AND target = ? AND recipient IS NOT NULL")))
        origin: dict[str, tuple[str, str, int]] = {}            # the row of the latest run that had it
        for r in self._where_in("SELECT line_item_id, file_name, sheet, row_number, run_id FROM rows r1 WHERE"
                                " run_id = (SELECT MAX(run_id) FROM rows r2 WHERE r2.target = r1.target AND"
                                " r2.line_item_id = r1.line_item_id) AND target = ? AND line_item_id IN",
                                {r["line_item_id"] for r in found}):
            origin[r[0]] = (r[1], r[2], r[3])
        out = []
        for r in found:
            file, sheet, row = origin.get(r["line_item_id"], (None, None, None))
            out.append(OrderedTo(r["line_item_id"], r["recipient"], Status(r["status"]), r["utid"] or "", r["campaign"],
                                 json.loads(r["details"] or "{}"), r["batch_ref"], r["accepted_run"],
                                 r["started_at"], file, sheet or None, row))
        return out

    def file(self, sha256: str) -> FileRecord | None:
        r = self.db.execute("SELECT * FROM files WHERE target = ? AND sha256 = ?", (self.target, sha256)).fetchone()
        return _file(r) if r else None

    def files_with_lines(self, line_ids: Iterable[str]) -> list[FileRecord]:
        """The files whose rows (in the run that last worked on them) carry these line items."""
        shas = {r[0] for r in self._where_in(
            "SELECT DISTINCT file_sha256 FROM rows WHERE target = ? AND line_item_id IN", set(line_ids))}
        return [f for f in (self.file(s) for s in sorted(shas)) if f is not None]

    def last_rows(self, sha256: str, run_id: int) -> dict[tuple[str, int], RowRecord]:
        """(sheet, row number) -> the row as run ``run_id`` recorded it for this file ('' for CSV)."""
        return {(r[4], r[0]): RowRecord(r[0], r[1], Status(r[2]), r[3], r[4] or None) for r in self.db.execute(
            "SELECT row_number, line_item_id, status, message, sheet FROM rows WHERE run_id = ? AND target = ?"
            " AND file_sha256 = ?", (run_id, self.target, sha256))}

    def runs_since(self, since: str | None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM runs WHERE target = ?", [self.target]
        if since:
            sql += " AND started_at >= ?"
            args.append(since)
        return [dict(r) for r in self.db.execute(sql + " ORDER BY id", args)]

    def row_counts(self) -> dict[str, int]:
        """Rows per status, each row of each file (as its last run read it) counted by its real outcome:
        the status of its line item now, so that a reward an earlier run delivered counts as delivered,
        not as the DUPLICATE a later run of the file called it. Each reward counts once, on the first
        row that has it (files in the order they were first run); any other row with it is a DUPLICATE."""
        counts: dict[str, int] = {}
        seen: set[str] = set()
        for line, row_status, item_status in self.db.execute(
                "SELECT rows.line_item_id, rows.status, line_items.status FROM rows"
                " JOIN files ON files.target = rows.target AND files.sha256 = rows.file_sha256"
                " AND files.last_run = rows.run_id LEFT JOIN line_items ON line_items.target = rows.target"
                " AND line_items.line_item_id = rows.line_item_id WHERE rows.target = ?"
                " ORDER BY files.first_run, rows.file_sha256, rows.sheet, rows.row_number", (self.target,)):
            status = row_status
            if line and item_status in AT_TANGO:
                status = Status.DUPLICATE.value if line in seen else item_status
                seen.add(line)
            counts[status] = counts.get(status, 0) + 1
        return counts

    def run_files(self, run_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
        """The files each run worked on (name and sha256), with their rows per status as that run left them."""
        out: dict[int, dict[str, dict[str, Any]]] = {}
        for run_id, sha, name, status, n in self.db.execute(
                "SELECT run_id, file_sha256, MIN(file_name), status, COUNT(*) FROM rows WHERE target = ?"
                " GROUP BY run_id, file_sha256, status ORDER BY run_id, MIN(file_name)", (self.target,)):
            file = out.setdefault(run_id, {}).setdefault(sha, {"file": name, "sha256": sha, "rows": 0,
                                                              "status_counts": {}})
            file["rows"] += n
            file["status_counts"][status] = file["status_counts"].get(status, 0) + n
        wanted = set(run_ids)
        return {r: list(f.values()) for r, f in out.items() if r in wanted}

    def counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.db.execute(
            "SELECT status, COUNT(*) FROM line_items WHERE target = ? GROUP BY status", (self.target,))}

    # --- line items and batches ---------------------------------------------------------------
    def lines(self, ids: Iterable[str]) -> dict[str, LineRecord]:
        # sorted: neighbours in the table (see Ledger.add_pending)
        ids = sorted(self._narrowed(ids, "SELECT line_item_id FROM line_items WHERE target = ?"))
        found: dict[str, LineRecord] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for r in self.db.tuples(f"SELECT {LINE_COLUMNS} FROM line_items WHERE target = ? AND line_item_id IN"
                                    f" ({','.join('?' * len(chunk))})", (self.target, *chunk)):
                found[r[0]] = LineRecord(r[0], _STATUS[r[1]], *r[2:])
        return found

    def batches(self, *, states: Iterable[BatchState] | None = None, unfinished: bool = False,
                deliveries: bool = False) -> list[BatchRecord]:
        """Batches by state; ``unfinished``: accepted, lines not final; ``deliveries``: accepted, lines
        final, physical rewards not yet delivered."""
        sql = "SELECT * FROM batches WHERE target = ?"
        args: list[Any] = [self.target]
        if states is not None:
            states = list(states)
            sql += f" AND state IN ({','.join('?' * len(states))})"
            args += states
        if unfinished:
            sql += " AND state = ? AND final = 0"
            args.append(BatchState.ACCEPTED)
        if deliveries:
            sql += " AND state = ? AND final = 1 AND delivery_open = 1"
            args.append(BatchState.ACCEPTED)
        if self.accounts is not None:           # a shared ledger: only the orders of the accounts held
            sql += f" AND customer || '/' || account IN ({','.join('?' * len(self.accounts)) or 'NULL'})"
            args += [f"{customer}/{account}" for customer, account in self.accounts]
        sql += " ORDER BY created_at, external_ref_id"
        return [self._batch(r) for r in self.db.execute(sql, args).fetchall()]

    def batch(self, ref: str) -> BatchRecord | None:
        r = self.db.execute("SELECT * FROM batches WHERE target = ? AND external_ref_id = ?",
                            (self.target, ref)).fetchone()
        return self._batch(r) if r else None

    def _batch(self, r: Row) -> BatchRecord:
        members = tuple(m[0] for m in self.db.execute(
            "SELECT line_item_id FROM batch_members WHERE target = ? AND external_ref_id = ?"
            " ORDER BY position", (self.target, r["external_ref_id"])))
        return BatchRecord(r["external_ref_id"], r["member_key"], r["generation"], r["customer"],
                           r["account"], BatchState(r["state"]), r["order_status"], bool(r["final"]),
                           r["attempts"], r["payload"], r["run_id"], members, r["created_at"],
                           bool(r["delivery_open"]))

    def accepted_among(self, refs: Iterable[str]) -> set[str]:
        """Which of these batches Tango accepted."""
        return {r[0] for r in self._where_in(
            f"SELECT external_ref_id FROM batches WHERE state = '{BatchState.ACCEPTED}' AND target = ?"
            " AND external_ref_id IN", refs)}

    def members_of(self, refs: Iterable[str]) -> list[str]:
        """The line items of these batches."""
        return [r[0] for r in self._where_in(
            "SELECT line_item_id FROM batch_members WHERE target = ? AND external_ref_id IN", refs)]


def _file(r: Row) -> FileRecord:
    return FileRecord(r["sha256"], r["name"], r["path"], FileState(r["state"]), r["run_date"], r["sheet"],
                      r["report_folder"], r["first_run"], r["last_run"], json.loads(r["campaign"] or "{}"))


# a LineRecord's fields, in its order
LINE_COLUMNS = ("line_item_id, status, batch_ref, reference_line_item_id, message, amount, quantity, first_run,"
                " accepted_run, delivery_status")
_STATUS = {s.value: s for s in Status}
