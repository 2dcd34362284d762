"""The one check every job runs on a file: read → normalize → validate."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.stages.ingest import Sheet, read_sheet
from pipeline.stages.missing import missing_columns
from pipeline.stages.normalize import normalize
from pipeline.stages.validate import Validated, validate
from rules import RuleBook

__all__ = ["Checked", "check_file", "check_read", "check_sheet"]


@dataclass(frozen=True)
class Checked:
    """One file, read and checked: its sheet, each row's status and issues, and when it began."""
    path: Path
    sheet: Sheet
    validated: Validated
    started: dt.datetime


def check_sheet(sheet: Sheet, book: RuleBook, *, today: dt.date,
                defaults: Mapping[str, str] | None = None) -> Validated:
    """Normalize and validate a sheet already read: the campaign ``defaults`` fill empty cells."""
    return validate(sheet, normalize(sheet, book, defaults), today, book)


def check_file(path: str | Path, book: RuleBook, *, today: dt.date, sheet: str | Sequence[str] | None = None,
               defaults: Mapping[str, str] | None = None) -> Checked:
    """Read and check one file. Raises ``InputError`` when it cannot be read as a sheet."""
    started = dt.datetime.now().astimezone()
    return check_read(read_sheet(path, book, sheet), book, today=today, defaults=defaults, started=started)


def check_read(read: Sheet, book: RuleBook, *, today: dt.date, defaults: Mapping[str, str] | None,
               started: dt.datetime) -> Checked:
    """A sheet already read, checked; a column some rows need and the sheet lacks is also said once
    for the file, among the sheet's notices."""
    validated = check_sheet(read, book, today=today, defaults=defaults)
    missing = missing_columns(read, validated.issues, book)
    return Checked(read.path, replace(read, notices=read.notices + missing) if missing else read, validated,
                   started)
