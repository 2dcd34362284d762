"""One file through the stages: ingest → normalize → validate → report.

Submission (plan batches → submit → follow) slots in between validate and report.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import Settings
from pipeline.ingest import read_sheet
from pipeline.normalize import normalize
from pipeline.progress import Progress
from pipeline.report import new_folder, summarize, write_reports
from pipeline.validate import Validated, validate

__all__ = ["FileResult", "validate_file"]


@dataclass(frozen=True)
class FileResult:
    file: str
    folder: Path
    paths: dict[str, Path]
    summary: dict
    validated: Validated

    @property
    def invalid(self) -> int:
        return self.summary["status_counts"]["INVALID"]


def validate_file(path: str | Path, settings: Settings, progress: Progress | None = None) -> FileResult:
    """Check one upload and write its reports. Raises InputError if the file cannot be read."""
    progress = progress or Progress(bar=False)
    started = dt.datetime.now().astimezone()
    sheet = read_sheet(path, settings.sheet)
    where = f" (sheet '{sheet.sheet}')" if sheet.sheet else ""
    progress.say(f"{sheet.name}{where}: {sheet.frame.height} rows, header on row {sheet.header_row}")
    defaults = settings.campaign.defaults if settings.campaign else {}
    validated = validate(sheet, normalize(sheet, defaults), settings.today)
    summary = summarize(sheet, validated, started=started, mode="validate",
                        campaign_path=settings.campaign.path if settings.campaign else None)
    folder = new_folder(settings.output, sheet.path, started)
    with progress.rows("writing report", sheet.frame.height) as tick:
        paths = write_reports(folder, sheet, validated, summary, tick)
    return FileResult(str(path), folder, paths, summary, validated)
