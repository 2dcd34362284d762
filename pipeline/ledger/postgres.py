"""The ledger in PostgreSQL (psycopg 3): the store, and what the server or the network say about it
in words that name the ledger (never its password) and the way on.

The ledger's SQL takes ``?`` for its parameters; here they become psycopg's ``%s``. A state change
is one transaction (``tx``); a view (``view=True``) is one transaction that is never committed:
``validate`` reads the ledger as ``run`` would see it, and what it adds there (an older ledger
merged in) is rolled back when it closes. Each connection names itself (``application_name``:
"tango-batch pid N on HOST"), so that whoever holds a lock can be told; TCP keepalives let the
server notice a worker whose machine went away, and release what it held.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from pipeline.errors import LedgerUnusable, Locked
from pipeline.masking import mask
from pipeline.state import LedgerURL

__all__ = ["PostgresStore", "connect", "failures_of", "name"]

LOCK_WAIT_MS = 5000                         # as SQLite's LOCK_WAIT: a row lock held longer is said
SCHEMA_LOCK = 0x7461_6E67_6F00             # the advisory lock taken while migrating ("tango\0")
ANALYZE_AFTER = 1000                        # rows written at once that refresh the planner's statistics


def name() -> str:
    return f"tango-batch pid {os.getpid()} on {socket.gethostname()}"[:63]


def connect(where: LedgerURL, autocommit: bool = True) -> psycopg.Connection[Any]:
    with failures_of(where):
        return psycopg.connect(where.url, autocommit=autocommit, application_name=name(), connect_timeout=10,
                               keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3,
                               options=f"-c lock_timeout={LOCK_WAIT_MS}")


@lru_cache(maxsize=512)
def _pg(sql: str) -> str:
    """The ledger's SQL for psycopg: ``?`` as ``%s`` (no ``?`` or ``%`` is written in its literals)."""
    return sql.replace("%", "%%").replace("?", "%s")


class _Row:
    """A row by position or by column name (as SQLite's ``sqlite3.Row``)."""
    __slots__ = ("names", "values")

    def __init__(self, names: dict[str, int], values: Sequence[Any]) -> None:
        self.names, self.values = names, values

    def __getitem__(self, key: int | str, /) -> Any:
        return self.values[self.names[key]] if isinstance(key, str) else self.values[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def keys(self) -> list[str]:
        return list(self.names)


def _rows(cursor: Any) -> Any:
    names = {column.name: i for i, column in enumerate(cursor.description or ())}
    return lambda values: _Row(names, values)


class PostgresStore:
    dialect = "postgresql"

    def __init__(self, where: LedgerURL, *, view: bool = False) -> None:
        self.url, self.where = where, str(where)
        self.db = connect(where, autocommit=not view)
        self.view = view
        if view:        # the view's transaction, begun now: each ``tx`` in it is a savepoint, never a commit
            self.execute("SELECT 1")

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Any:
        with failures_of(self.url):
            cursor = self.db.cursor(row_factory=_rows)
            cursor.execute(_pg(sql), args or None)
            return cursor

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any:
        with failures_of(self.url):
            cursor = self.db.cursor()
            cursor.executemany(_pg(sql), rows)
            return cursor

    def tuples(self, sql: str, args: Sequence[Any] = (), stream: bool = False) -> Iterator[tuple[Any, ...]]:
        """Rows as tuples; ``stream``: a few thousand at a time from the server (an export of the whole
        ledger), the connection busy until the last is read."""
        with failures_of(self.url):
            if stream:
                yield from self.db.cursor().stream(_pg(sql), args or None, size=2000)
            else:
                yield from self.db.cursor().execute(_pg(sql), args or None)

    @contextmanager
    def tx(self) -> Iterator[PostgresStore]:
        with failures_of(self.url), self.db.transaction():
            yield self

    def grew(self, table: str, rows: int) -> None:
        """``rows`` rows were just written to ``table``: when they are many, the planner's statistics
        are refreshed at once (``ANALYZE``, a few milliseconds), rather than when the server's autovacuum
        comes by: until then a new ledger's tables look empty to it, and it reads each run's thousands of
        lines by scanning them all instead of through their key."""
        if rows >= ANALYZE_AFTER and not self.view:
            self.execute(f"ANALYZE {table}")

    def version(self) -> int:
        found = self.execute("SELECT to_regclass('ledger_schema') IS NOT NULL").fetchone()[0]
        return int(self.execute("SELECT version FROM ledger_schema").fetchone()[0]) if found else 0

    def set_version(self, version: int) -> None:
        self.execute("CREATE TABLE IF NOT EXISTS ledger_schema (version INTEGER NOT NULL)")
        self.execute("DELETE FROM ledger_schema")
        self.execute("INSERT INTO ledger_schema VALUES (?)", (version,))

    @contextmanager
    def schema_lock(self) -> Iterator[None]:
        """One migration at a time: the others wait here, then find it done. Taken before the migration's
        transaction begins (and held for the session until it ends), so that the transaction, begun after
        the wait, sees the tables the one before made (the server refreshes its catalog at a transaction's
        start, not on an advisory lock)."""
        if self.view:               # a view's transaction has begun already; it is never committed
            yield
            return
        self.execute("SELECT pg_advisory_lock(?)", (SCHEMA_LOCK,))
        try:
            yield
        finally:
            if not self.db.closed and not self.db.broken:
                self.execute("SELECT pg_advisory_unlock(?)", (SCHEMA_LOCK,))

    def close(self) -> None:
        with failures_of(self.url):
            if self.view and not self.db.closed:
                self.db.rollback()
            self.db.close()


def _said(exc: BaseException) -> str:
    """What the server or libpq said, on one line, without a password."""
    text = str(exc).strip().splitlines()
    return mask(re.sub(r"\s+", " ", text[0] if text else type(exc).__name__))


@contextmanager
def failures_of(where: LedgerURL) -> Iterator[None]:
    """psycopg's errors about the ledger, said with its address (masked) and what to do."""
    try:
        yield
    except (pg_errors.LockNotAvailable, pg_errors.QueryCanceled) as exc:
        raise Locked(f"the ledger {where} is locked by another program ({_said(exc)}); try again when it has "
                     "finished") from None
    except (pg_errors.DiskFull, pg_errors.InsufficientPrivilege, pg_errors.ReadOnlySqlTransaction,
            pg_errors.AdminShutdown, pg_errors.CannotConnectNow) as exc:
        raise LedgerUnusable(f"the ledger {where} cannot be used ({_said(exc)}): the run stopped; nothing already "
                             "recorded was lost. Ask its database's administrator, then run the same command "
                             "again") from None
    except psycopg.DataError as exc:        # a value PostgreSQL cannot keep (a NUL byte in a text, say)
        raise LedgerUnusable(f"the ledger {where} refused a value ({_said(exc)}): the run stopped; nothing already "
                             "recorded was lost. Look for a strange character in the campaign file or the sheet, "
                             "fix it and run the same command again") from None
    except psycopg.OperationalError as exc:
        raise LedgerUnusable(f"the ledger {where} cannot be reached ({_said(exc)}): the run stopped; nothing "
                             "already recorded was lost. Check that its PostgreSQL server is running and that the "
                             "URL, the user and the password (PGPASSWORD or ~/.pgpass) are right, then run the "
                             "same command again") from None
