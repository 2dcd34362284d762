"""One run at a time per account: for an SQLite ledger, an exclusive lock on a file beside it; for a
PostgreSQL ledger, advisory locks in the database.

``flock`` locks belong to the process: when a run is killed, the kernel releases its lock, so a
lock left by a killed run never blocks the next night. The file keeps the holder's pid and start
time only to say who holds it. It works for processes of one machine, as the SQLite file does.

PostgreSQL's session-level advisory locks belong to the worker's connection: when a worker dies,
its connection closes (or its TCP keepalives fail, for a machine gone) and the server releases its
locks. A run takes one lock per (target, customer, account) it may order under (``scope``), in one
fixed (sorted) order, so that two runs needing several accounts never wait on each other in a
circle; it takes them without waiting: a lock held elsewhere is exit 75, said with who holds it.
Every such run also holds the whole ledger's lock shared; what acts on the whole ledger (``status``
without a campaign, ``ledger merge``/``import``/``migrate``) holds it alone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import os
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pipeline.environment import why
from pipeline.errors import LedgerUnusable, Locked
from pipeline.masking import shown
from pipeline.state import LedgerURL, Where

if TYPE_CHECKING:
    from pipeline.config import StatusSettings

__all__ = ["AdvisoryLocks", "RunLock", "lock_key", "run_lock", "scope", "still_held"]


class RunLock:
    def __init__(self, ledger: Path) -> None:
        self.path = ledger.with_name(ledger.name + ".lock")
        self.fd: int | None = None

    def __enter__(self) -> RunLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            ledger = shown(str(self.path.with_suffix("")))
            raise LedgerUnusable(f"the ledger {ledger} cannot be used: its lock file {shown(str(self.path))} cannot "
                                 f"be written ({why(exc)}). The run stopped; nothing already recorded was lost. Make "
                                 "the ledger's folder writable (is its disk mounted read-only, or full?) and run "
                                 "the same command again") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise Locked(f"another tango-batch run is in progress ({holder}); the ledger at "
                         f"{self.path.with_suffix('')} is locked. Try again when it has finished.") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}, started {dt.datetime.now().astimezone():%Y-%m-%d %H:%M:%S %Z}".encode())
        self.fd = fd
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def lock_key(*parts: str) -> int:
    """A lock's number (PostgreSQL's advisory locks take a signed 64-bit integer)."""
    digest = hashlib.sha256("\x1f".join(("tango-batch", *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


WHOLE = "whole ledger"


class AdvisoryLocks:
    """The locks of ``accounts`` ((customer, account) pairs) in a PostgreSQL ledger, for ``target``;
    ``accounts=None``: the whole ledger, alone."""

    def __init__(self, where: LedgerURL, target: str, accounts: list[tuple[str, str]] | None) -> None:
        self.where, self.target, self.accounts = where, target, accounts
        self.db: Any = None
        self.count = 0                          # locks taken

    def _holder(self, key: int) -> str:
        found = self.db.execute(
            "SELECT a.application_name, a.backend_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = %s AND l.objid::bigint = %s"
            " AND l.objsubid = 1 LIMIT 1", ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF)).fetchone()
        if not found:
            return "another tango-batch run"
        return f"{found[0] or 'another program'}, connected {found[1].astimezone():%Y-%m-%d %H:%M:%S %Z}"

    def __enter__(self) -> AdvisoryLocks:
        from pipeline.ledger.postgres import connect, failures_of
        self.db = connect(self.where)
        with failures_of(self.where):
            whole = lock_key(self.target, WHOLE)
            how = "pg_try_advisory_lock" if self.accounts is None else "pg_try_advisory_lock_shared"
            wanted = [(whole, how, "the whole ledger")] + [
                (lock_key(self.target, customer, account), "pg_try_advisory_lock", f"account {account}")
                for customer, account in sorted(self.accounts or ())]
            for key, function, what in wanted:
                if not self.db.execute(f"SELECT {function}(%s)", (key,)).fetchone()[0]:
                    holder = self._holder(key)
                    self._release()
                    raise Locked(f"another tango-batch run holds {what} in the ledger {self.where} ({holder}); "
                                 "try again when it has finished")
        self.count = len(wanted)
        _HELD.append(self)
        return self

    def check(self) -> None:
        """Raise ``LedgerUnusable`` unless this session still holds every lock it took: the server may
        have ended it (a restart, an administrator, keepalives failing), and with it the locks, while
        the worker goes on writing through its other connection."""
        try:
            held = self.db.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                                   " AND pid = pg_backend_pid()").fetchone()[0]
        except Exception:               # the session is gone, whatever psycopg calls it
            held = 0
        if held < self.count:
            raise LedgerUnusable(f"this run's locks in the ledger {self.where} were lost (its session with the server "
                                 "ended): it stopped before sending more; nothing already recorded was lost. Run the "
                                 "same command again")

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self in _HELD:
            _HELD.remove(self)
        self._release()

    def _release(self) -> None:
        """Give the locks back before the session ends: its end releases them too, but only once the
        server's process has seen the connection close, a moment after ``close`` returns, and a run
        started in that moment would be told another holds them."""
        if self.db is not None and not self.db.closed:
            with contextlib.suppress(Exception):   # the session is gone, and its locks with it
                self.db.execute("SELECT pg_advisory_unlock_all()")
            self.db.close()
        self.db = None


_HELD: list[AdvisoryLocks] = []                 # the locks this process holds now


def still_held() -> None:
    """Before a batch is written ahead and sent: the locks of this process are still its own (see
    ``AdvisoryLocks.check``); nothing to check for a lock file, which the kernel keeps while we live."""
    for locks in _HELD:
        locks.check()


def scope(settings: StatusSettings) -> list[tuple[str, str]] | None:
    """The (customer, account) pairs a job may order under, or None for the whole ledger (``status``
    without a campaign, and any job on an SQLite ledger, whose lock is the whole file's)."""
    campaign = getattr(settings, "campaign", None)
    if campaign is None or not isinstance(settings.ledger, LedgerURL):
        return None
    return [(campaign.customerIdentifier, account) for account in campaign.account_identifiers]


def run_lock(settings: StatusSettings, whole: bool = False) -> RunLock | AdvisoryLocks:
    """The lock a job holds while it acts: see the module's text. ``whole``: the whole ledger."""
    where: Where = settings.ledger
    if isinstance(where, LedgerURL):
        return AdvisoryLocks(where, settings.target.namespace, None if whole else scope(settings))
    return RunLock(where)
