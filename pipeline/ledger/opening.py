"""Opening a ledger file, and what SQLite or the file system say about it in words that name the
file and the way to recover: locked by another program (exit 75 after ``LOCK_WAIT`` seconds),
read-only, a folder, not a database, damaged or emptied (exit 3). Nothing here reads a sheet.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.environment import why
from pipeline.errors import LedgerUnusable, Locked
from pipeline.files import kind
from pipeline.ledger.schema import MIGRATIONS
from pipeline.masking import shown

__all__ = ["LOCK_WAIT", "connect", "create", "failures_of", "not_empty", "whole"]

LOCK_WAIT = 5.0        # seconds to wait for a ledger another program holds (the README says so)
RECOVER = ("Keep a copy of it (and of any file beside it ending in -wal), then restore the last backup, or "
           "move it aside and run 'tango-batch ledger rebuild' to read back from Tango what it had sent")


def connect(path: Path, read_only: bool = False) -> sqlite3.Connection:
    """The ledger's connection; ``read_only``: nothing written, not even the shared-memory file of
    the write-ahead log: on read-only media the ledger is then read as a file nobody changes."""
    if not read_only:
        return sqlite3.connect(path, isolation_level=None, timeout=LOCK_WAIT)
    uri = path.resolve().as_uri()
    try:
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None, timeout=LOCK_WAIT)
        db.execute("PRAGMA user_version").fetchone()
        return db
    except sqlite3.OperationalError as exc:
        if "unable to open" not in str(exc) and "readonly" not in str(exc):
            raise
    return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None, timeout=LOCK_WAIT)


def create(path: Path) -> None:
    """A new ledger, made aside and moved into place whole: a ledger file is never empty, so an
    empty one is a damaged one (see ``whole``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(f".{path.name}.new-{os.getpid()}")
    try:
        db = sqlite3.connect(fresh, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            for statements in MIGRATIONS:
                for statement in statements:
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        finally:
            db.close()
        try:
            os.link(fresh, path)            # never over a ledger another process made meanwhile
        except FileExistsError:
            pass
        except OSError:                     # a file system without hard links (FAT, some network shares)
            if not path.exists():
                os.rename(fresh, path)
    finally:
        fresh.unlink(missing_ok=True)


def not_empty(path: Path) -> None:
    """Refuse what SQLite must not open as a ledger: an empty file (it would make a new ledger of
    it), a named pipe or a device (it would wait on it for ever)."""
    if path.exists() and not path.is_file() and not path.is_dir():
        raise LedgerUnusable(f"the ledger {shown(str(path))} is {kind(path.stat().st_mode)}, not a file: give the "
                             "ledger's file (--ledger)")
    if path.is_file() and path.stat().st_size == 0:
        raise LedgerUnusable(f"the ledger {shown(str(path))} is empty (0 bytes), though a ledger is never written "
                             f"empty: it was cut off or replaced. {RECOVER}. If this is meant as a new ledger, "
                             "delete the empty file")


def whole(db: sqlite3.Connection, path: Path) -> None:
    """Refuse a ledger shorter than it says it is (cut off by a copy, a full disk). The pages are
    counted before the file is measured: a writer checkpointing meanwhile only makes the file longer.
    The write-ahead log lies beside the real file, wherever a link to it is."""
    pages = db.execute("PRAGMA page_count").fetchone()[0] * db.execute("PRAGMA page_size").fetchone()[0]
    real = path.resolve()
    size = real.stat().st_size
    wal = real.with_name(real.name + "-wal")
    if size < pages and not (wal.exists() and wal.stat().st_size > 0):
        raise LedgerUnusable(f"the ledger {shown(str(path))} is damaged: it is shorter ({size:,} bytes) than it "
                             f"says it is ({pages:,} bytes), as if cut off. {RECOVER}")


@contextmanager
def failures_of(path: Path) -> Iterator[None]:
    """SQLite's and the file system's errors about the ledger, said with its name and what to do."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        text = str(exc)
        if "locked" in text or "busy" in text:
            raise Locked(f"the ledger {shown(str(path))} is locked by another program (waited {LOCK_WAIT:.0f} s); "
                         "try again when it has finished (is someone holding it open in a database tool, or "
                         "another tango-batch run using it by another path?)") from None
        raise _unusable(path, text) from None
    except sqlite3.DatabaseError as exc:
        if type(exc) is not sqlite3.DatabaseError:      # an IntegrityError, a ProgrammingError...: a bug
            raise
        raise _unusable(path, str(exc)) from None
    except OSError as exc:
        raise _unusable(path, why(exc)) from None


def _unusable(path: Path, text: str) -> LedgerUnusable:
    where = shown(str(path))
    if path.is_dir():
        return LedgerUnusable(f"the ledger {where} is a folder, not a file: give the ledger's file (--ledger), "
                              "or move the folder away")
    if "malformed" in text:
        return LedgerUnusable(f"the ledger {where} is damaged ({text}). {RECOVER}")
    if "readonly" in text or "read-only" in text:
        return LedgerUnusable(f"the ledger {where} cannot be written ({text}): the run stopped; nothing already "
                              "recorded was lost. Make it writable (is its disk mounted read-only?) and run the same "
                              "command again")
    if "full" in text or "unable to open" in text or "I/O" in text or "permission" in text.lower():
        return LedgerUnusable(f"the ledger {where} cannot be used ({text}): the run stopped; nothing already "
                              "recorded was lost. Make room on its disk, or check that its folder can be written, "
                              "and run the same command again")
    return LedgerUnusable(f"the ledger {where} is not a readable ledger ({text}). {RECOVER}")
