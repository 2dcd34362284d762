"""Every exception the pipeline raises, in two families.

- ``Rerunnable``: everything is recorded, and the same command run again (later, or once the cause
  outside the sheet is fixed: a top-up, the credentials, Tango back up) continues where it stopped.
- ``NeedsFix``: a rerun alone gets nowhere: a person must change the file or the command.

Row-level problems are not exceptions: they are ``Issue`` records (see ``pipeline.model``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pipeline.masking import mask, shown

__all__ = [
    "AuthFailed",
    "BadAnswer",
    "InputError",
    "InsufficientFunds",
    "LedgerUnusable",
    "Locked",
    "NeedsFix",
    "PipelineError",
    "Rejected",
    "Rerunnable",
    "Shortfall",
    "Stop",
    "TangoError",
    "Unavailable",
    "Unwritable",
    "UsageError",
    "bugs",
    "env_number",
]


def bugs() -> tuple[type[BaseException], ...]:
    """What a bug raises, for ``except bugs():``: any ``Exception``, and a panic inside polars' Rust
    code, which is a ``BaseException`` (counted only once polars is loaded: --help never loads it)."""
    panic = getattr(sys.modules.get("polars.exceptions"), "PanicException", None)
    return (Exception, panic) if isinstance(panic, type) else (Exception,)


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""


class Rerunnable(PipelineError):
    """Nothing is lost: running the same command again continues."""


class NeedsFix(PipelineError):
    """A person must change the file or the command before a rerun can do better."""


class UsageError(NeedsFix):
    """A wrong command line or campaign file: nothing is read, exit 64."""


def env_number(env: Mapping[str, str], name: str, default: float, must: str, ok: Callable[[float], bool]) -> float:
    """The number the environment variable ``name`` holds, ``default`` when it is unset or blank; a
    UsageError ("NAME must be MUST; it is ...") when it is not a number, or one ``ok`` refuses (nan
    fails every comparison ``ok`` makes)."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{name} must be {must}; it is {text!r}") from None
    if not ok(value):
        raise UsageError(f"{name} must be {must}; it is {text!r}")
    return value


class InputError(NeedsFix):
    """A file that cannot be read as a sheet of recipients: the file is skipped, exit 2.

    The message names the file and, where known, the sheet, row and column.
    """

    def __init__(self, file: str, reason: str, *, sheet: str | None = None,
                 row: int | None = None, column: str | None = None) -> None:
        # the message may quote a cell or a name from outside: masked and printable
        file, reason = shown(file), mask(shown(reason))
        sheet = shown(sheet) if sheet else sheet
        self.file, self.reason, self.sheet, self.row, self.column = file, reason, sheet, row, column
        where = [file]
        if sheet:
            where.append(f"sheet '{sheet}'")
        if row:
            where.append(f"row {row}")
        if column:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {reason}")


@dataclass(frozen=True)
class Shortfall:
    """An account whose balance does not cover the rows to send from it (the pre-flight's finding)."""
    account: str                    # its accountIdentifier
    names: tuple[str, ...]          # the campaign file's names for it ([accounts])
    balance: Decimal
    needed: Decimal

    @property
    def short_by(self) -> Decimal:
        return self.needed - self.balance


class Stop(Rerunnable):
    """The run must stop sending (credentials, funds, Tango unavailable); a rerun continues, exit 3.

    ``can_follow``: Tango still answers (funds ran out), so accepted orders can be followed.
    ``short``: the pre-flight found an account short of funds: which, and by how much.
    """

    def __init__(self, reason: str, can_follow: bool = False, short: Shortfall | None = None) -> None:
        super().__init__(reason)
        self.can_follow, self.short = can_follow, short


class Locked(Rerunnable):
    """Another run (or another program) holds the lock or the ledger: try again later, exit 75."""


class Unwritable(Rerunnable):
    """The output folder cannot be written (read-only, full, not a folder): exit 3; what was recorded
    stays, and the same command continues once there is room."""


class LedgerUnusable(Rerunnable):
    """The ledger file cannot be used (read-only, a folder, not a database, damaged, emptied): exit 3.
    Nothing was sent without being recorded; the message names the file and the way to recover."""


class TangoError(PipelineError):
    """An answer from Tango (or the lack of one) that the caller must act on."""

    def __init__(self, message: str, *, status: int | None = None, i18n_key: str | None = None,
                 errors: list[dict[str, Any]] | None = None, request_id: str | None = None,
                 attempts: int = 1, after_unknown: bool = False) -> None:
        super().__init__(message)
        self.message, self.status, self.i18n_key = message, status, i18n_key
        self.errors, self.request_id, self.attempts = errors or [], request_id, attempts
        # an earlier attempt of the same request may have gone through (no answer, or a 5xx):
        # this answer then says nothing definite about whether the order exists
        self.after_unknown = after_unknown


class AuthFailed(TangoError, NeedsFix):
    """401: the platform name or key is wrong. Stop the run."""


class InsufficientFunds(TangoError, Rerunnable):
    """402: the account cannot pay for this order. Stop sending; unsent rows stay pending."""


class Rejected(TangoError, NeedsFix):
    """400/403/404/422: the request is wrong. Not retried; the message goes to the rows."""


class Unavailable(TangoError, Rerunnable):
    """No definite answer after every retry (5xx, timeouts, dropped connections, 429s)."""


class BadAnswer(TangoError, Rerunnable):
    """An answer that cannot be right (a page answered twice, a list without end): not believed."""
