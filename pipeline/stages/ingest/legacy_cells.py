"""What calamine leaves out of a legacy .xls or an OpenDocument .ods sheet, as ``xlsx_cells`` does for
.xlsx: error cells (#N/A, #DIV/0! ...), which it reads as empty cells a campaign default would then
fill, and merged cells, whose value it gives on the first row only. They are found with xlrd (.xls)
and in the sheet's own XML (.ods, content.xml), and put back by ``xlsx_cells.apply_marks``.
"""

from __future__ import annotations

import io
import re
import zipfile
from html import unescape

import xlrd
from xlrd.biffh import error_text_from_code

from pipeline.stages.ingest.sheet import column_letter

__all__ = ["ODS_CELL", "ODS_ROW", "Marks", "ods_marks", "ods_number", "xls_marks"]

Marks = tuple[list[tuple[str, int, str]], list[tuple[str, int, str, int]]]   # errors, merges (see apply_marks)

ODS_ROW = re.compile(rb"<table:table-row\b([^>]*?)(?:/>|>(.*?)</table:table-row>)", re.DOTALL)
ODS_CELL = re.compile(rb"<table:(?:covered-)?table-cell\b([^>]*?)(?:/>|>(.*?)</table:(?:covered-)?table-cell>)",
                      re.DOTALL)
_NAME = re.compile(rb'^[^>]*?table:name="([^"]*)"')
_TEXT = re.compile(rb"<text:p>(.*?)</text:p>", re.DOTALL)
REPEATS_MARKED = 1000          # an error repeated over more rows or columns than this is marked on the first ones


def ods_number(attribute: bytes, attributes: bytes, default: int = 1) -> int:
    """The number an .ods element's ``attribute`` holds (a repeat, a span), or ``default``."""
    found = re.search(attribute + rb'="([0-9]+)"', attributes)
    return int(found.group(1)) if found else default


def ods_marks(content: bytes, sheet: str) -> Marks:
    """The error cells and merged ranges of the .ods sheet named ``sheet``."""
    errors: list[tuple[str, int, str]] = []
    merges: list[tuple[str, int, str, int]] = []
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        xml = z.read("content.xml")
    for table in xml.split(b"<table:table ")[1:]:
        name = _NAME.search(table)
        if name is None or unescape(name.group(1).decode("utf-8", "replace")) != sheet:
            continue
        row = 1
        for match in ODS_ROW.finditer(table):
            repeat = ods_number(rb"table:number-rows-repeated", match.group(1))
            column = 0
            for cell in ODS_CELL.finditer(match.group(2) or b""):
                attrs, wide = cell.group(1), ods_number(rb"table:number-columns-repeated", cell.group(1))
                if b'calcext:value-type="error"' in attrs:
                    shown = _TEXT.search(cell.group(2) or b"")
                    text = unescape(shown.group(1).decode("utf-8", "replace")) if shown else "#VALUE!"
                    errors += [(column_letter(c), r, text) for r in range(row, row + min(repeat, REPEATS_MARKED))
                               for c in range(column, column + min(wide, REPEATS_MARKED))]
                tall = ods_number(rb"table:number-rows-spanned", attrs)
                if tall > 1:
                    across = ods_number(rb"table:number-columns-spanned", attrs)
                    merges.append((column_letter(column), row, column_letter(column + across - 1), row + tall - 1))
                column += wide
            row += repeat
        break
    return errors, merges


def xls_marks(content: bytes, sheet: str) -> Marks:
    """The error cells and merged ranges of the .xls sheet named ``sheet``."""
    book = xlrd.open_workbook(file_contents=content, formatting_info=True, on_demand=True)
    try:
        ws = book.sheet_by_name(sheet)
        errors = [(column_letter(c), r + 1, error_text_from_code.get(ws.cell_value(r, c), "#VALUE!"))
                  for c in range(ws.ncols) for r, kind in enumerate(ws.col_types(c)) if kind == xlrd.XL_CELL_ERROR]
        merges = [(column_letter(clo), rlo + 1, column_letter(chi - 1), rhi) for rlo, rhi, clo, chi in ws.merged_cells]
    finally:
        book.release_resources()
    return errors, merges
