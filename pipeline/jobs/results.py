"""What the ``run`` and ``nightly`` jobs hand back: an exit code and what happened to each file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.errors import Shortfall
from pipeline.model import ExitCode, Status

__all__ = ["FileOutcome", "RunResult"]


@dataclass
class FileOutcome:
    path: str
    sha256: str | None = None
    summary: dict[str, Any] | None = None   # the file's summary.json, with its report paths
    error: str | None = None                # the file could not be read (or not run): why
    same_as: str | None = None              # the same content as another file of this run
    unreported: str | None = None           # its rows were run, but its report could not be written: why

    @property
    def pending(self) -> bool:
        return bool(self.summary and self.summary["status_counts"].get(Status.PENDING.value))


@dataclass
class RunResult:
    code: ExitCode
    run_id: int | None
    outcomes: list[FileOutcome]
    figures: dict[str, Any]                 # what was done at Tango: posts, accepted, retries...
    stopped: str | None = None              # why sending stopped early, when it did
    short: Shortfall | None = None          # the account the pre-flight found short of funds, when it did

    @property
    def files(self) -> list[dict[str, Any]]:
        return [o.summary for o in self.outcomes if o.summary is not None]
