"""A sheet of recipients as the later stages see it, and the work shared by every reader: finding
the header row, mapping header texts to Tango fields, and turning a grid of text cells into a
``Sheet`` of non-blank data rows numbered as Excel numbers them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipeline.masking import shown
from pipeline.model import ROW, SHEET
from pipeline.stages.ingest.headers import Columns, map_columns
from pipeline.stages.ingest.names import split_names
from rules import RuleBook, header_key

__all__ = ["HEADER_SEARCH_ROWS", "CellNote", "Grid", "Part", "Piece", "Sheet", "Skipped", "column_letter", "combine",
           "find_header", "score", "short", "to_piece", "to_sheet"]

HEADER_SEARCH_ROWS = 20


@dataclass(frozen=True)
class CellNote:
    """What reading found in one cell beyond its value, said on its row: a merged value copied down
    or a formula's saved result used (warnings), a formula or a typed cell with no value (errors)."""
    row: int                     # the row number Excel shows
    column: str                  # the column's name in the frame it belongs to
    text: str
    rule: str = "cell.merged"
    error: bool = False
    sheet: str | None = None     # the sheet it is in


@dataclass(frozen=True)
class Part:
    """One sheet's share of an upload's rows: its name, its header and its columns in the frame."""
    name: str | None             # None for CSV
    header_row: int              # Excel row number of the header
    headers: tuple[str, ...]     # the input columns' header texts, in input order
    columns: tuple[str, ...]     # the frame's column names for them (c0, c1, ...; unique across parts)
    fields: dict[str, str]       # frame column -> Tango field, for recognized columns
    split: tuple[str, ...] = ()  # the frame columns a full name was split into (first, last)

    @property
    def key(self) -> str:
        """Its value in the frame's ``__sheet__`` column ('' for CSV)."""
        return self.name or ""


@dataclass(frozen=True)
class Skipped:
    """A visible sheet with data that was not read, and why."""
    name: str
    reason: str


@dataclass(frozen=True)
class Sheet:
    """The data rows of an upload: every sheet read, in workbook order, one after the other; one
    text column per kept input column of each, plus ``__row__`` and ``__sheet__``."""
    path: Path
    parts: tuple[Part, ...]
    frame: pl.DataFrame
    sha256: str
    notes: tuple[CellNote, ...] = ()   # what reading found beyond the values, on rows
    skipped: tuple[Skipped, ...] = ()  # sheets with data not read
    notices: tuple[str, ...] = ()      # what reading did that the user should know (a column renamed)

    @property
    def name(self) -> str:
        """The file's name as it can be shown and stored (see ``pipeline.masking.shown``)."""
        return shown(self.path.name)

    @property
    def sheet(self) -> str | None:
        """The (first) sheet read; None for CSV."""
        return self.parts[0].name

    @property
    def sheets(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parts if p.name)

    @property
    def header_row(self) -> int:
        return self.parts[0].header_row

    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(h for p in self.parts for h in p.headers)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for p in self.parts for c in p.columns)

    @property
    def fields(self) -> dict[str, str]:
        return {c: f for p in self.parts for c, f in p.fields.items()}

    def columns_of(self, field: str) -> list[str]:
        """The frame columns holding ``field`` (one per sheet that has it)."""
        return [c for c, f in self.fields.items() if f == field]

    def header_of(self, field: str) -> str | None:
        for col, f in self.fields.items():
            if f == field:
                return self.headers[self.columns.index(col)]
        return None

    def reading(self) -> list[str]:
        """What was read, for the console: each sheet's header row and rows, and each sheet not read."""
        counts = dict(self.frame.group_by(SHEET).len().iter_rows()) if SHEET in self.frame.columns else {}
        lines = [f"{self.name}" + (f", sheet '{p.name}'" if p.name else "")
                 + f": {counts.get(p.key, 0)} rows, header on row {p.header_row}" for p in self.parts]
        lines += [f"{self.name}, sheet '{s.name}': not read: {s.reason}" for s in self.skipped]
        return lines + [f"{self.name}: {n}" for n in self.notices]

    def labels(self, book: RuleBook) -> dict[str, str]:
        """How messages name each field: the sheet's own header, else the field's label."""
        return {f: self.header_of(f) or book.labels[f] for f in book.fields}


@dataclass(frozen=True)
class Grid:
    """A sheet's cells as a reader found them, with the header row it chose."""
    path: Path
    sheet: str | None
    cells: pl.DataFrame          # every cell as text, one column per input column
    header_idx: int              # the header's position in ``cells``
    first_row: int               # the Excel row number of the first row of ``cells``
    letters: list[str]           # each column's letter as Excel shows it
    digest: str                  # the file's SHA-256
    notes: list[CellNote] = field(default_factory=list)   # keyed by the grid's column names
    ours: bool = False           # one of this pipeline's reports (its marker, see ``REPORT_MARKER``)


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def score(cells: list[str | None], book: RuleBook) -> int:
    return sum(1 for c in cells if c and header_key(c) in book.aliases)


def find_header(rows: list[list[str | None]], book: RuleBook) -> int | None:
    """Index of the row, among the first ones, that names the most known fields."""
    best, best_score = None, 0
    for i, cells in enumerate(rows[:HEADER_SEARCH_ROWS]):
        found = score(cells, book)
        if found > best_score:
            best, best_score = i, found
    return best


def short(exc: Exception) -> str:
    """The first line of an exception's message, for a message naming the file."""
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__


MIDNIGHT = " 00:00:00"


def _excel_date(col: pl.Expr) -> pl.Expr:
    """A date cell reads as '2026-12-24 00:00:00'; what the user sees (and meant) is the date."""
    return col.str.replace(r"^([0-9]{4}-[0-9]{2}-[0-9]{2}) 00:00:00$", "$1")


def _with_dates(frame: pl.DataFrame, columns: list[str]) -> set[str]:
    """The columns that hold a cell read as a date at midnight (a cheap literal test on each column
    first: the date pattern runs only on those)."""
    if not columns or frame.is_empty():
        return set()
    found = frame.select(pl.col(c).str.ends_with(MIDNIGHT).any() for c in columns).row(0)
    return {c for c, hit in zip(columns, found, strict=True) if hit}


def _filled(body: pl.DataFrame, columns: list[str]) -> pl.Series:
    """Whether each row has a cell with something in it besides spaces (a blank row is skipped).

    One column at a time, and only while some row is still undecided: most rows are decided by
    their first cell. Each step makes a column of flags, never a column of text (a million-row
    sheet would otherwise hold a copy of its cells for this alone)."""
    filled = pl.Series([not columns] * body.height, dtype=pl.Boolean)
    for column in columns:
        filled = filled | body[column].str.contains(r"\S").fill_null(False)
        if filled.all():
            break
    return filled


PHYSICAL = "__physical__"         # the row number Excel shows for the row, while a piece is made


def _row_numbers(data: pl.DataFrame, grid: Grid, mapped: Columns) -> pl.DataFrame:
    """The rows numbered (``__row__``) as Excel numbers them; for one of this pipeline's reports
    uploaded again, by their original numbers from its Row column, where every row's number is
    then still unique (a row added or copied in the report keeps the numbering unambiguous: when
    two rows would share a number, the sheet's own numbers are used)."""
    if mapped.row_column is None:
        return data.with_columns(pl.col(PHYSICAL).alias(ROW))
    given = pl.col(grid.cells.columns[mapped.row_column]).str.strip_chars().str.replace(r"\.0$", "")
    numbered = data.with_columns(pl.coalesce(given.cast(pl.Int64, strict=False), pl.col(PHYSICAL)).alias(ROW))
    if numbered[ROW].n_unique() < numbered.height:
        return data.with_columns(pl.col(PHYSICAL).alias(ROW))
    return numbered


@dataclass(frozen=True)
class Piece:
    """One sheet read: its part, its rows (frame columns numbered from ``first_column``), its notes."""
    part: Part
    frame: pl.DataFrame
    notes: tuple[CellNote, ...]
    notices: tuple[str, ...] = ()


def to_piece(grid: Grid, book: RuleBook, first_column: int = 0) -> Piece:
    """A grid of text cells as the non-blank data rows below its header."""
    header_cells = list(grid.cells.row(grid.header_idx))
    header_row = grid.first_row + grid.header_idx
    mapped = map_columns(grid, header_row, header_cells, book)
    src = grid.cells.columns
    names = [f"c{first_column + n}" for n in range(len(mapped.keep))]
    body = grid.cells.slice(grid.header_idx + 1).with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).add(header_row + 1).alias(PHYSICAL))
    # blank rows (every cell empty or spaces) are skipped silently; row numbers stay Excel's
    if names:
        filled = _filled(body, [src[i] for i in mapped.keep])
        if not filled.all():        # else no copy of every cell
            body = body.filter(filled)
    body = _row_numbers(body, grid, mapped)
    # a cell note is said on its row's number
    row_of = dict(body.select(PHYSICAL, ROW).iter_rows()) if grid.notes else {}
    dates = _with_dates(body, [src[i] for i in mapped.keep])
    data = body.select(*[(_excel_date(pl.col(src[i])) if src[i] in dates else pl.col(src[i])).alias(name)
                         for name, i in zip(names, mapped.keep, strict=True)],
                       ROW, pl.lit(grid.sheet or "").alias(SHEET))
    # drop trailing columns with neither a header nor any data
    empty = [c for c, h, i in zip(names, mapped.headers, mapped.keep, strict=True)
             if h.startswith("Column ") and not header_cells[i] and data[c].null_count() == data.height]
    data = data.drop(empty)
    kept = [(c, h) for c, h in zip(names, mapped.headers, strict=True) if c not in empty]
    fields = {name: f for name, i in zip(names, mapped.keep, strict=True) if (f := mapped.fields.get(i))}
    position = {src[i]: name for name, i in zip(names, mapped.keep, strict=True)}
    notes = tuple(CellNote(row_of[n.row], position[n.column], n.text, n.rule, n.error, grid.sheet)
                  for n in grid.notes if n.column in position and n.row in row_of)
    split = split_names(data, fields, book, (f"c{first_column + len(names)}", f"c{first_column + len(names) + 1}"))
    if split is not None:        # the two name columns follow the full name's
        at = [c for c, _ in kept].index(split.after) + 1
        kept[at:at] = list(zip(split.columns, split.headers, strict=True))
        data = split.frame.select(*[c for c, _ in kept], ROW, SHEET)
        fields.update({split.columns[0]: "firstName", split.columns[1]: "lastName"})
    part = Part(grid.sheet, header_row, tuple(h for _, h in kept), tuple(c for c, _ in kept), fields,
                split.columns if split is not None else ())
    return Piece(part, data, notes, tuple((f"sheet '{grid.sheet}': " if grid.sheet else "") + n
                                         for n in mapped.notices))


def combine(path: Path, digest: str, pieces: list[Piece], skipped: list[Skipped] | None = None) -> Sheet:
    """The upload's rows: every piece's, in order; a column of one sheet is empty on another's rows."""
    frame = pl.concat([p.frame for p in pieces], how="diagonal") if len(pieces) > 1 else pieces[0].frame
    return Sheet(path, tuple(p.part for p in pieces), frame, digest, tuple(n for p in pieces for n in p.notes),
                 tuple(skipped or ()), tuple(n for p in pieces for n in p.notices))


def to_sheet(grid: Grid, book: RuleBook) -> Sheet:
    """One grid as a whole upload (a CSV file, a workbook of one sheet)."""
    return combine(grid.path, grid.digest, [to_piece(grid, book)])
