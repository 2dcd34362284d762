"""The Rows sheet of a report workbook, written fast and safely.

xlsxwriter builds the workbook (styles, comments, panes, filters, column widths) in constant-memory
mode; the cells themselves are rendered column by column with polars into the same ``<row>`` XML
xlsxwriter writes. Every cell that came from the input is an inline *string*, so nothing a user
typed can become a formula, a number or a link; a value starting with = + - @ also gets Excel's
quote prefix, so editing it later keeps it text. The exceptions are the fields Tango knows as
numbers and dates (amount, quantity, delivery and expiration date): a cell that holds a plain
number or an ISO date is written as a real Excel number or date, with a format, so that SUM works;
anything else in them stays text. Status cells are filled by outcome; messages wrap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import polars as pl
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from pipeline.stages.report.fast_xlsx import FastWorkbook, FastWorksheet

__all__ = ["MAX_WIDTH", "WORKBOOK_OPTIONS", "CellKind", "RowsSheet", "bad_positions", "new_workbook", "widths"]

RISKY_RE = r"^[=+\-@\t\r]"     # what Excel would read as the start of a formula
CONTROL_CODES = [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF]
CONTROL_RE = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{FFFE}\x{FFFF}]"
EXCEL_MAX_CHARS = 32767
CHUNK = 10_000     # rows rendered at once: 20,000 cost 35 MB more peak memory at 100k rows, and no time
# a number written as a number only when Excel gives back the same text: "05", "25.50" or "1e3" stay
# text (read back as 5, 25.5, 1000 they would change a row's line-item ID, and a reward would be ordered twice)
NUMBER_RE = r"^(0|-?[1-9][0-9]{0,14})(\.[0-9]{0,9}[1-9])?$"
DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
EXCEL_EPOCH_DAYS = 25569         # 1970-01-01 as an Excel day number
# how a column is written besides plain text: a number, a date, a status filled by outcome, wrapped text
CellKind = Literal["money", "number", "date", "status", "wrap"]
FILLS = {"done": ("#C6EFCE", "#006100"), "fix": ("#FFC7CE", "#9C0006"), "wait": ("#FFEB9C", "#9C5700"),
         "grey": ("#E7E6E6", "#3A3838")}
WORKBOOK_OPTIONS = {"constant_memory": True, "strings_to_formulas": False,
                    "strings_to_urls": False, "strings_to_numbers": False}
MAX_WIDTH = 60
WIDTH_SAMPLE = 2000
def new_workbook(path: Path) -> Any:
    """An empty report workbook at ``path`` (written when closed)."""
    return FastWorkbook(str(path), WORKBOOK_OPTIONS)


def widths(headers: Iterable[str], frame: pl.DataFrame, columns: list[str]) -> list[int]:
    sample = frame.head(WIDTH_SAMPLE)
    out = []
    for header, col in zip(headers, columns, strict=True):
        longest = sample[col].str.len_chars().max() if col in sample.columns else 0
        out.append(min(MAX_WIDTH, max(len(header) + 3, int(longest or 0) + 2, 8)))  # type: ignore[arg-type]
    return out


def _xml_text(v: pl.Expr, controls: bool) -> pl.Expr:
    """Cell text as XML character data, escaped so that Excel reads back exactly the input.

    XML cannot hold most control characters: Excel's own escape for them is _xHHHH_, so a
    literal _xHHHH_ in the text is escaped too (as _x005F_xHHHH_).
    """
    v = (v.str.slice(0, EXCEL_MAX_CHARS)
         .str.replace_all("&", "&amp;", literal=True)
         .str.replace_all("<", "&lt;", literal=True)
         .str.replace_all(">", "&gt;", literal=True)
         .str.replace_all(r"_(x[0-9A-Fa-f]{4}_)", "_x005F_$1"))
    if controls:    # rare: only columns that hold such characters pay for it
        for code in CONTROL_CODES:
            v = v.str.replace_all(chr(code), f"_x{code:04X}_", literal=True)
    return v


class RowsSheet:
    """A sheet of text rows as HR gets it: header, frozen panes, filters, red cells with notes.

    The cells are rendered with polars rather than xlsxwriter's per-cell Python path (about 5 µs
    a cell), which cannot write 100,000 rows within the time budget. This class is the one place
    that touches xlsxwriter internals (pinned version 3.3.1); the tests read its output back.
    """

    def __init__(self, book: xlsxwriter.Workbook, name: str, fills: dict[str, str] | None = None) -> None:
        self.book = book
        self.ws = book.add_worksheet(name)
        self.header_fmt = book.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True,
                                           "valign": "top"})
        self.styles = {
            "quoted": book.add_format({"quote_prefix": True}),
            "bad": book.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"}),
            "bad_quoted": book.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006",
                                           "quote_prefix": True}),
            "money": book.add_format({"num_format": "#,##0.00"}),
            "number": book.add_format({"num_format": "0"}),
            "date": book.add_format({"num_format": "yyyy-mm-dd"}),
            "wrap": book.add_format({"text_wrap": True, "valign": "top"}),
            **{f"fill_{name}": book.add_format({"bg_color": bg, "font_color": fg, "bold": True})
               for name, (bg, fg) in FILLS.items()},
        }
        self.fills = fills or {}          # a status -> the name of its fill (FILLS)

    def write(self, headers: list[str], widths: list[int], data: pl.DataFrame,
              columns: list[str], numeric: set[str], bad: dict[str, pl.Series],
              notes: dict[tuple[int, int], str], tick: Callable[[int], None],
              kinds: Mapping[str, CellKind] | None = None) -> int:
        """Header, then one row per ``data`` row (its ``columns``, in order). Returns row count.

        ``bad[col]``: the row positions whose cell in ``col`` is failing (red, with a note from
        ``notes[(position, column index)]``). Columns in ``numeric`` are written as numbers;
        ``kinds[col]`` (``CellKind``) says how else a column is written.
        """
        ws = self.ws
        for c, (h, w) in enumerate(zip(headers, widths, strict=True)):
            ws.write_string(0, c, h, self.header_fmt)
            ws.set_column(c, c, w)
        for (r, c), text in notes.items():
            ws.write_comment(r + 1, c, text, {"x_scale": 3, "y_scale": 2})
        ws._write_single_row(1)             # flush the header into the row file
        xf = {k: f._get_xf_index() for k, f in self.styles.items()}
        fills = {status: xf[f"fill_{name}"] for status, name in self.fills.items()}
        n = data.height
        shapes = _shapes(data, [c for c in columns if c not in numeric])
        out = ws.deflated_rows() if isinstance(ws, FastWorksheet) else None
        for start in range(0, n, CHUNK):
            chunk = data.slice(start, CHUNK)
            xml = _render(chunk, start + 2, columns, numeric, bad, xf, kinds or {}, fills, shapes)
            if out is not None:
                out.write(xml)              # UTF-8 bytes, deflated as they are
            else:
                ws.fh.write(xml.decode("utf-8"))
            tick(chunk.height)
        ws._check_dimensions(max(n, 1), len(headers) - 1)
        ws.previous_row = n + 2             # nothing left in xlsxwriter's row buffer to flush
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, max(n, 1), len(headers) - 1)
        ws.set_landscape()                  # printed: landscape, as wide as the page, the header on every page
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(0)
        return n


def _typed(v: pl.Expr, kind: str, ref: pl.Expr, xf: dict[str, int]) -> pl.Expr | None:
    """A number or date cell for a value of that shape in a column of that kind; None otherwise."""
    if kind in ("money", "number"):
        value = pl.when(v.str.contains(NUMBER_RE)).then(v)
    elif kind == "date":
        days = v.str.to_date("%Y-%m-%d", strict=False).cast(pl.Int32) + EXCEL_EPOCH_DAYS
        value = pl.when(v.str.contains(DATE_RE)).then(days.cast(pl.String))
    else:
        return None
    return pl.concat_str([ref, pl.lit(f' s="{xf[kind]}"><v>'), value, pl.lit("</v></c>")])


LINE_POINTS, LINE_CHARS, MAX_POINTS = 15, 55, 409     # a wrapped line's height; characters a line holds


def _height(columns: list[str], kinds: Mapping[str, CellKind]) -> pl.Expr:
    """A row whose wrapped messages take several lines gets the height to show them (Excel and
    LibreOffice do not fit a row written without one); other rows keep the default."""
    wrapped = [c for c in columns if kinds.get(c) == "wrap"]
    if not wrapped:
        return pl.lit("")
    lines = pl.max_horizontal([
        pl.col(c).cast(pl.String).str.split("\n").list.eval(
            pl.element().str.len_chars() // LINE_CHARS + 1).list.sum().fill_null(1) for c in wrapped])
    points = pl.min_horizontal(lines * LINE_POINTS, pl.lit(MAX_POINTS))
    return pl.when(lines > 1).then(pl.format(' ht="{}" customHeight="1"', points)).otherwise(pl.lit(""))


def _plain_style(kind: str | None, v: pl.Expr, xf: dict[str, int], fills: dict[str, int]) -> pl.Expr:
    """The style of a cell that is not failing: a status's fill, wrapped text, or none."""
    if kind == "wrap":
        return pl.lit(f' s="{xf["wrap"]}"')
    if kind == "status" and fills:
        return v.replace_strict({s: f' s="{x}"' for s, x in fills.items()}, default="", return_dtype=pl.String)
    return pl.lit("")


def _render(chunk: pl.DataFrame, first_row: int, columns: list[str], numeric: set[str],
            bad: dict[str, pl.Series], xf: dict[str, int], kinds: Mapping[str, CellKind],
            fills: dict[str, int], shapes: Mapping[str, set[str]]) -> bytes:
    """The <row> elements of ``chunk`` in UTF-8, whose first row is Excel row ``first_row``. ``shapes[col]``
    says which of the rare cases (``_shapes``) a column has at all: the others cost nothing."""
    offset = first_row - 2
    chunk = chunk.with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + offset).alias(_POS))
    chunk = chunk.with_columns((pl.col(_POS) + 2).cast(pl.String).alias(_ROWNUM))
    position, rownum = pl.col(_POS), pl.col(_ROWNUM)
    cells = []
    for k, col in enumerate(columns):
        v = pl.col(col).cast(pl.String)
        ref = pl.concat_str([pl.lit(f'<c r="{xl_col_to_name(k)}'), rownum, pl.lit('"')])
        if col in numeric:
            cells.append(pl.when(v.is_not_null()).then(
                pl.concat_str([ref, pl.lit("><v>"), v, pl.lit("</v></c>")])).otherwise(pl.lit("")))
            continue
        shape = shapes.get(col, set())
        failing = position.is_in(bad[col].implode()) if col in bad and not bad[col].is_empty() else pl.lit(False)
        risky = v.str.contains(RISKY_RE).fill_null(False) if "risky" in shape else pl.lit(False)
        style = (pl.when(failing & risky).then(pl.lit(f' s="{xf["bad_quoted"]}"'))
                 .when(failing).then(pl.lit(f' s="{xf["bad"]}"'))
                 .when(risky).then(pl.lit(f' s="{xf["quoted"]}"'))
                 .otherwise(_plain_style(kinds.get(col), v, xf, fills)))
        preserve = (pl.when(v.str.contains(r"^\s|\s$")).then(pl.lit(' xml:space="preserve"')).otherwise(pl.lit(""))
                    if "space" in shape else pl.lit(""))
        text = _xml_text(v, "controls" in shape) if "escape" in shape or "controls" in shape \
            else v.str.slice(0, EXCEL_MAX_CHARS)
        text_cell = pl.concat_str([ref, style, pl.lit(' t="inlineStr"><is><t'), preserve, pl.lit(">"),
                                   text, pl.lit("</t></is></c>")])
        blank_cell = pl.concat_str([ref, style, pl.lit("/>")])
        typed = _typed(v, kinds.get(col, ""), ref, xf)
        if typed is not None:       # a plain number or date, not failing: a real one; anything else: text
            text_cell = pl.coalesce(pl.when(~failing).then(typed), text_cell)
        cells.append(pl.when(v.is_not_null()).then(text_cell)
                     .when(failing).then(blank_cell).otherwise(pl.lit("")))
    rows = chunk.select(pl.concat_str([pl.lit('<row r="'), rownum, pl.lit('"'), _height(columns, kinds), pl.lit(">"),
                                       *cells, pl.lit("</row>")]).alias("xml"))
    xml: bytes = rows["xml"].str.join("").cast(pl.Binary).item()
    return xml


_POS, _ROWNUM = "__report_position__", "__report_row__"
# the rare cases a text column's cells may need, each found by one pass over the column
SHAPES = {"risky": RISKY_RE, "space": r"^\s|\s$", "escape": r"[&<>]|_x[0-9A-Fa-f]{4}_", "controls": CONTROL_RE}
_ANY_SHAPE = "|".join(f"(?:{pattern})" for pattern in SHAPES.values())


def _shapes(data: pl.DataFrame, columns: list[str]) -> dict[str, set[str]]:
    """For each text column, which of ``SHAPES`` its cells have at all (most columns: none)."""
    present = [c for c in columns if c in data.columns]
    if not present or data.is_empty():
        return {}
    # one pass over each column for any of them first: most columns have none, and are done
    hit = data.select(pl.col(c).cast(pl.String).str.contains(_ANY_SHAPE).any().alias(c) for c in present).row(0)
    present = [c for c, any_shape in zip(present, hit, strict=True) if any_shape]
    if not present:
        return {}
    found = data.select(pl.col(c).cast(pl.String).str.contains(pattern).any().alias(f"{c}\x00{name}")
                        for c in present for name, pattern in SHAPES.items()).row(0, named=True)
    out: dict[str, set[str]] = {}
    for key, hit in found.items():
        col, name = key.split("\x00")
        if hit:
            out.setdefault(col, set()).add(name)
    return out


def bad_positions(notes: dict[tuple[int, int], str], columns: list[str]) -> dict[str, pl.Series]:
    by_col: dict[int, list[int]] = {}
    for r, c in notes:
        by_col.setdefault(c, []).append(r)
    return {columns[c]: pl.Series(rows, dtype=pl.Int64) for c, rows in by_col.items()}
