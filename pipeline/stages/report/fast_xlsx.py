"""xlsxwriter's workbook with its slow parts made fast: the zip level, cell comments, and a
constant-memory sheet's rows, deflated as they are written and stored in the zip as they are.

This module and ``workbook.RowsSheet`` are the places that touch xlsxwriter's internals (pinned
version 3.3.1); the tests compare what they write with what xlsxwriter writes itself.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
import zipfile
import zlib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, NamedTuple

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
                                 functools.partial(_SplicingZip, compresslevel=ZIP_LEVEL, workbook=self)), \
                _swapped(xlsxwriter.packager, "Vml", _FastVml), \
                _swapped(xlsxwriter.packager, "Comments", _FastComments):
            super()._store_workbook()


class FastWorksheet(xlsxwriter.worksheet.Worksheet):  # type: ignore[misc]
    """A worksheet whose rows (constant-memory mode) are compressed as they are written, and go into
    the zip as they are.

    xlsxwriter writes its rows to a temporary file as text, reads them back and writes them into the
    sheet's XML file, which the zip then reads and compresses: a million rows are 725 MB written three
    times and read twice. Here a writer that has the rows as UTF-8 bytes (``RowsSheet``) gives them to
    ``deflated_rows``, which deflates them (raw deflate, ``ZIP_LEVEL``) into a file of their own, ended
    by a sync flush; the sheet's XML is written without them, and ``_SplicingZip`` stores the sheet as
    its start (and the rows xlsxwriter wrote itself: the header) deflated, those deflated rows as they
    are, and its end: one deflate stream, as pigz joins the blocks it deflates apart."""

    _xml_path: str | None = None
    _deflated: _DeflatedRows | None = None
    splice: _Splice | None = None

    def deflated_rows(self) -> _DeflatedRows:
        self.row_data_fh.flush()            # what xlsxwriter wrote as text comes first
        self._deflated = _DeflatedRows(self.row_data_filename + ".z")
        return self._deflated

    def _set_xml_writer(self, filename: Any) -> None:
        super()._set_xml_writer(filename)
        self._xml_path = filename if isinstance(filename, str) else None

    def _write_optimized_sheet_data(self) -> None:
        if self.dim_rowmin is None or self._xml_path is None:     # no rows; an in-memory workbook
            super()._write_optimized_sheet_data()
            return
        self._xml_start_tag("sheetData")
        self.row_data_fh.close()
        self.fh.flush()
        deflated = self._deflated.finish() if self._deflated is not None else None
        self.splice = _Splice(self.fh.buffer.tell(), self.row_data_filename, *deflated or (None, 0, 0))
        self._xml_end_tag("sheetData")


class _DeflatedRows:
    """Rows as UTF-8 bytes, deflated into ``path`` as they come, their length and CRC-32 counted, by
    a thread of its own: zlib lets go of the interpreter while it works, so a chunk is deflated while
    polars renders the next one (at most one waits)."""

    def __init__(self, path: str) -> None:
        self.path, self.size, self.crc = path, 0, 0
        self._file = open(path, "wb")  # noqa: SIM115 (closed by finish, when the sheet is stored)
        self._deflate = zlib.compressobj(ZIP_LEVEL, zlib.DEFLATED, -15)
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="deflate-rows")
        self._pending: Future[None] | None = None

    def write(self, data: bytes) -> None:
        if self._pending is not None:
            self._pending.result()
        self._pending = self._worker.submit(self._add, data)

    def _add(self, data: bytes) -> None:
        self.size += len(data)
        self.crc = zlib.crc32(data, self.crc)
        self._file.write(self._deflate.compress(data))

    def finish(self) -> tuple[str, int, int]:
        try:
            if self._pending is not None:
                self._pending.result()
        finally:
            self._worker.shutdown()
        self._file.write(self._deflate.flush(zlib.Z_SYNC_FLUSH))    # byte-aligned, not the last block
        self._file.close()
        return self.path, self.size, self.crc


class _Splice(NamedTuple):
    at: int                 # where in the sheet's XML file its rows go
    rows: str               # the file of the rows xlsxwriter wrote (text)
    deflated: str | None    # the file of the rows written as bytes, deflated
    size: int               # their length and CRC-32, before deflating
    crc: int


class _SplicingZip(zipfile.ZipFile):
    """The workbook's zip: a sheet's XML file with a ``splice`` is stored with its rows put in."""

    def __init__(self, *args: Any, workbook: FastWorkbook, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._workbook = workbook

    def write(self, filename: Any, arcname: Any = None, compress_type: Any = None, compresslevel: Any = None) -> None:
        sheet = next((s for s in self._workbook.worksheets() if isinstance(s, FastWorksheet) and s.splice
                      and s._xml_path == filename), None)
        if sheet is None or sheet.splice is None:
            super().write(filename, arcname, compress_type, compresslevel)
            return
        splice = sheet.splice
        with open(filename, "rb") as xml, open(splice.rows, "rb") as text:
            head, tail = xml.read(splice.at) + text.read(), xml.read()
        info = zipfile.ZipInfo.from_file(filename, arcname)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.file_size = len(head) + splice.size + len(tail)     # zip64 if need be
        with self.open(info, "w") as opened:
            out: Any = opened                   # zipfile's _ZipWriteFile
            out._compressor = _AsItIs()         # the bytes below are deflated already
            out.write(_deflate(head, zlib.Z_SYNC_FLUSH))
            if splice.deflated is not None:
                with open(splice.deflated, "rb") as rows:
                    shutil.copyfileobj(rows, out, 1 << 20)
            out.write(_deflate(tail, zlib.Z_FINISH))
            out._file_size = info.file_size     # what ZipFile counted is the deflated bytes: the sheet's own
            out._crc = zlib.crc32(tail, crc32_combine(zlib.crc32(head), splice.crc, splice.size))
        for done in (splice.rows, splice.deflated):
            if done is not None:
                os.unlink(done)
        sheet.splice = None


class _AsItIs:
    """A compressor that leaves bytes as they are (they are deflated already)."""

    def compress(self, data: bytes) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


def _deflate(data: bytes, mode: int) -> bytes:
    deflate = zlib.compressobj(ZIP_LEVEL, zlib.DEFLATED, -15)
    return deflate.compress(data) + deflate.flush(mode)


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC-32 of A + B from those of A and of B (``len2`` bytes long): zlib's crc32_combine (as of
    zlib 1.2.12), which Python's zlib module does not expose."""
    power = 1 << 30                 # x, in CRC-32's bit order
    for _ in range(3):              # x^8: one byte
        power = _times(power, power)
    shift = 1 << 31                 # 1
    while len2:                     # x^(8 * len2), by squaring
        if len2 & 1:
            shift = _times(power, shift)
        len2 >>= 1
        power = _times(power, power)
    return _times(shift, crc1) ^ crc2


def _times(a: int, b: int) -> int:
    """a * b modulo CRC-32's polynomial (zlib's multmodp); ``a`` is never 0."""
    bit, product = 1 << 31, 0
    while True:
        if a & bit:
            product ^= b
            if not a & (bit - 1):
                return product
        bit >>= 1
        b = (b >> 1) ^ 0xEDB88320 if b & 1 else b >> 1


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
