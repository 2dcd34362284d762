"""The one check every job runs on a file: read → normalize → validate."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.stages.ingest import Sheet, read_sheet
from pipeline.stages.normalize import normalize
from pipeline.stages.validate import Validated, validate
from rules import RuleBook

__all__ = ["Checked", "check_file", "check_sheet"]


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
    read = read_sheet(path, book, sheet)
    return Checked(Path(path), read, check_sheet(read, book, today=today, defaults=defaults), started)
