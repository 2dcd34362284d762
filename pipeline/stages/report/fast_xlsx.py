"""xlsxwriter's workbook with its slow parts made fast: the zip level, cell comments, and the copy
of a constant-memory sheet's rows into its XML.

This module and ``workbook.RowsSheet`` are the places that touch xlsxwriter's internals (pinned
version 3.3.1); the tests compare what they write with what xlsxwriter writes itself.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import xlsxwriter
import xlsxwriter.comments
import xlsxwriter.packager
import xlsxwriter.vml
import xlsxwriter.workbook
import xlsxwriter.worksheet
from xlsxwriter.utility import _preserve_whitespace, xl_rowcol_to_cell

__all__ = ["ZIP_LEVEL", "FastWorkbook", "FastWorksheet"]

# deflate level of the workbook's parts: 1 compresses 100,000 rows about three times faster than
# zlib's default (6), for a file about a third larger
ZIP_LEVEL = 1
_ZIP_LOCK = threading.Lock()


class FastWorkbook(xlsxwriter.Workbook):  # type: ignore[misc]
    """xlsxwriter's workbook, zipped at ``ZIP_LEVEL`` and with its cell comments written fast.

    xlsxwriter has no option for the zip level, and writes each comment with some twenty calls of
    its XML writer (about 70 µs a comment): while it stores the workbook, the ZipFile it makes is
    given a level and its comment writers are swapped for ``_FastVml``/``_FastComments``, which
    write the same bytes (tests compare them with xlsxwriter's own). Under a lock, so two reports
    written at once by two threads both get them, and the modules are left as they were."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.worksheet_class = FastWorksheet

    def _store_workbook(self) -> None:
        with _ZIP_LOCK, _swapped(xlsxwriter.workbook, "ZipFile",
                                 functools.partial(zipfile.ZipFile, compresslevel=ZIP_LEVEL)), \
                _swapped(xlsxwriter.packager, "Vml", _FastVml), \
                _swapped(xlsxwriter.packager, "Comments", _FastComments):
            super()._store_workbook()


class FastWorksheet(xlsxwriter.worksheet.Worksheet):  # type: ignore[misc]
    """A worksheet whose rows (constant-memory mode) go into its XML as bytes.

    xlsxwriter reads its temporary file of rows back as text, 64 KB at a time, and writes it out
    again as text: a million rows are a gigabyte decoded and encoded once more. The rows are UTF-8
    already (the file is written so), so they are copied as they are. ``rows_out`` is that file's
    byte stream, for a writer that has the rows as UTF-8 bytes already (``RowsSheet``)."""

    def rows_out(self) -> Any:
        self.row_data_fh.flush()            # what xlsxwriter wrote as text goes first
        return self.row_data_fh.buffer

    def _write_optimized_sheet_data(self) -> None:
        if self.dim_rowmin is None or not hasattr(self.fh, "buffer"):     # no rows; an in-memory workbook
            super()._write_optimized_sheet_data()
            return
        self._xml_start_tag("sheetData")
        self.row_data_fh.close()
        self.fh.flush()
        with open(self.row_data_filename, "rb") as rows:
            shutil.copyfileobj(rows, self.fh.buffer, 1 << 20)
        os.unlink(self.row_data_filename)
        self._xml_end_tag("sheetData")


@contextmanager
def _swapped(module: Any, name: str, value: Any) -> Iterator[None]:
    before = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, before)


class _FastVml(xlsxwriter.vml.Vml):  # type: ignore[misc]
    """The ``<v:shape>`` of a cell comment as one formatted string (xlsxwriter 3.3.1's bytes)."""

    def _write_comment_shape(self, shape_id: int, z_index: int, comment: Any) -> None:
        left, top, width, height = self._pixels_to_points(comment.vertices)
        col_start, row_start, x1, y1, col_end, row_end, x2, y2 = comment.vertices[:8]
        visibility = "visible" if comment.is_visible else "hidden"
        self.fh.write(
            f'<v:shape id="_x0000_s{shape_id}" type="#_x0000_t202" style="position:absolute;'
            f"margin-left:{left:.15g}pt;margin-top:{top:.15g}pt;width:{width:.15g}pt;height:{height:.15g}pt;"
            f'z-index:{z_index};visibility:{visibility}" fillcolor="{comment.color._vml_rgb_hex_value()}" '
            'o:insetmode="auto"><v:fill color2="#ffffe1"/><v:shadow on="t" color="black" obscured="t"/>'
            '<v:path o:connecttype="none"/><v:textbox style="mso-direction-alt:auto"><div style="text-align:left">'
            '</div></v:textbox><x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/>'
            f"<x:Anchor>{col_start}, {x1}, {row_start}, {y1}, {col_end}, {x2}, {row_end}, {y2}</x:Anchor>"
            f"<x:AutoFill>False</x:AutoFill><x:Row>{comment.row}</x:Row><x:Column>{comment.col}</x:Column>"
            f"{'<x:Visible/>' if comment.is_visible else ''}</x:ClientData></v:shape>")


class _FastComments(xlsxwriter.comments.Comments):  # type: ignore[misc]
    """A ``<comment>`` as one formatted string (xlsxwriter 3.3.1's bytes)."""

    def _write_comment(self, comment: Any, author_id: int) -> None:
        author = f' authorId="{author_id}"' if author_id != -1 else ""
        space = ' xml:space="preserve"' if _preserve_whitespace(comment.text) else ""
        text = self._escape_control_characters(self._escape_data(comment.text))
        font = self._escape_attributes(comment.font_name)
        self.fh.write(
            f'<comment ref="{xl_rowcol_to_cell(comment.row, comment.col)}"{author}><text><r><rPr>'
            f'<sz val="{comment.font_size}"/><color indexed="81"/><rFont val="{font}"/>'
            f'<family val="{comment.font_family}"/></rPr><t{space}>{text}</t></r></text></comment>')
