"""Merging a ledger into another: what an older version kept under ``OUTPUT/ledger.sqlite``, or a
ledger brought from another machine, joins the customer's ledger, so nothing it knew is forgotten.

Runs are renumbered after the receiving ledger's; a line item or a batch both ledgers know keeps
the record that went furthest (a line Tango has wins over one in flight, which wins over one
pending); every row, member and HTTP line of the merged ledger is kept. One transaction: the
merge happens whole or not at all.

The ledger merged is an SQLite file; the one it joins may be either kind. SQLite attaches the file;
PostgreSQL first copies its tables into temporary ones (``COPY``), then runs the same statements.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.ledger.core import Ledger
from pipeline.model import AT_TANGO, BatchState, Status

__all__ = ["Merged", "merge"]


@dataclass(frozen=True)
class Merged:
    runs: int
    line_items: int
    batches: int


def _rank(column: str) -> str:
    """How far a line item went, as a number SQLite can compare."""
    at_tango = ", ".join(f"'{s}'" for s in sorted(AT_TANGO))
    return (f"CASE WHEN {column} IN ({at_tango}) THEN 3 WHEN {column} = '{Status.SENDING}' THEN 2"
            f" WHEN {column} = '{Status.REJECTED}' THEN 1 ELSE 0 END")


def _batch_rank(column: str) -> str:
    return (f"CASE WHEN {column} = '{BatchState.ACCEPTED}' THEN 2 WHEN {column} = '{BatchState.SENDING}' THEN 1"
            " ELSE 0 END")


LINE_COLUMNS = ("target, line_item_id, status, batch_ref, reference_line_item_id, message, amount, quantity,"
                " delivery_method, first_run, accepted_run, updated_at, delivery_status, recipient, utid, campaign,"
                " details")
BATCH_COLUMNS = ("target, external_ref_id, member_key, generation, customer, account, state, order_status, final,"
                 " attempts, last_http, last_request_id, message, payload, run_id, created_at, updated_at,"
                 " delivery_open")


TABLES = ("runs", "line_items", "batches", "batch_members", "rows", "files", "http_log", "ledger_checks", "users",
          "file_events", "approvals")


def _statements(offset: int, old: Callable[[str], str], least: str) -> list[str]:
    remapped_line = LINE_COLUMNS.replace("first_run,", f"first_run + {offset},").replace(
        "accepted_run,", f"accepted_run + {offset},")
    return [
        f"INSERT INTO runs (id, target, command, started_at, finished_at, exit_code, note) SELECT id + {offset},"
        f" target, command, started_at, finished_at, exit_code, note FROM {old('runs')}",
        f"INSERT INTO line_items ({LINE_COLUMNS}) SELECT {remapped_line} FROM {old('line_items')} WHERE true"
        " ON CONFLICT (target, line_item_id) DO UPDATE SET status = excluded.status, batch_ref = excluded.batch_ref,"
        " reference_line_item_id = excluded.reference_line_item_id, message = excluded.message,"
        " accepted_run = excluded.accepted_run, delivery_status = excluded.delivery_status,"
        " updated_at = excluded.updated_at"
        f" WHERE {_rank('excluded.status')} > {_rank('line_items.status')}",
        f"INSERT INTO batches ({BATCH_COLUMNS}) SELECT {BATCH_COLUMNS.replace('run_id,', f'run_id + {offset},')}"
        f" FROM {old('batches')} WHERE true ON CONFLICT (target, external_ref_id) DO UPDATE SET"
        " state = excluded.state, order_status = excluded.order_status, final = excluded.final,"
        " delivery_open = excluded.delivery_open, updated_at = excluded.updated_at"
        f" WHERE {_batch_rank('excluded.state')} > {_batch_rank('batches.state')}",
        f"INSERT INTO batch_members SELECT * FROM {old('batch_members')} WHERE true ON CONFLICT DO NOTHING",
        f"INSERT INTO rows SELECT run_id + {offset}, target, file_sha256, file_name, sheet, row_number,"
        f" line_item_id, status, message FROM {old('rows')} WHERE true ON CONFLICT DO NOTHING",
        f"INSERT INTO files SELECT target, sha256, name, path, state, run_date, sheet, report_folder, campaign,"
        f" first_run + {offset}, last_run + {offset}, note, updated_at FROM {old('files')} WHERE true"
        " ON CONFLICT (target, sha256) DO UPDATE SET path = excluded.path, state = excluded.state,"
        " run_date = excluded.run_date, sheet = excluded.sheet, report_folder = excluded.report_folder,"
        " campaign = excluded.campaign, last_run = excluded.last_run, updated_at = excluded.updated_at"
        " WHERE excluded.updated_at > files.updated_at",
        f"INSERT INTO http_log (target, run_id, at, method, path, status, request_id, outcome) SELECT target,"
        f" run_id + {offset}, at, method, path, status, request_id, outcome FROM {old('http_log')}",
        f"INSERT INTO ledger_checks SELECT * FROM {old('ledger_checks')} WHERE true ON CONFLICT (target, customer,"
        f" account) DO UPDATE SET checked_at = {least}(ledger_checks.checked_at, excluded.checked_at)",
        # the desk: a user both know keeps the receiving ledger's record; a file's latest decision wins
        f"INSERT INTO users SELECT * FROM {old('users')} WHERE true ON CONFLICT DO NOTHING",
        f"INSERT INTO file_events (target, sha256, at, actor, event, detail) SELECT target, sha256, at, actor, event,"
        f" detail FROM {old('file_events')}",
        f"INSERT INTO approvals SELECT * FROM {old('approvals')} WHERE true ON CONFLICT (target, sha256) DO UPDATE"
        " SET decision = excluded.decision, by_user = excluded.by_user, role = excluded.role, at = excluded.at,"
        " total = excluded.total, line_count = excluded.line_count, reason = excluded.reason,"
        " over_limit = excluded.over_limit WHERE excluded.at > approvals.at",
    ]


def merge(into: Ledger, other: Path) -> Merged:
    """Merge the ledger at ``other`` (an SQLite file) into ``into``; ``other`` is migrated first, and
    left as it was."""
    Ledger(other, into.target).close()          # brings its schema up to date
    if into.db.dialect == "postgresql":
        return _into_postgres(into, other)
    db = into.db
    db.execute("ATTACH DATABASE ? AS old", (str(other),))
    try:
        counts = Merged(*(db.execute(f"SELECT COUNT(*) FROM old.{t}").fetchone()[0]
                          for t in ("runs", "line_items", "batches")))
        with into.tx():
            offset = db.execute("SELECT COALESCE(MAX(id), 0) FROM runs").fetchone()[0]
            for statement in _statements(offset, lambda t: f"old.{t}", "min"):
                db.execute(statement)
    finally:
        db.execute("DETACH DATABASE old")
    return counts


def _into_postgres(into: Ledger, other: Path) -> Merged:
    """The SQLite file's tables copied into temporary tables, then merged as SQLite merges them."""
    pg: Any = into.db.db                         # type: ignore[attr-defined]   # the psycopg connection
    counts: dict[str, int] = {}
    with closing(sqlite3.connect(f"{other.resolve().as_uri()}?mode=ro", uri=True)) as source, into.tx() as db:
        # runs keep their numbers, moved past the ledger's: no worker of another account may start one meanwhile
        db.execute("LOCK TABLE runs IN EXCLUSIVE MODE")
        for table in TABLES:
            db.execute(f"CREATE TEMP TABLE old_{table} (LIKE {table}) ON COMMIT DROP")
            rows = source.execute(f"SELECT * FROM {table}")
            counts[table] = 0
            with pg.cursor().copy(f"COPY old_{table} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    counts[table] += 1
        offset = db.execute("SELECT COALESCE(MAX(id), 0) FROM runs").fetchone()[0]
        for statement in _statements(offset, lambda t: f"old_{t}", "LEAST"):
            db.execute(statement)
        db.execute("SELECT setval(pg_get_serial_sequence('runs', 'id'), (SELECT MAX(id) FROM runs))")
    return Merged(counts["runs"], counts["line_items"], counts["batches"])
