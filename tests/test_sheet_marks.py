"""A sheet's XML read in pieces: ``xlsx_cells.may_need_repair``, the scan made beside the reader that
spares a sheet with no error cell, merged range, formula or empty value a second reading of its XML,
and the zip check's count of rows. Every mark, and every row, is tried at every place a piece can
cut it."""

from __future__ import annotations

import io
import re
import zipfile

import openpyxl
import pytest

from pipeline.errors import InputError
from pipeline.stages.ingest import limits, xlsx_cells
from tests.helpers import write_xlsx
from tests.test_ingest import read_sheet

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def workbook(sheet_xml: bytes) -> bytes:
    """A workbook of one sheet, "S", whose XML is ``sheet_xml``: the parts the scan reads."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", f'<workbook xmlns="{MAIN}" xmlns:r="{RELS}"><sheets>'
                   '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels",
                   '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   f'<Relationship Id="rId1" Type="{RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
                   "</Relationships>")
        z.writestr("xl/worksheets/sheet1.xml", sheet_xml)
    return out.getvalue()


def cell(n: int, text: bytes) -> bytes:
    return b'<c r="B%d" t="inlineStr"><is><t>%s</t></is></c>' % (n, text)


def sheet(*cells: bytes) -> bytes:
    start = f'<worksheet xmlns="{MAIN}"><sheetData><row r="2">'.encode()
    return start + b"".join(cells) + b"</row></sheetData></worksheet>"


MARKED = {
    "error": b'<c r="A2" t="e"><v>#N/A</v></c>',
    "merge": b'<mergeCell ref="A2:A3"/>',
    "formula": b'<c r="A2"><f>SUM(C2:C9)</f><v>2</v></c>',
    "empty value": b'<c r="A2" t="n"><v/></c>',
    "empty value, spaced": b'<c r="A2" t="n"><v  /></c>',
    "value of spaces": b'<c r="A2" t="n"><v>   </v></c>',
    "value of many spaces": b'<c r="A2" t="n"><v>' + b" " * 150 + b"</v></c>",
}


def whole(xml: bytes) -> bool:
    """What ``repair`` finds in the sheet read whole."""
    return any(mark in xml for mark in xlsx_cells.MARKS) or xlsx_cells.EMPTY_VALUE.search(xml) is not None


@pytest.mark.parametrize("mark", MARKED.values(), ids=MARKED.keys())
def test_a_mark_is_found_wherever_a_piece_ends(monkeypatch, mark):
    monkeypatch.setattr(xlsx_cells, "_PIECE", 64)
    for pad in range(70):           # the mark starts at each place of a piece, and past its end
        xml = sheet(cell(2, b"x" * pad), mark, *(cell(n, b"text") for n in range(3, 9)))
        assert whole(xml)
        assert xlsx_cells.may_need_repair(workbook(xml), "S"), (pad, mark)


def test_a_sheet_without_marks_is_clean_wherever_its_pieces_end(monkeypatch):
    monkeypatch.setattr(xlsx_cells, "_PIECE", 64)
    for pad in range(70):           # near misses: text holding f and v, shared strings, a spaced value
        xml = sheet(cell(2, b"x" * pad), *(cell(n, b"f v t=e") for n in range(3, 12)),
                    b'<c r="A3" t="s"><v>0</v></c>', b'<c r="A4"><v> 5 </v></c>')
        assert not whole(xml)
        assert not xlsx_cells.may_need_repair(workbook(xml), "S"), pad


def test_a_sheet_the_scan_cannot_find_or_read_is_left_to_repair():
    assert xlsx_cells.may_need_repair(b"not a zip", "S")
    assert not xlsx_cells.may_need_repair(workbook(sheet(cell(2, b"x"))), "Other")   # no such sheet: nothing
    with_bad_part = io.BytesIO()
    with zipfile.ZipFile(with_bad_part, "w") as z:
        z.writestr("xl/workbook.xml", "<workbook")
    assert xlsx_cells.may_need_repair(with_bad_part.getvalue(), "S")


def test_a_clean_sheet_is_not_read_again_and_a_marked_one_is(tmp_path, monkeypatch):
    reads: list[str] = []
    real = xlsx_cells._sheet_xml
    monkeypatch.setattr(xlsx_cells, "_sheet_xml", lambda content, name: reads.append(name) or real(content, name))
    clean = write_xlsx(tmp_path / "clean.xlsx", [["First Name", "Amount"], ["Ann", 25], ["Bob", 30]])
    assert read_sheet(clean).frame["c1"].to_list() == ["25", "30"]
    assert reads == []
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "R"
    ws.append(["First Name", "Amount"])
    ws.append(["Ann", "=20+5"])         # openpyxl saves a formula without its result
    book.save(tmp_path / "formula.xlsx")
    sheet_read = read_sheet(tmp_path / "formula.xlsx")
    assert reads == ["R"]
    assert [n.rule for n in sheet_read.notes] == ["cell.formula_without_result"]
    assert re.search("=20\\+5", sheet_read.notes[0].text)


def test_a_repeated_row_is_refused_wherever_the_zip_check_cuts_the_sheet(monkeypatch, tmp_path):
    """The zip check reads a sheet in pieces too: a row whose tag a piece's end cuts is counted, and its
    number checked, whole (a repeated row, which a reader would keep once, is refused wherever it is)."""
    monkeypatch.setattr(limits, "_CHUNK", 64)
    for pad in range(70):       # (past the first 1,024 bytes, which are read apart)
        rows = [b'<row r="%d">%s</row>' % (n, cell(n, b"x" * (pad if n == 30 else 3))) for n in range(2, 50)]
        clean = f'<worksheet xmlns="{MAIN}"><sheetData>'.encode() + b"".join(rows) + b"</sheetData></worksheet>"
        for xml, refused in ((clean, False), (clean.replace(b'<row r="41">', b'<row r="40">'), True)):
            with zipfile.ZipFile(io.BytesIO(workbook(xml))) as archive:
                if refused:
                    with pytest.raises(InputError, match="has its row 40 after row 40"):
                        limits.check_zip(tmp_path / "b.xlsx", archive)
                else:
                    limits.check_zip(tmp_path / "b.xlsx", archive)
