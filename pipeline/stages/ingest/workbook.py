"""Workbooks (.xlsx, .xlsm): every cell as text through polars' calamine engine (fastexcel), the
visible sheet with the best header, and what calamine leaves out put back from the sheet's XML."""

from __future__ import annotations

from pathlib import Path

import fastexcel
import polars as pl

from pipeline.errors import InputError
from pipeline.stages.ingest import xlsx_cells
from pipeline.stages.ingest.sheet import (
    HEADER_SEARCH_ROWS,
    Grid,
    Sheet,
    column_letter,
    find_header,
    score,
    short,
    to_sheet,
)
from rules import RuleBook

__all__ = ["EXCEL_SUFFIXES", "read_workbook"]

EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
OLE_MAGIC = b"\xd0\xcf\x11\xe0"   # an encrypted workbook (or a legacy .xls) is an OLE container


def _load(reader: fastexcel.ExcelReader, path: Path, name: str) -> tuple[pl.DataFrame, list[str]]:
    try:
        loaded = reader.load_sheet(name, header_row=None, skip_rows=0, dtypes="string")
        letters = [column_letter(c.absolute_index) for c in loaded.available_columns()]
        return pl.DataFrame(loaded), letters
    except Exception as exc:
        raise InputError(str(path), f"cannot read the sheet ({short(exc)})", sheet=name) from None


def _open(path: Path, content: bytes) -> fastexcel.ExcelReader:
    if content.startswith(OLE_MAGIC):
        raise InputError(str(path), "the workbook is password-protected (or an old .xls file): open it in "
                         "Excel, remove the password, and save it as .xlsx")
    try:
        return fastexcel.read_excel(content)
    except Exception as exc:
        raise InputError(str(path), f"not a readable Excel workbook ({short(exc)})") from None


def read_workbook(path: Path, content: bytes, digest: str, sheet_name: str | None, book: RuleBook) -> Sheet:
    reader = _open(path, content)
    names = reader.sheet_names
    if sheet_name is not None and sheet_name not in names:
        raise InputError(str(path), f"there is no sheet named '{sheet_name}'; the sheets are: "
                         + ", ".join(f"'{n}'" for n in names))
    hidden = xlsx_cells.hidden_sheets(content)
    best: tuple[int, str, pl.DataFrame, list[str], int] | None = None
    for name in [sheet_name] if sheet_name else [n for n in names if n not in hidden]:
        cells, letters = _load(reader, path, name)
        rows = [list(r) for r in cells.head(HEADER_SEARCH_ROWS).iter_rows()]
        idx = find_header(rows, book)
        found = score(rows[idx], book) if idx is not None else 0
        if idx is not None and (best is None or found > best[0]):   # the best header wins, the first on a tie
            best = (found, name, cells, letters, idx)
    if best is not None:
        _, name, cells, letters, idx = best
        cells, notes = xlsx_cells.repair(content, name, cells, letters, idx)
        return to_sheet(Grid(path, name, cells, idx, 1, letters, digest, notes), book)
    where = f"sheet '{sheet_name}'" if sheet_name else "any visible sheet"
    raise InputError(str(path), f"no header row found in the first {HEADER_SEARCH_ROWS} rows of {where}; "
                     "expected column names such as First Name, Email, Amount")
