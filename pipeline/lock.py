"""One run at a time: an exclusive lock on a file beside the ledger.

``flock`` locks belong to the process: when a run is killed, the kernel releases its lock, so a
lock left by a killed run never blocks the next night. The file keeps the holder's pid and start
time only to say who holds it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from pathlib import Path
from types import TracebackType

from pipeline.environment import why
from pipeline.errors import LedgerUnusable, Locked
from pipeline.masking import shown

__all__ = ["RunLock"]


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
