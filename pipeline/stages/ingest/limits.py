"""What one upload may cost, and the checks that hold it there before a reader spends it.

A file is refused, with a message saying which limit and what to do, when:
- it is not a regular file (a folder, a named pipe, a device): reading one could block for ever;
- it is larger than ``MAX_FILE_BYTES`` on disk;
- (a workbook) one of its parts inflates beyond ``MAX_PART_BYTES``, or all of them together beyond
  ``MAX_INFLATED_BYTES`` (a "zip bomb"), or it declares an XML DOCTYPE (no Excel file does);
- a sheet has more rows than Excel allows (``MAX_ROWS``), or more than ``MAX_COLUMNS`` columns
  holding a value (empty columns, wherever they are, cost nothing and are dropped at once);
- a workbook has more than ``MAX_SHEETS`` worksheets, or more than ``MAX_SHEETS_READ`` sheets of
  recipients to read.

The limits are far above what an upload of recipients needs (100,000 rows of 20 columns is about
50 MB of sheet XML) and low enough that a file at a limit is read within a minute and 1 GB.
The README's "Limits" section says the same; keep the two together.
"""

from __future__ import annotations

import errno
import hashlib
import operator
import re
import zipfile
from pathlib import Path

import polars as pl

from pipeline.errors import InputError
from pipeline.files import NotRegular, TooLarge, regular_bytes
from pipeline.stages.ingest.legacy_cells import ODS_CELL, ODS_ROW, ods_number

__all__ = [
    "MAX_COLUMNS",
    "MAX_FILE_BYTES",
    "MAX_INFLATED_BYTES",
    "MAX_ODS_CELLS",
    "MAX_PART_BYTES",
    "MAX_ROWS",
    "MAX_SHEETS",
    "MAX_SHEETS_READ",
    "MAX_XLS_BYTES",
    "check_sheets",
    "check_zip",
    "content_columns",
    "read_content",
    "read_regular",
]

MAX_FILE_BYTES = 256 * 2**20      # the file on disk
MAX_PART_BYTES = 128 * 2**20      # one part of a workbook, inflated (a sheet's XML, the shared strings)
MAX_INFLATED_BYTES = 256 * 2**20  # every part of a workbook together, inflated
MAX_ROWS = 1_048_576              # Excel's own limit
MAX_COLUMNS = 512                 # columns holding a value, per sheet
MAX_SHEETS = 256                  # worksheets in a workbook
MAX_SHEETS_READ = 50              # sheets of recipients read from one workbook
MAX_XLS_BYTES = 64 * 2**20        # a legacy .xls: no compression, but each cell expands in memory as it is read
MAX_ODS_CELLS = 4_000_000         # cells an .ods workbook's sheets expand to (rows to the last value x widest row)
_CHUNK = 1 << 22
_CARRY = 1 << 16
# every row's tag, and its number when it has one (r="..."): one pass over the sheet for both
_ROW = re.compile(rb"<row\b(?:[^>]*?\br=\"([0-9]+)\")?")


def read_content(path: Path) -> tuple[bytes, str]:
    """The bytes of the file at ``path`` (``read_regular``) and their SHA-256, refused when it holds
    nothing but blanks."""
    content = read_regular(path)
    if not re.search(rb"[^\xef\xbb\xbf \t\r\n]", content):      # (without a copy of the file, as strip makes)
        raise InputError(str(path), "the file is empty")
    return content, hashlib.sha256(content).hexdigest()


def read_regular(path: Path) -> bytes:
    """The bytes of the file at ``path``, which must be a regular file of at most MAX_FILE_BYTES."""
    try:
        return regular_bytes(path, MAX_FILE_BYTES)
    except NotRegular as exc:
        raise InputError(str(path), f"this is {exc.kind}, not a file: upload the spreadsheet itself") from None
    except TooLarge as exc:
        raise InputError(str(path), f"the file is {exc.size / 2**20:,.0f} MB, more than the "
                         f"{MAX_FILE_BYTES // 2**20} MB this pipeline reads; split it into smaller files") from None
    except FileNotFoundError:
        raise InputError(str(path), "file not found" if not path.is_symlink() else
                         "file not found (it is a link to a file that does not exist)") from None
    except OSError as exc:
        raise InputError(str(path), _cannot_open(exc)) from None


def _cannot_open(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "the file is a link that leads round in a circle"
    if exc.errno == errno.EACCES:
        return "permission denied: the pipeline may not read this file"
    return f"cannot read the file ({exc.strerror or exc})"


def check_zip(path: Path, archive: zipfile.ZipFile) -> None:
    """Refuse a workbook whose parts inflate beyond the limits, before a reader inflates them: each
    part is inflated here, in chunks, and counted (the size a part declares may lie)."""
    total = 0
    for info in archive.infolist():
        if info.file_size > MAX_PART_BYTES:
            raise _too_big(path, info.filename, info.file_size)
        try:
            total += _inflate(path, archive, info)
        except (zipfile.BadZipFile, EOFError, OSError, RuntimeError, NotImplementedError) as exc:
            raise InputError(str(path), f"the workbook is damaged (its part {info.filename}: "
                             f"{str(exc) or type(exc).__name__}); open it in Excel and save it again") from None
        if total > MAX_INFLATED_BYTES:
            raise InputError(str(path), f"the workbook's content inflates to more than "
                             f"{MAX_INFLATED_BYTES // 2**20} MB, more than this pipeline reads; split it into "
                             "smaller files")


def _inflate(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """One part inflated and checked; its size."""
    size, rows, last = 0, 0, 0
    sheet = info.filename.startswith("xl/worksheets/")
    ods = info.filename == "content.xml"      # an OpenDocument spreadsheet's sheets
    whole: list[bytes] = []
    with archive.open(info) as part:
        head = part.read(1024)
        xml = info.filename.endswith((".xml", ".rels"))      # not an image (an SVG may have one)
        if xml and (b"<!DOCTYPE" in head or b"<!ENTITY" in head):
            raise InputError(str(path), f"the workbook's part {info.filename} declares an XML DOCTYPE, "
                             "which no spreadsheet program writes; open the file in Excel and save it again")
        chunk, cut_tag = head, b""
        while chunk:
            size += len(chunk)
            if sheet:       # a tag the chunk's end cut (a <row r="...">) is read whole with the next chunk
                text = cut_tag + chunk
                at = _cut_tag(text)
                text, cut_tag = text[:at], text[at:]
                tags = _ROW.findall(text)
                rows += len(tags)
                last = _in_order(path, info.filename, tags, last)
            if ods:
                whole.append(chunk)
            if size > MAX_PART_BYTES:
                raise _too_big(path, info.filename, size)
            if rows > MAX_ROWS:
                raise InputError(str(path), f"a sheet of the workbook has more than {MAX_ROWS:,} rows, "
                                 "more than Excel allows; split it into smaller files")
            chunk = part.read(_CHUNK)
    if cut_tag:             # the part ends in a tag cut short: read as it is
        _in_order(path, info.filename, _ROW.findall(cut_tag), last)
    if ods:
        _ods_expanded(path, b"".join(whole))
    return size


def _cut_tag(text: bytes) -> int:
    """Where an unfinished tag at the end of ``text`` begins (one of at most ``_CARRY`` bytes: no row's
    tag is longer); the length of ``text`` when there is none."""
    at = text.rfind(b"<")
    if at < 0 or len(text) - at > _CARRY or b">" in text[at:]:
        return len(text)
    return at


def _in_order(path: Path, part: str, tags: list[bytes], last: int) -> int:
    """The sheet's rows must come in order, each once (as Excel writes them): a reader keeps only one
    of two rows with the same number, so a row would be lost unsaid. ``tags``: the row numbers of a
    piece of the sheet (empty for a row without one). Returns the last row number."""
    numbers = [int(n) for n in tags if n]
    if not numbers:
        return last
    if numbers[0] > last and all(map(operator.lt, numbers, numbers[1:])):
        return numbers[-1]
    for number in numbers:          # the first row out of order, for the message
        if number <= last:
            raise InputError(str(path), f"the workbook's part {part} has its row {number} after row {last}: rows "
                             "repeated or out of order, which no spreadsheet program writes and which would lose a "
                             "row; open the file in Excel and save it again")
        last = number
    return last


def _ods_expanded(path: Path, xml: bytes) -> None:
    """An .ods file says "this row 1,000,000 times" in a few bytes, which a reader expands into a grid
    as tall as a sheet's last value and as wide as its widest row: each sheet's grid is measured so,
    and the file refused beyond Excel's rows or MAX_ODS_CELLS cells in all (the empty rows and columns
    a spreadsheet program writes after the last value cost nothing)."""
    cells = 0
    for table in xml.split(b"<table:table ")[1:]:
        counted = blank = widest = 0
        for row in ODS_ROW.finditer(table):
            width = gap = 0
            for cell in ODS_CELL.finditer(row.group(2) or b""):
                n = ods_number(b"table:number-columns-repeated", cell.group(1))
                if cell.group(2) or b"value-type" in cell.group(1):
                    width, gap = width + gap + n, 0
                else:
                    gap += n
            repeat = ods_number(b"table:number-rows-repeated", row.group(1))
            if width:
                counted, blank, widest = counted + blank + repeat, 0, max(widest, width)
            else:
                blank += repeat
            if counted > MAX_ROWS or cells + counted * widest > MAX_ODS_CELLS:
                raise InputError(str(path), f"the workbook's rows expand to more than {MAX_ROWS:,} rows or "
                                 f"{MAX_ODS_CELLS:,} cells, more than this pipeline reads; split it into smaller files")
        cells += counted * widest


def _too_big(path: Path, part: str, size: int) -> InputError:
    return InputError(str(path), f"the workbook's part {part} inflates to more than {MAX_PART_BYTES // 2**20} MB "
                      f"({size / 2**20:,.0f} MB or more), more than this pipeline reads; split the file into "
                      "smaller ones")


def content_columns(cells: pl.DataFrame, letters: list[str], path: Path,
                    sheet: str | None) -> tuple[pl.DataFrame, list[str]]:
    """The grid without its empty columns (wherever they are), refused when more than MAX_COLUMNS
    columns hold a value, or more rows than Excel allows."""
    if cells.height > MAX_ROWS:
        raise InputError(str(path), f"the sheet has more than {MAX_ROWS:,} rows, more than Excel allows; split it "
                         "into smaller files", sheet=sheet)
    counts = cells.null_count().row(0) if cells.width else ()
    keep = [i for i, nulls in enumerate(counts) if nulls < cells.height]
    if len(keep) > MAX_COLUMNS:
        raise InputError(str(path), f"{len(keep):,} columns hold values, more than the {MAX_COLUMNS} a sheet of "
                         "recipients may have; delete the columns that are not needed", sheet=sheet)
    if len(keep) == cells.width:
        return cells, letters
    return cells.select(cells.columns[i] for i in keep), [letters[i] for i in keep]


def check_sheets(path: Path, count: int, reading: int | None = None) -> None:
    """Refuse a workbook of more than MAX_SHEETS worksheets, or more than MAX_SHEETS_READ to read."""
    if count > MAX_SHEETS:
        raise InputError(str(path), f"the workbook has {count:,} sheets, more than the {MAX_SHEETS} this pipeline "
                         "reads; keep the sheets of recipients in a workbook of their own")
    if reading is not None and reading > MAX_SHEETS_READ:
        raise InputError(str(path), f"the workbook has {reading:,} sheets of recipients, more than the "
                         f"{MAX_SHEETS_READ} one upload may hold; split it into several files (or name the sheets "
                         "to read with --sheet)")
