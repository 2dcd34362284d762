"""What the calamine reader leaves out of a workbook, read from the sheet's own XML.

- Error cells (#N/A, #DIV/0!, #VALUE! ...) come back from calamine as empty cells, which a
  campaign default would then fill: they are put back as their error text, so the row fails.
- Merged cells hold their value in the top-left cell only, though Excel shows it on every row of
  the range: a value merged down a column is copied to each row it covers, with a warning.
- A formula comes back as its saved result, with a warning naming the formula; a formula saved
  without a result (a file written by a script or a tool that does not recalculate), or a cell
  whose type says it holds a value but has none (``<c t="n"><v/></c>``), would read as an empty
  cell a default could fill: it is an error on that cell. A merely styled empty cell is empty.

Only the one sheet's XML is read. It is first scanned in pieces, while calamine loads the sheet
(``may_need_repair``), and read whole and searched only when it holds such cells.
"""

from __future__ import annotations

import io
import re
import zipfile
from xml.etree import ElementTree

import polars as pl

from pipeline.stages.ingest.sheet import CellNote

__all__ = ["EXCEL_ERRORS", "apply_marks", "has_property", "hidden_sheets", "may_need_repair", "property_value",
           "repair"]

EXCEL_ERRORS = ("#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!",
                "#GETTING_DATA", "#FIELD!", "#BLOCKED!", "#UNKNOWN!", "#CONNECT!", "#BUSY!")
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
      "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
      "rel": "http://schemas.openxmlformats.org/package/2006/relationships"}
ODF_META = "urn:oasis:names:tc:opendocument:xmlns:meta:1.0"
CELL_REF = re.compile(rb'\br="([A-Z]+)([0-9]+)"')
VALUE = re.compile(rb"<v>([^<]*)</v>")
CELL = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.DOTALL)
FORMULA = re.compile(rb"<f\b[^>]*?(?:/>|>([^<]*)</f>)")
EMPTY_VALUE = re.compile(rb"<v\s*/>|<v>\s*</v>")
MERGE = re.compile(rb'<mergeCell ref="([A-Z]+)([0-9]+):([A-Z]+)([0-9]+)"')


def property_value(content: bytes, name: str) -> str | None:
    """The text of the workbook's custom document property ``name`` (docProps/custom.xml; in an .ods
    file LibreOffice saved, meta.xml's user-defined properties); None when it has none."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as z:
            parts = set(z.namelist())
            meta = "docProps/custom.xml" if "docProps/custom.xml" in parts else "meta.xml"
            custom = ElementTree.fromstring(z.read(meta))
    except (KeyError, zipfile.BadZipFile, ElementTree.ParseError):
        return None
    for p in custom.iter():
        if p.tag.endswith(("}property", "}user-defined")) and (p.get("name") or p.get(f"{{{ODF_META}}}name")) == name:
            return "".join(p.itertext()).strip()
    return None


def has_property(content: bytes, name: str) -> bool:
    """Whether the workbook carries the custom document property ``name``."""
    return property_value(content, name) is not None


def hidden_sheets(content: bytes) -> set[str]:
    """Names of the sheets Excel does not show (hidden or very hidden)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as z:
            book = ElementTree.fromstring(z.read("xl/workbook.xml"))
    except (KeyError, zipfile.BadZipFile, ElementTree.ParseError):
        return set()
    return {s.get("name", "") for s in book.iter(f"{{{NS['m']}}}sheet") if s.get("state", "visible") != "visible"}


def _sheet_part(z: zipfile.ZipFile, name: str) -> str | None:
    """The path in the archive of the sheet named ``name`` (KeyError, ParseError when there is none)."""
    book = ElementTree.fromstring(z.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    rid = next((s.get(f"{{{NS['r']}}}id") for s in book.iter(f"{{{NS['m']}}}sheet") if s.get("name") == name), None)
    target = next((r.get("Target") for r in rels.iter(f"{{{NS['rel']}}}Relationship") if r.get("Id") == rid), None)
    if target is None:
        return None
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def _sheet_xml(content: bytes, name: str) -> bytes | None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as z:
            path = _sheet_part(z, name)
            return z.read(path) if path is not None else None
    except (KeyError, zipfile.BadZipFile, ElementTree.ParseError):
        return None


# what makes ``repair`` look at a sheet's cells: an error cell, a merged range, a formula, an empty value
MARKS = (b't="e"', b"<mergeCell ", b"<f")
# the start of an empty value (EMPTY_VALUE) that a piece's end may have cut
_CUT_EMPTY = re.compile(rb"<(?:v(?:\s*/?|>\s*(?:<(?:/v?)?)?)?)?")
_PIECE = 1 << 22


def may_need_repair(content: bytes, name: str) -> bool:
    """Whether the sheet's XML holds anything ``repair`` acts on (``MARKS``, ``EMPTY_VALUE``), read in
    pieces of 4 MB (a sheet is never held whole here). True when unsure: a sheet this cannot read
    (``repair`` reads it again and says what is wrong). Made to run beside the reader while it loads
    the sheet: most sheets hold none of them, and then ``repair`` need not read the sheet again."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as z:
            path = _sheet_part(z, name)
            if path is None:
                return False
            with z.open(path) as part:
                tail = b""
                while chunk := part.read(_PIECE):
                    piece = tail + chunk
                    if any(mark in piece for mark in MARKS) or EMPTY_VALUE.search(piece):
                        return True
                    # the next piece starts with the end of this one: a mark (at most 11 bytes) or an
                    # empty value cut here is found whole there
                    cut = _cut(piece)
                    if len(piece) - cut > _PIECE:
                        return True     # an empty value cut after megabytes of spaces: unsure
                    tail = piece[max(0, min(cut, len(piece) - 16)):]
    except Exception:       # whatever it is, repair reads the sheet itself and says what is wrong
        return True
    return False


def _cut(piece: bytes) -> int:
    """Where the start of an empty value (``<v``, ``<v>  </``...) that the end of ``piece`` may have cut
    begins (at its last or last but one ``<``); the piece's length when it ends with none."""
    last = piece.rfind(b"<")
    for at in (piece.rfind(b"<", 0, last), last) if last > 0 else (last,):
        if at >= 0 and _CUT_EMPTY.fullmatch(piece, at) is not None:
            return at
    return len(piece)


def _error_cells(xml: bytes) -> list[tuple[str, int, str]]:
    """(column letters, row, error text) of every cell of type "e"."""
    out: list[tuple[str, int, str]] = []
    for match in re.finditer(rb't="e"', xml):
        start = xml.rfind(b"<c ", 0, match.start())
        end = xml.find(b"</c>", match.end())
        if start < 0 or end < 0:
            continue
        cell = xml[start:end]
        ref, value = CELL_REF.search(cell), VALUE.search(cell)
        if ref and value:
            out.append((ref.group(1).decode(), int(ref.group(2)), value.group(1).decode("utf-8", "replace")))
    return out


class _Columns:
    """The grid's columns as lists, taken out of the frame only when a cell of theirs changes."""

    def __init__(self, grid: pl.DataFrame, letters: list[str]) -> None:
        self.grid, self.letters = grid, letters
        self.index = {letter: i for i, letter in enumerate(letters)}
        self.changed: dict[int, list[str | None]] = {}

    def values(self, j: int) -> list[str | None]:
        if j not in self.changed:
            self.changed[j] = self.grid[self.grid.columns[j]].to_list()
        return self.changed[j]

    def frame(self) -> pl.DataFrame:
        if not self.changed:
            return self.grid
        return self.grid.with_columns(pl.Series(self.grid.columns[j], v, dtype=pl.String)
                                      for j, v in self.changed.items())


def _put_errors(errors: list[tuple[str, int, str]], cols: _Columns) -> None:
    for letter, row, text in errors:
        j = cols.index.get(letter)
        if j is not None and 0 < row <= cols.grid.height:
            cols.values(j)[row - 1] = text


def _fill_merges(merges: list[tuple[str, int, str, int]], cols: _Columns, header_row: int) -> list[CellNote]:
    notes: list[CellNote] = []
    for c1, r1, c2, r2 in merges:
        top, bottom = r1, min(r2, cols.grid.height)
        if top <= header_row or bottom <= top:
            continue          # merged title or header cells, or a merge within one row
        span = f"{c1}{top}:{c2}{bottom}"
        for letter in cols.letters[cols.index.get(c1, len(cols.letters)):cols.index.get(c2, -1) + 1]:
            j = cols.index[letter]
            value = cols.values(j)[top - 1]
            if value is None:
                continue
            for row in range(top + 1, bottom + 1):
                cols.values(j)[row - 1] = value
                notes.append(CellNote(row, cols.grid.columns[j], f"this cell is part of the merged cells {span}; "
                                      f"their value '{value}' was used for this row too."))
    return notes


def _unescape(text: bytes) -> str:
    return text.decode("utf-8", "replace").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"') \
        .replace("&apos;", "'").replace("&amp;", "&")


def _cell_note(attrs: bytes, inner: bytes, cols: _Columns) -> CellNote | None:
    ref = CELL_REF.search(attrs)
    j = cols.index.get(ref.group(1).decode()) if ref else None
    if ref is None or j is None or b't="e"' in attrs:       # an error cell says it all (see _put_errors)
        return None
    row, column = int(ref.group(2)), cols.grid.columns[j]
    formula = FORMULA.search(inner)
    empty = EMPTY_VALUE.search(inner) is not None or VALUE.search(inner) is None
    if formula is not None:
        shown = f"the formula ={_unescape(formula.group(1))}" if formula.group(1) else "a formula"
        if empty:
            return CellNote(row, column, f"holds {shown} but no saved result: open the file in Excel, save it and "
                            "upload it again", "cell.formula_without_result", error=True)
        value = cols.values(j)[row - 1] if 0 < row <= cols.grid.height else None
        return CellNote(row, column, f"the cell holds {shown}; its saved result '{value}' was used",
                        "cell.formula")
    if EMPTY_VALUE.search(inner):
        return CellNote(row, column, "the cell is marked as holding a value but holds none: type the value in "
                        "Excel, save the file and upload it again", "cell.typed_empty", error=True)
    return None


def _formulas_and_empties(xml: bytes, cols: _Columns, header_row: int) -> list[CellNote]:
    notes = []
    for match in CELL.finditer(xml):
        inner = match.group(2) or b""
        if b"<f" in inner or EMPTY_VALUE.search(inner):
            note = _cell_note(match.group(1), inner, cols)
            if note is not None and note.row > header_row:
                notes.append(note)
    return notes


def repair(content: bytes, name: str, grid: pl.DataFrame, letters: list[str],
           header_idx: int, maybe: bool = True) -> tuple[pl.DataFrame, list[CellNote]]:
    """The grid with error cells and merged ranges restored, and a note on each cell a merge filled,
    each formula, and each cell that should hold a value and does not. ``maybe`` False: the sheet
    holds none of them (``may_need_repair``), and it is not read again."""
    xml = _sheet_xml(content, name) if maybe else None
    if xml is None:
        return grid, []
    errors, merges = b't="e"' in xml, b"<mergeCell " in xml
    formulas_or_empties = b"<f" in xml or EMPTY_VALUE.search(xml) is not None
    if not (errors or merges or formulas_or_empties):
        return grid, []
    cols = _Columns(grid, letters)
    if errors:
        _put_errors(_error_cells(xml), cols)
    found = [(c1.decode(), int(r1), c2.decode(), int(r2)) for c1, r1, c2, r2 in MERGE.findall(xml)] if merges else []
    notes = _fill_merges(found, cols, header_idx + 1)
    if formulas_or_empties:
        notes += _formulas_and_empties(xml, cols, header_idx + 1)
    return cols.frame(), notes


def apply_marks(grid: pl.DataFrame, letters: list[str], header_idx: int, errors: list[tuple[str, int, str]],
                merges: list[tuple[str, int, str, int]]) -> tuple[pl.DataFrame, list[CellNote]]:
    """The grid with ``errors`` (column letters, row, text) put back and ``merges`` (first column, first
    row, last column, last row) filled down, for a reader of another format (see ``legacy_cells``)."""
    if not errors and not merges:
        return grid, []
    cols = _Columns(grid, letters)
    _put_errors(errors, cols)
    notes = _fill_merges(merges, cols, header_idx + 1)
    return cols.frame(), notes
