"""Ingest: read an uploaded .xlsx/.xlsm/.csv into a frame of text cells with Excel's row numbers.

Every cell is read as text (polars' calamine engine for workbooks, polars' CSV reader for CSV), so
ZIP codes, phone numbers and IDs never pass through floats. The header row is found within the
first rows of the sheet by matching cells against the aliases in ``rules/``.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastexcel
import polars as pl

import rules
from pipeline import xlsx_cells
from pipeline.errors import InputError

__all__ = ["Sheet", "read_sheet", "HEADER_SEARCH_ROWS", "ROW"]

HEADER_SEARCH_ROWS = 20
ROW = "__row__"           # the row number Excel shows
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
CSV_SUFFIXES = {".csv", ".txt"}
OLE_MAGIC = b"\xd0\xcf\x11\xe0"   # an encrypted workbook (or a legacy .xls) is an OLE container


@dataclass(frozen=True)
class Sheet:
    """The data rows of one sheet: one text column per kept input column, plus ``__row__``."""
    path: Path
    sheet: str | None            # None for CSV
    header_row: int              # Excel row number of the header
    headers: tuple[str, ...]     # the input columns' header texts, in input order
    columns: tuple[str, ...]     # the frame's column names for them (c0, c1, ...)
    fields: dict[str, str]       # frame column -> Tango field, for recognized columns
    frame: pl.DataFrame
    sha256: str
    # what reading changed, as warnings on rows: (Excel row, frame column, text)
    notes: tuple[tuple[int, str, str], ...] = ()

    @property
    def name(self) -> str:
        return self.path.name

    def header_of(self, field: str) -> str | None:
        for col, f in self.fields.items():
            if f == field:
                return self.headers[self.columns.index(col)]
        return None

    def labels(self, book: rules.RuleBook) -> dict[str, str]:
        """How messages name each field: the sheet's own header, else the field's label."""
        return {f: self.header_of(f) or book.labels[f] for f in book.fields}


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _score(cells: list[str | None], book: rules.RuleBook) -> int:
    return sum(1 for c in cells if c and rules.header_key(c) in book.aliases)


def find_header(rows: list[list[str | None]], book: rules.RuleBook) -> int | None:
    """Index of the row, among the first ones, that names the most known fields."""
    best, best_score = None, 0
    for i, cells in enumerate(rows[:HEADER_SEARCH_ROWS]):
        score = _score(cells, book)
        if score > best_score:
            best, best_score = i, score
    return best


def _excel_date(col: pl.Expr) -> pl.Expr:
    """A date cell reads as '2026-12-24 00:00:00'; what the user sees (and meant) is the date."""
    return col.str.replace(r"^([0-9]{4}-[0-9]{2}-[0-9]{2}) 00:00:00$", "$1")


def _map_columns(path: Path, sheet: str | None, header_row: int, header_cells: list[str | None],
                 letters: list[str], book: rules.RuleBook,
                 ) -> tuple[list[int], list[str], dict[int, str]]:
    """Which input columns to keep, their header texts, and the field each recognized one means."""
    keys = {rules.header_key(c or "") for c in header_cells}
    ours = any(rules.header_key(m) in keys for m in book.report_markers)
    dropped = {rules.header_key(c) for c in book.report_columns} if ours else set()
    keep: list[int] = []
    headers: list[str] = []
    fields: dict[int, str] = {}
    seen: dict[str, tuple[str, str]] = {}
    for i, cell in enumerate(header_cells):
        text = (cell or "").strip()
        key = rules.header_key(text)
        if key in dropped:
            continue
        field = book.aliases.get(key) if key else None
        if field:
            if field in seen:
                first, first_letter = seen[field]
                raise InputError(
                    str(path),
                    f"columns '{first}' ({first_letter}) and '{text}' ({letters[i]}) both mean "
                    f"{book.labels[field]}; delete or rename one of them",
                    sheet=sheet, row=header_row)
            seen[field] = (text, letters[i])
            fields[i] = field
        keep.append(i)
        headers.append(text or f"Column {letters[i]}")
    _lookalikes(path, sheet, header_row, header_cells, letters, set(fields.values()), book)
    return keep, headers, fields


def _lookalikes(path: Path, sheet: str | None, header_row: int, header_cells: list[str | None],
                letters: list[str], mapped: set[str], book: rules.RuleBook) -> None:
    """A header such as 'Amount (USD)' that is no alias would leave the rows to a default amount."""
    for i, cell in enumerate(header_cells):
        key = rules.header_key(cell or "")
        if not key or key in book.aliases:
            continue
        for word, field in book.lookalikes.items():
            if word in key and field not in mapped:
                raise InputError(
                    str(path), f"column '{cell.strip()}' ({letters[i]}) looks like {book.labels[field]} but "
                    f"is not a name this pipeline knows, so it would be ignored and the campaign default "
                    f"used instead; rename it '{book.labels[field]}' (or to something else if it is not "
                    "that)", sheet=sheet, row=header_row)


def _finish(path: Path, sheet: str | None, grid: pl.DataFrame, header_idx: int, first_row: int,
            letters: list[str], digest: str, notes: list[tuple[int, int, str]] | None = None) -> Sheet:
    """Turn a grid of text cells (header at ``header_idx``) into a Sheet of non-blank data rows."""
    book = rules.load()
    header_cells = list(grid.row(header_idx))
    header_row = first_row + header_idx
    keep, headers, fields = _map_columns(path, sheet, header_row, header_cells, letters, book)
    src = grid.columns
    data = grid.slice(header_idx + 1).select(
        [_excel_date(pl.col(src[i])).alias(f"c{n}") for n, i in enumerate(keep)]
    ).with_columns(pl.int_range(pl.len(), dtype=pl.Int64).add(header_row + 1).alias(ROW))
    columns = [f"c{n}" for n in range(len(keep))]
    # blank rows (every cell empty or spaces) are skipped silently; row numbers stay Excel's
    if columns:
        filled = pl.any_horizontal([pl.col(c).str.strip_chars().str.len_chars().fill_null(0) > 0
                                    for c in columns])
        data = data.filter(filled)
    # drop trailing columns with neither a header nor any data
    empty = [c for c, h, i in zip(columns, headers, keep)
             if h.startswith("Column ") and not header_cells[i] and data[c].null_count() == data.height]
    data = data.drop(empty)
    kept = [(c, h) for c, h in zip(columns, headers) if c not in empty]
    col_fields = {f"c{n}": f for n, i in enumerate(keep) if (f := fields.get(i))}
    position = {i: f"c{n}" for n, i in enumerate(keep)}
    kept_notes = tuple((row, position[col], text) for row, col, text in notes or []
                       if col in position and row > header_row)
    return Sheet(path=path, sheet=sheet, header_row=header_row,
                 headers=tuple(h for _, h in kept), columns=tuple(c for c, _ in kept),
                 fields=col_fields, frame=data, sha256=digest, notes=kept_notes)


def _load(reader: Any, path: Path, name: str, n_rows: int | None = None) -> tuple[pl.DataFrame, list[str]]:
    try:
        loaded = reader.load_sheet(name, header_row=None, skip_rows=0, dtypes="string", n_rows=n_rows)
        letters = [column_letter(c.absolute_index) for c in loaded.available_columns()]
        return pl.DataFrame(loaded), letters
    except Exception as exc:  # noqa: BLE001 - fastexcel's own error types
        raise InputError(str(path), f"cannot read the sheet ({_short(exc)})", sheet=name) from None


def _read_excel(path: Path, content: bytes, digest: str, sheet_name: str | None) -> Sheet:
    book = rules.load()
    if content.startswith(OLE_MAGIC):
        raise InputError(str(path), "the workbook is password-protected (or an old .xls file): open it in "
                         "Excel, remove the password, and save it as .xlsx")
    try:
        reader = fastexcel.read_excel(content)
    except Exception as exc:  # noqa: BLE001 - fastexcel raises its own error types
        raise InputError(str(path), f"not a readable Excel workbook ({_short(exc)})") from None
    names = reader.sheet_names
    if sheet_name is not None and sheet_name not in names:
        raise InputError(str(path), f"there is no sheet named '{sheet_name}'; the sheets are: "
                         + ", ".join(f"'{n}'" for n in names))
    hidden = xlsx_cells.hidden_sheets(content)
    best: tuple[int, str, pl.DataFrame, list[str], int] | None = None
    for name in [sheet_name] if sheet_name else [n for n in names if n not in hidden]:
        grid, letters = _load(reader, path, name)
        rows = [list(r) for r in grid.head(HEADER_SEARCH_ROWS).iter_rows()]
        idx = find_header(rows, book)
        score = _score(rows[idx], book) if idx is not None else 0
        if idx is not None and (best is None or score > best[0]):   # the best header wins, the first on a tie
            best = (score, name, grid, letters, idx)
    if best is not None:
        _, name, grid, letters, idx = best
        grid, notes = xlsx_cells.repair(content, name, grid, letters, idx)
        return _finish(path, name, grid, idx, 1, letters, digest, notes)
    where = f"sheet '{sheet_name}'" if sheet_name else "any visible sheet"
    raise InputError(str(path), f"no header row found in the first {HEADER_SEARCH_ROWS} rows of {where}; "
                     "expected column names such as First Name, Email, Amount")


def decode_text(path: Path, content: bytes) -> tuple[str, bytes | None]:
    """The text, and the UTF-8 bytes polars can read as they are (None when they must be re-encoded).

    UTF-8 (with or without BOM), UTF-16 (Excel's "Unicode Text"), else Windows-1252, the encoding
    Excel on Windows saves CSV in. Lone \\r line breaks (old Macs) become \\n.
    """
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return _line_ends(content.decode("utf-16")), None
        except UnicodeDecodeError:
            raise InputError(str(path), "the file starts like UTF-16 text but is not") from None
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    try:
        text = content.decode("utf-8")
        fixed = _line_ends(text)
        return fixed, content if fixed is text else None
    except UnicodeDecodeError:
        pass
    try:
        return _line_ends(content.decode("cp1252")), None
    except UnicodeDecodeError as exc:
        raise InputError(str(path), f"the file is neither UTF-8 nor Windows-1252 text (byte "
                         f"0x{content[exc.start]:02x} at position {exc.start})") from None


def _line_ends(text: str) -> str:
    if "\r" in text and "\r\n" not in text:      # old Mac line ends; \r\n is read as it is
        return text.replace("\r", "\n")
    return text


def _records(head: str, sep: str) -> tuple[list[list[str | None]], list[int]]:
    """The first records of the file with ``sep``, and how many lines come before each."""
    reader = csv.reader(io.StringIO(head), delimiter=sep)
    records: list[list[str | None]] = []
    lines_before: list[int] = []
    consumed = 0
    try:
        for record in reader:
            lines_before.append(consumed)
            consumed = reader.line_num
            records.append([c or None for c in record])
            if len(records) >= HEADER_SEARCH_ROWS:
                break
    except csv.Error:
        pass
    return records, lines_before


def _best_separator(head: str, book: rules.RuleBook) -> tuple[str, list[list[str | None]], list[int], int | None]:
    """The separator under which a header row names the most known fields."""
    best: tuple[int, str, list, list, int | None] = (0, ",", [], [], None)
    for sep in (",", ";", "\t", "|"):
        records, before = _records(head, sep)
        idx = find_header(records, book)
        score = _score(records[idx], book) if idx is not None else 0
        if score > best[0]:
            best = (score, sep, records, before, idx)
    return best[1], best[2], best[3], best[4]


def _read_csv(path: Path, content: bytes, digest: str) -> Sheet:
    book = rules.load()
    text, raw = decode_text(path, content)
    if "\x00" in text[:4096]:
        raise InputError(str(path), "this is not a text file (is it a workbook saved with a .csv name?)")
    head = "\n".join(text[:200_000].split("\n")[:HEADER_SEARCH_ROWS * 4])
    sep, records, lines_before, idx = _best_separator(head, book)
    if idx is None:
        raise InputError(str(path), f"no header row found in the first {HEADER_SEARCH_ROWS} rows; "
                         "expected column names such as First Name, Email, Amount")
    data = raw if raw is not None else text.encode("utf-8")
    width = len(records[idx])
    try:
        try:
            grid = _csv_grid(data, sep, lines_before[idx], width)
        except pl.exceptions.ComputeError:
            # a row with more cells than the header: read them all, as columns without a name
            grid = _csv_grid(data, sep, lines_before[idx], _widest(text, sep))
    except pl.exceptions.PolarsError as exc:
        raise InputError(str(path), f"not a readable CSV file ({_short(exc)})") from None
    letters = [column_letter(i) for i in range(grid.width)]
    return _finish(path, None, grid, 0, idx + 1, letters, digest)


def _csv_grid(data: bytes, sep: str, skip: int, width: int) -> pl.DataFrame:
    return pl.read_csv(data, has_header=False, infer_schema=False, separator=sep, skip_lines=skip,
                       schema={f"x{i}": pl.String for i in range(width)}, missing_columns="insert",
                       raise_if_empty=False)


def _widest(text: str, sep: str) -> int:
    return max((len(record) for record in csv.reader(io.StringIO(text), delimiter=sep)), default=0)


def _short(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__


def read_sheet(path: str | Path, sheet: str | None = None) -> Sheet:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in EXCEL_SUFFIXES | CSV_SUFFIXES:
        raise InputError(str(path), f"unsupported file type '{suffix or '(none)'}'; "
                         "upload an .xlsx, .xlsm or .csv file")
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise InputError(str(path), "file not found") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot read the file ({exc.strerror})") from None
    if not content:
        raise InputError(str(path), "the file is empty")
    digest = hashlib.sha256(content).hexdigest()
    if suffix in EXCEL_SUFFIXES:
        return _read_excel(path, content, digest, sheet)
    if sheet is not None:
        raise InputError(str(path), "--sheet applies to workbooks; a CSV file has no sheets")
    return _read_csv(path, content, digest)
