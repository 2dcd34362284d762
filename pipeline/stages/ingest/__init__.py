"""Ingest: read an uploaded .xlsx/.xlsm/.xls/.ods/.csv into a frame of text cells with Excel's row numbers.

Every cell is read as text (polars' calamine engine for workbooks, polars' CSV reader for CSV), so
ZIP codes, phone numbers and IDs never pass through floats. The header row is found within the
first rows of the sheet by matching cells against the aliases of the rule data.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pipeline.errors import InputError
from pipeline.stages.ingest.delimited import CSV_SUFFIXES, decode_text, read_delimited
from pipeline.stages.ingest.limits import read_content
from pipeline.stages.ingest.sheet import HEADER_SEARCH_ROWS, CellNote, Part, Sheet, Skipped, column_letter
from pipeline.stages.ingest.workbook import EXCEL_SUFFIXES, read_workbook
from rules import RuleBook

__all__ = ["HEADER_SEARCH_ROWS", "CellNote", "Part", "Sheet", "Skipped", "column_letter", "decode_text", "read_sheet"]


def read_sheet(path: str | Path, book: RuleBook, sheet: str | Sequence[str] | None = None) -> Sheet:
    """The rows of recipients in the file at ``path``: a workbook's sheets named in ``sheet``, or
    every visible sheet whose header is recognized."""
    sheets = [sheet] if isinstance(sheet, str) else list(dict.fromkeys(sheet)) if sheet else None
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in EXCEL_SUFFIXES | CSV_SUFFIXES:
        raise InputError(str(path), f"unsupported file type '{suffix or '(none)'}'; "
                         "upload an .xlsx, .xlsm, .xls, .ods or .csv file")
    if suffix in CSV_SUFFIXES:
        if sheets:
            raise InputError(str(path), "--sheet applies to workbooks; a CSV file has no sheets")
        return read_delimited(path, book)      # it reads the file itself, and lets its bytes go once polars has them
    content, digest = read_content(path)
    return read_workbook(path, content, digest, sheets, book)
