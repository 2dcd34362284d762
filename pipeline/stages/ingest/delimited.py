"""Delimited text (.csv, .txt): the encoding Excel or another tool saved it in, the separator under
which a header appears, and every cell as text through polars' CSV reader."""

from __future__ import annotations

import codecs
import csv
import io
import re
from pathlib import Path

import polars as pl

from pipeline.errors import InputError
from pipeline.frames import one_chunk
from pipeline.stages.ingest.limits import MAX_COLUMNS, MAX_ROWS, content_columns, read_content
from pipeline.stages.ingest.sheet import (
    HEADER_SEARCH_ROWS,
    Grid,
    Sheet,
    column_letter,
    find_header,
    score,
    to_sheet,
)
from rules import RuleBook

__all__ = ["CSV_SUFFIXES", "decode_text", "read_delimited"]

CSV_SUFFIXES = {".csv", ".txt"}


def decode_text(path: Path, content: bytes) -> bytes:
    """The file as the UTF-8 bytes polars reads: as they are when they are UTF-8 already (with or
    without BOM; checked piece by piece, so the file is never held whole as text beside its bytes:
    a million rows are 94 MB of bytes and twice that as text once one cell holds an accent), else
    decoded from UTF-16 (Excel's "Unicode Text") or Windows-1252 (Excel on Windows) and encoded again.
    Lone \\r line breaks (old Macs) become \\n.
    """
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return _line_ends(content.decode("utf-16").encode("utf-8"))
        except UnicodeDecodeError:
            raise InputError(str(path), "the file starts like UTF-16 text but is not") from None
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    if _is_utf8(content):
        return _line_ends(content)
    try:
        return _line_ends(content.decode("cp1252").encode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(str(path), f"the file is neither UTF-8 nor Windows-1252 text (byte "
                         f"0x{content[exc.start]:02x} at position {exc.start})") from None


def _is_utf8(content: bytes, piece: int = 1 << 23) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(content)
    try:
        for at in range(0, len(content), piece):
            decoder.decode(view[at:at + piece])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _line_ends(data: bytes) -> bytes:
    """Old Mac line ends (a lone \\r), alone or mixed with others, become \\n; \\r\\n alone is read as it is
    (in UTF-8 the byte \\r is never part of another character)."""
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
        return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data


def _leading_breaks(data: bytes) -> int:
    """How many bytes of line breaks come before the first line (a match kept would keep the file)."""
    found = re.match(rb"[\r\n]*", data)
    return found.end() if found else 0


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


def _best_separator(head: str, book: RuleBook) -> tuple[str, list[list[str | None]], list[int], int | None]:
    """The separator under which a header row names the most known fields."""
    best: tuple[int, str, list[list[str | None]], list[int], int | None] = (0, ",", [], [], None)
    for sep in (",", ";", "\t", "|"):
        records, before = _records(head, sep)
        idx = find_header(records, book)
        found = score(records[idx], book) if idx is not None else 0
        if found > best[0]:
            best = (found, sep, records, before, idx)
    return best[1], best[2], best[3], best[4]


def read_delimited(path: Path, book: RuleBook) -> Sheet:
    content, digest = read_content(path)
    if content.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise InputError(str(path), "this is a workbook saved with a text file's name: give it the name it was "
                         "saved with (.xlsx), or save it from Excel as CSV")
    data = decode_text(path, content)
    del content
    if "\x00" in data[:16_384].decode("utf-8", "ignore")[:4096]:        # the first 4096 characters
        raise InputError(str(path), "this is not a text file (is it a workbook saved with a .csv name?)")
    lead = _leading_breaks(data)
    blank = data.count(b"\n", 0, lead)         # blank lines above everything: skipped, as blank rows are
    # the first 200,000 characters (at most 4 bytes each; a character the cut of the bytes splits is past them)
    head = "\n".join(data[lead:lead + 800_000].decode("utf-8", "ignore")[:200_000].split("\n")[:HEADER_SEARCH_ROWS * 4])
    sep, records, lines_before, idx = _best_separator(head, book)
    if idx is None and path.suffix.lower() == ".txt":     # a note dropped beside the sheets, most likely
        raise InputError(str(path), "unsupported file type '.txt': a text file is read only when it is a CSV or "
                         "tab-separated export with a header row (such as First Name, Email, Amount); upload an "
                         ".xlsx, .xlsm, .xls, .ods or .csv file")
    if idx is None:
        raise InputError(str(path), f"no header row found in the first {HEADER_SEARCH_ROWS} rows; "
                         "expected column names such as First Name, Email, Amount")
    header = records[idx]
    width = len(header)
    if width > MAX_COLUMNS:     # thousands of empty cells after the header's last name cost nothing
        width = next((i + 1 for i in range(len(header) - 1, -1, -1) if (header[i] or "").strip()), 1)
    try:
        try:
            grid = _csv_grid(data, sep, blank + lines_before[idx], width)
        except (pl.exceptions.ComputeError, pl.exceptions.SchemaError):
            # a row with more cells than the header (or than its last named column): read them all,
            # up to the last one filled, as columns without a name
            widest = _widest(data.decode("utf-8"), sep)
            grid = _csv_grid(data, sep, blank + lines_before[idx], max(width, widest), ragged=True)
    except pl.exceptions.PolarsError:
        raise InputError(str(path), f"not a readable CSV file: {_parse_problem(data.decode('utf-8'), sep)}") from None
    del data            # before the columns are put in one piece, which takes memory for a while
    if grid.height + blank + lines_before[idx] > MAX_ROWS:
        raise InputError(str(path), f"the file has more than {MAX_ROWS:,} rows, more than Excel allows; split it "
                         "into smaller files")
    grid = one_chunk(grid)
    cells, letters = content_columns(grid, [column_letter(i) for i in range(grid.width)], path, None)
    return to_sheet(Grid(path, None, cells, 0, blank + idx + 1, letters, digest), book)


def _parse_problem(text: str, sep: str) -> str:
    """Where and why the file cannot be read as CSV, in words that quote none of its cells (they
    hold personal data)."""
    reader = csv.reader(io.StringIO(text), delimiter=sep, strict=True)
    consumed = 0
    try:
        for _ in reader:
            consumed = reader.line_num
    except csv.Error as exc:
        return (f"the record that starts on line {consumed + 1} cannot be read ({exc}); is a quote (\") left "
                "open, or one put inside a cell without doubling it?")
    return "the CSV reader failed on it; open it in Excel and save it again as CSV"


def _csv_grid(data: bytes, sep: str, skip: int, width: int, ragged: bool = False) -> pl.DataFrame:
    return pl.read_csv(data, has_header=False, infer_schema=False, separator=sep, skip_lines=skip,
                       schema={f"x{i}": pl.String for i in range(width)}, missing_columns="insert",
                       raise_if_empty=False, truncate_ragged_lines=ragged,
                       extra_columns="ignore" if ragged else "raise")


def _widest(text: str, sep: str) -> int:
    """How many cells the widest record fills, up to its last non-empty one (empty cells after that
    cost nothing: they are cut off)."""
    widest = 0
    for record in csv.reader(io.StringIO(text), delimiter=sep):
        if len(record) > widest:
            widest = max(widest, next((i + 1 for i in range(len(record) - 1, -1, -1) if record[i].strip()), 0))
    return widest
