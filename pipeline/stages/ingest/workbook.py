"""Workbooks (.xlsx, .xlsm, and the legacy .xls and OpenDocument .ods): every cell as text through
polars' calamine engine (fastexcel), within the same bounds for every kind; every
visible sheet whose header is recognized, in workbook order (or the sheets named); and what calamine
leaves out put back from each sheet's XML.

A sheet's header is recognized when it names two or more known columns; a workbook none of whose
sheets does that is read from the sheet whose header names one. A visible sheet with data that is
not read is listed, with the reason, and so is a hidden sheet whose header names known columns, so
that no row disappears unsaid.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import fastexcel
import polars as pl

from pipeline.errors import InputError
from pipeline.model import REPORT_MARKER, TEMPLATE_MARKER
from pipeline.stages.ingest import xlsx_cells
from pipeline.stages.ingest.legacy_cells import ods_marks, xls_marks
from pipeline.stages.ingest.limits import MAX_XLS_BYTES, check_sheets, check_zip, content_columns
from pipeline.stages.ingest.sheet import (
    HEADER_SEARCH_ROWS,
    CellNote,
    Grid,
    Sheet,
    Skipped,
    column_letter,
    combine,
    find_header,
    score,
    short,
    to_piece,
)
from rules import RuleBook, header_key

__all__ = ["EXCEL_SUFFIXES", "read_workbook"]

EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods"}
OLE_MAGIC = b"\xd0\xcf\x11\xe0"   # a legacy .xls, or an encrypted .xlsx, is an OLE container
ODS_MIMETYPE = b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet"


def _format(content: bytes) -> str:
    """"xls" (an OLE container), "ods" (an OpenDocument zip), else "xlsx", by the bytes, not the name."""
    if content.startswith(OLE_MAGIC):
        return "xls"
    return "ods" if content.startswith(b"PK") and ODS_MIMETYPE in content[:100] else "xlsx"
RECOGNIZED = 2                    # known columns a header names for its sheet to be read


@dataclass(frozen=True)
class _Found:
    name: str
    cells: pl.DataFrame
    letters: list[str]
    idx: int | None               # the header's position, None when no row names a known column
    score: int
    known: list[str]              # the header's cells that name known columns


def _hidden(reader: fastexcel.ExcelReader, content: bytes) -> set[str]:
    """The sheets Excel or LibreOffice does not show."""
    if _format(content) == "xlsx":
        return xlsx_cells.hidden_sheets(content)
    hidden = set()
    for name in reader.sheet_names:
        try:
            if reader.load_sheet(name, header_row=None, n_rows=0).visible != "visible":
                hidden.add(name)
        except Exception:     # an unreadable sheet is said when it is read
            continue
    return hidden


def _load(reader: fastexcel.ExcelReader, path: Path, name: str) -> tuple[pl.DataFrame, list[str]]:
    try:
        loaded = reader.load_sheet(name, header_row=None, skip_rows=0, dtypes="string")
        letters = [column_letter(c.absolute_index) for c in loaded.available_columns()]
        cells = pl.DataFrame(loaded)
    except Exception as exc:
        raise InputError(str(path), f"cannot read the sheet ({short(exc)})", sheet=name) from None
    return content_columns(cells, letters, path, name)


def _open(path: Path, content: bytes) -> fastexcel.ExcelReader:
    legacy = path.suffix.lower() == ".xls"
    if _format(content) == "xls" and not legacy:
        raise InputError(str(path), "the workbook is password-protected (or an old .xls file saved with another "
                         "name): open it in Excel, remove the password, and save it as .xlsx")
    if legacy and _format(content) == "xls":    # no compression in an .xls: its size on disk bounds it
        if len(content) > MAX_XLS_BYTES:
            raise InputError(str(path), f"the .xls file is {len(content) / 2**20:,.0f} MB, more than the "
                             f"{MAX_XLS_BYTES // 2**20} MB this pipeline reads in that old format; open it in Excel "
                             "or LibreOffice and save it as .xlsx, or split it")
        return _reader(path, content, "the file is password-protected or damaged")
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, ValueError):
        looks = "it looks like text (a CSV file?) saved with a workbook's name" if _text(content) else \
            "it is not a zip archive, as every .xlsx file is"
        raise InputError(str(path), f"not a readable Excel workbook ({looks}); open it in Excel and save it "
                         "as .xlsx, or give a CSV file a .csv name") from None
    with archive:
        check_zip(path, archive)
    return _reader(path, content)


def _reader(path: Path, content: bytes, likely: str | None = None) -> fastexcel.ExcelReader:
    try:
        return fastexcel.read_excel(content)
    except Exception as exc:
        raise InputError(str(path), f"not a readable workbook ({likely or short(exc)}); open it in Excel or "
                         "LibreOffice and save it again as .xlsx") from None


def _text(content: bytes) -> bool:
    head = content[:4096]
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:       # not a character cut at the end of the head
            return False
    return b"\x00" not in head


def _find(reader: fastexcel.ExcelReader, path: Path, name: str, book: RuleBook) -> _Found | None:
    """The sheet's header, if it has data at all."""
    cells, letters = _load(reader, path, name)
    if cells.height == 0:
        return None
    rows = [list(r) for r in cells.head(HEADER_SEARCH_ROWS).iter_rows()]
    idx = find_header(rows, book)
    known = [c for c in rows[idx] if c and header_key(c) in book.aliases] if idx is not None else []
    return _Found(name, cells, letters, idx, score(rows[idx], book) if idx is not None else 0, known)


def _why_not(found: _Found) -> str:
    if found.idx is None:
        return (f"no row among its first {HEADER_SEARCH_ROWS} names a known column (such as First Name, Email, "
                "Amount)")
    return (f"its header (row {found.idx + 1}) names only one known column, '{found.known[0]}'; a sheet of "
            f"recipients names at least {RECOGNIZED} (read it with --sheet '{found.name}' if it is one)")


def _repaired(path: Path, content: bytes, found: _Found, maybe: bool) -> tuple[pl.DataFrame, list[CellNote]]:
    """The sheet's cells with what calamine leaves out put back: error cells, merged ranges (and, in an
    .xlsx, formulas and typed-but-empty cells), whatever the workbook's format. ``maybe`` False: an
    .xlsx sheet holds none of them (``xlsx_cells.may_need_repair``)."""
    assert found.idx is not None
    kind = _format(content)
    if kind == "xlsx":
        return xlsx_cells.repair(content, found.name, found.cells, found.letters, found.idx, maybe)
    try:
        errors, merges = (xls_marks if kind == "xls" else ods_marks)(content, found.name)
    except Exception as exc:      # a file calamine read but the second reader cannot: not read half-checked
        raise InputError(str(path), f"cannot check the sheet's error and merged cells ({short(exc)}); open the "
                         "file in Excel or LibreOffice and save it as .xlsx", sheet=found.name) from None
    return xlsx_cells.apply_marks(found.cells, found.letters, found.idx, errors, merges)


def _chosen(found: list[_Found], named: bool) -> list[_Found]:
    if named:
        return found
    recognized = [f for f in found if f.score >= RECOGNIZED]
    if recognized:
        return recognized
    best = max(found, key=lambda f: f.score, default=None)       # the first on a tie
    return [best] if best is not None and best.score > 0 else []


def read_workbook(path: Path, content: bytes, digest: str, sheet_names: Sequence[str] | None,
                  book: RuleBook) -> Sheet:
    reader = _open(path, content)
    names = reader.sheet_names
    check_sheets(path, len(names))
    for name in sheet_names or []:
        if name not in names:
            raise InputError(str(path), f"there is no sheet named '{name}'; the sheets are: "
                             + ", ".join(f"'{n}'" for n in names))
    hidden = _hidden(reader, content)
    ours = xlsx_cells.has_property(content, REPORT_MARKER)
    # a template's own sheets (its instructions, with example rows; its lists): never read, never listed
    own = set((xlsx_cells.property_value(content, TEMPLATE_MARKER) or "").split("\n")) - {""}
    names = [n for n in names if n not in own or n in (sheet_names or ())]
    wanted = list(sheet_names) if sheet_names else [n for n in names if n not in hidden]
    with ThreadPoolExecutor(1, thread_name_prefix="sheet-marks") as beside:
        # whether each sheet's XML needs repair, found while calamine loads the sheets (it lets go of
        # the interpreter): the sheets are inflated twice, but at the same time
        maybe = {n: beside.submit(xlsx_cells.may_need_repair, content, n) for n in wanted} \
            if _format(content) == "xlsx" else {}
        found = [f for f in (_find(reader, path, name, book) for name in wanted) if f is not None]
    chosen = [f for f in _chosen(found, bool(sheet_names)) if f.idx is not None]
    check_sheets(path, len(names), len(chosen))
    if not chosen or (sheet_names and len(chosen) < len(sheet_names)):
        where = "sheet " + ", ".join(f"'{n}'" for n in sheet_names) if sheet_names else "any visible sheet"
        raise InputError(str(path), f"no header row found in the first {HEADER_SEARCH_ROWS} rows of {where}; "
                         "expected column names such as First Name, Email, Amount")
    pieces, first_column = [], 0
    for f in chosen:
        assert f.idx is not None
        cells, notes = _repaired(path, content, f, maybe[f.name].result() if f.name in maybe else True)
        pieces.append(to_piece(Grid(path, f.name, cells, f.idx, 1, f.letters, digest, notes, ours), book,
                               first_column))
        first_column += cells.width + 2      # and two columns a full name may be split into
    skipped = [Skipped(f.name, _why_not(f)) for f in found if f not in chosen]
    # the other sheets of recipients (a header naming known columns): said, not silently left out
    others = [n for n in names if n not in wanted]
    for other in (_find(reader, path, n, book) for n in others):
        if other is not None and other.score >= RECOGNIZED:
            skipped.append(Skipped(other.name, "not among the sheets named with --sheet" if sheet_names and
                                   other.name not in hidden else "hidden in Excel: unhide it to have it read, or "
                                   f"name it with --sheet '{other.name}'"))
    return combine(path, digest, pieces, skipped)
