"""The ``validate`` job: check each file and write its report; nothing is sent, no ledger is kept."""

from __future__ import annotations

import datetime as dt
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import CheckSettings
from pipeline.errors import InputError
from pipeline.model import ExitCode, Status
from pipeline.progress import Progress
from pipeline.stages.check import Checked, check_sheet
from pipeline.stages.ingest import read_sheet
from pipeline.stages.report import new_folder, summarize, write_reports
from pipeline.stages.validate import Validated

__all__ = ["FileResult", "validate_file", "validate_files"]


@dataclass(frozen=True)
class FileResult:
    file: str
    folder: Path
    paths: dict[str, Path]
    summary: dict[str, Any]
    validated: Validated

    @property
    def invalid(self) -> int:
        return int(self.summary["status_counts"][Status.INVALID.value])


def validate_file(path: str | Path, settings: CheckSettings, progress: Progress | None = None) -> FileResult:
    """Check one upload and write its reports. Raises InputError if the file cannot be read."""
    progress = progress or Progress(bar=False)
    started = dt.datetime.now().astimezone()
    sheet = read_sheet(path, settings.book, settings.sheets)
    for line in sheet.reading():
        progress.say(line)
    checked = Checked(Path(path), sheet, check_sheet(sheet, settings.book, today=settings.today,
                                                     defaults=settings.defaults), started)
    summary = summarize(sheet, checked.validated, started=checked.started, mode="validate",
                        campaign_path=settings.campaign.path if settings.campaign else None)
    folder = new_folder(settings.output, sheet.path, checked.started)
    with progress.rows("writing report", sheet.frame.height) as tick:
        paths = write_reports(folder, sheet, checked.validated, summary, tick)
    return FileResult(str(path), folder, paths, summary, checked.validated)


def validate_files(paths: list[str], settings: CheckSettings, progress: Progress, *, debug: bool = False) -> ExitCode:
    """The whole ``validate`` command: each file checked and reported; the others go on when one fails."""
    code = ExitCode.OK
    for file in paths:
        try:
            result = validate_file(file, settings, progress)
        except InputError as exc:
            progress.say(f"error: {exc}")
            code = max(code, ExitCode.UNREADABLE)
            continue
        except Exception as exc:
            progress.say(f"internal error while processing {file}: {type(exc).__name__}: {exc}")
            if debug:
                traceback.print_exc(file=progress.stream)
            code = max(code, ExitCode.INTERNAL)
            continue
        counts = result.summary["status_counts"]
        progress.say(f"{Path(file).name}: {result.summary['rows']} rows: "
                     + ", ".join(f"{n} {s}" for s, n in counts.items())
                     + f"; total of valid rows ${result.summary['total_amount_valid']:,.2f}")
        progress.say(f"  report: {result.paths['report']}")
        if result.invalid:
            progress.say(f"  rows to fix: {result.paths['failures']}")
            code = max(code, ExitCode.ROWS_TO_FIX)
    return code
