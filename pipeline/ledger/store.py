"""The ledger's database, behind one small interface with two backends: an SQLite file (here) and
a PostgreSQL database (``postgres.py``). The ledger's SQL is written once, in the part of SQL both
engines speak, with ``?`` for its parameters; each store runs it on its engine.

A store gives rows that read by position and by column name, runs a state change as one
transaction (``tx``), and says its schema's version, which ``migrate`` brings up to date, in one
transaction, the same way on both.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, Protocol

from pipeline.errors import UsageError
from pipeline.ledger.opening import failures_of

__all__ = ["Cursor", "Row", "SqliteStore", "Store"]


class Row(Protocol):
    """A row: by position, or by column name."""
    def __getitem__(self, key: int | str, /) -> Any: ...
    def keys(self) -> list[str]: ...


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Store(Protocol):
    dialect: str                            # "sqlite" or "postgresql"
    where: str                              # the ledger, as printed (never with a password)

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Cursor: ...
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Cursor: ...
    def tuples(self, sql: str, args: Sequence[Any] = (), stream: bool = False) -> Iterator[tuple[Any, ...]]: ...
    def tx(self) -> AbstractContextManager[Store]: ...
    def version(self) -> int: ...
    def set_version(self, version: int) -> None: ...
    def schema_lock(self) -> AbstractContextManager[None]: ...
    def grew(self, table: str, rows: int) -> None: ...
    def close(self) -> None: ...


class SqliteStore:
    """One SQLite file (or a copy in memory). Its schema's version is ``PRAGMA user_version``; a
    state change is ``BEGIN IMMEDIATE`` .. ``COMMIT``, which waits for another writer (see opening)."""
    dialect = "sqlite"

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db, self.path, self.where = db, path, str(path)
        self.db.row_factory = sqlite3.Row

    def execute(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.db.execute(sql, args)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        return self.db.executemany(sql, rows)

    def tuples(self, sql: str, args: Sequence[Any] = (), stream: bool = False) -> Iterator[tuple[Any, ...]]:
        """Rows as tuples (SQLite's cursor reads them as they are asked for: every read streams)."""
        cursor = self.db.cursor()
        cursor.row_factory = None               # plain tuples: a run reads every line of its files
        yield from cursor.execute(sql, args)

    @contextmanager
    def tx(self) -> Iterator[SqliteStore]:
        with failures_of(self.path):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def set_version(self, version: int) -> None:
        self.db.execute(f"PRAGMA user_version = {int(version)}")

    def schema_lock(self) -> AbstractContextManager[None]:
        """Nothing more: the migration's BEGIN IMMEDIATE already keeps every other writer out."""
        return nullcontext()

    def grew(self, table: str, rows: int) -> None:
        """Nothing: SQLite's planner finds the ledger's keys without statistics."""

    def close(self) -> None:
        self.db.close()


def migrate(store: Store, migrations: Sequence[Sequence[str]]) -> None:
    """The migrations this ledger lacks, in one transaction (another process may race us to it)."""
    version = store.version()
    if version > len(migrations):
        raise UsageError(f"the ledger at {store.where} was written by a newer tango-batch (schema {version}; "
                         f"this one knows {len(migrations)}): use that version, or a newer one")
    if version == len(migrations):
        return
    with store.schema_lock(), store.tx():
        for number in range(store.version(), len(migrations)):
            for statement in migrations[number]:
                store.execute(statement)
        store.set_version(len(migrations))
