"""Report: the workbook HR opens, the failures workbook they fix and upload again, summary.json.

Written with xlsxwriter in constant-memory mode, one row at a time. Every cell that came from the
input is written with ``write_string``, so nothing a user typed can become a formula or a link;
a value starting with = + - @ also gets Excel's quote prefix, so editing it later keeps it text.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from pipeline.ingest import ROW, Sheet
from pipeline.normalize import IDX
from pipeline.validate import Validated

__all__ = ["RowsSheet", "new_folder", "summarize", "write_reports", "STATUSES"]

STATUSES = ("VALID", "INVALID")
RUN_STATUSES = ("INVALID", "DUPLICATE", "PENDING", "SUBMITTED", "COMPLETE", "REJECTED", "FAILED")
STATUS_MEANING = {
    "VALID": "Passed every check; ready to be ordered.",
    "INVALID": "Not ordered: fix the cells named in Errors and upload the row again.",
    "DUPLICATE": "Not ordered again: the same reward was already ordered (see Warnings for when).",
    "PENDING": "Valid but not yet sent: the run stopped early. The next run sends it.",
    "SUBMITTED": "Accepted by Tango, not yet delivered. The next run or 'tango-batch status' updates it.",
    "COMPLETE": "Ordered and delivered.",
    "REJECTED": "Tango refused this line: see Errors, fix it and upload the row again.",
    "FAILED": "Accepted by Tango but the delivery failed: see Errors.",
}
SENT = ("SUBMITTED", "COMPLETE", "REJECTED", "FAILED")
ACCEPTED = ("SUBMITTED", "COMPLETE")
TO_FIX = ("INVALID", "REJECTED", "FAILED")
# Tango's references for a row, filled in by a run: (frame column, report header, width)
ID_COLUMNS = {"line_item_id": ("Line item ID", 36), "order_id": ("Order ID", 44),
              "reference_line_item_id": ("Reference line item ID", 24)}
RISKY_RE = r"^[=+\-@\t\r]"     # what Excel would read as the start of a formula
CONTROL_CODES = [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF]
CONTROL_RE = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{FFFE}\x{FFFF}]"
EXCEL_MAX_CHARS = 32767
CHUNK = 20_000
WORKBOOK_OPTIONS = {"constant_memory": True, "strings_to_formulas": False,
                    "strings_to_urls": False, "strings_to_numbers": False}
MAX_WIDTH = 60
WIDTH_SAMPLE = 2000


def _amount(frame: pl.DataFrame, statuses: tuple[str, ...]) -> float:
    value = (pl.col("amount").cast(pl.Float64, strict=False)
             * pl.col("quantity").cast(pl.Float64, strict=False).fill_null(1.0))
    total = frame.filter(pl.col("status").is_in(list(statuses))).select(value.sum()).item()
    return round(float(total or 0.0), 2)


def summarize(sheet: Sheet, validated: Validated, *, started: dt.datetime, mode: str,
              campaign_path: str | None, target: str | None = None) -> dict[str, Any]:
    """The counts of one file's report, for the Summary sheet and summary.json."""
    frame = validated.frame
    statuses = RUN_STATUSES if mode == "run" else STATUSES
    valid = tuple(s for s in statuses if s not in TO_FIX)      # REJECTED/FAILED rows need fixing too
    by_status = dict(frame.group_by("status").len().iter_rows())
    methods = {}
    for method in sorted(frame["deliveryMethod"].fill_null("(none)").unique().to_list()):
        part = frame.filter(pl.col("deliveryMethod").fill_null("(none)") == method)
        counts = {"rows": part.height, "valid": int(part["status"].is_in(list(valid)).sum()),
                  "invalid": int(part["status"].is_in(list(TO_FIX)).sum()),
                  "amount_valid": _amount(part, valid)}
        if mode == "run":
            counts["amount_accepted"] = _amount(part, ACCEPTED)
        methods[method] = counts
    summary = {
        "mode": mode,
        "target": target,
        "file": str(sheet.path),
        "sha256": sheet.sha256,
        "sheet": sheet.sheet,
        "header_row": sheet.header_row,
        "run_started": started.isoformat(timespec="seconds"),
        "campaign_file": campaign_path,
        "rows": frame.height,
        "status_counts": {s: int(by_status.get(s, 0)) for s in statuses},
        "warnings": int(validated.issues.filter(pl.col("severity") == "warning").height),
        "delivery_methods": methods,
        "total_amount_valid": _amount(frame, valid),
        "sent_to_tango": mode == "run" and target not in (None, "simulator"),
        "simulated": target == "simulator",
    }
    if mode == "run":
        summary["amount_sent"] = _amount(frame, SENT)
        summary["amount_accepted"] = _amount(frame, ACCEPTED)
    return summary


def _row_texts(validated: Validated) -> pl.DataFrame:
    """Per row: the joined error and warning messages."""
    issues = validated.issues
    joined = issues.group_by(IDX, "severity", maintain_order=True).agg(
        pl.col("text").str.join("\n"))
    pivot = joined.pivot(on="severity", index=IDX, values="text")
    for col in ("error", "warning"):
        if col not in pivot.columns:
            pivot = pivot.with_columns(pl.lit(None, pl.String).alias(col))
    ids = [c for c in ID_COLUMNS if c in validated.frame.columns]
    return validated.frame.select(IDX, ROW, "status", *ids).join(pivot, on=IDX, how="left").sort(IDX)


def _cell_notes(sheet: Sheet, validated: Validated) -> dict[tuple[int, int], str]:
    """(row index, input column position) -> the error messages about that cell."""
    position = {sheet.fields[c]: i for i, c in enumerate(sheet.columns) if c in sheet.fields}
    errors = validated.issues.filter((pl.col("severity") == "error") & pl.col("field").is_not_null())
    notes: dict[tuple[int, int], str] = {}
    for idx, fld, message in errors.select(IDX, "field", "text").iter_rows():
        pos = position.get(fld)
        if pos is None:
            continue
        key = (idx, pos)
        notes[key] = f"{notes[key]}\n{message}" if key in notes else message
    return notes


def _widths(headers: Iterable[str], frame: pl.DataFrame, columns: list[str]) -> list[int]:
    sample = frame.head(WIDTH_SAMPLE)
    widths = []
    for header, col in zip(headers, columns):
        longest = sample[col].str.len_chars().max() if col in sample.columns else 0
        widths.append(min(MAX_WIDTH, max(len(header) + 3, int(longest or 0) + 2, 8)))
    return widths


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

    xlsxwriter builds the workbook (styles, comments, panes, filters, column widths) in
    constant-memory mode; the cells themselves are rendered column by column with polars into the
    same ``<row>`` XML xlsxwriter writes, because its per-cell Python path (about 5 µs a cell)
    cannot write 100,000 rows within the time budget. Every cell is an inline *string*: nothing
    a user typed can become a formula, a number or a link. This class is the one place that
    touches xlsxwriter internals (pinned version 3.3.1); the tests read its output back.
    """

    def __init__(self, book: xlsxwriter.Workbook, name: str) -> None:
        self.book = book
        self.ws = book.add_worksheet(name)
        self.header_fmt = book.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1})
        self.styles = {
            "quoted": book.add_format({"quote_prefix": True}),
            "bad": book.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"}),
            "bad_quoted": book.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006",
                                           "quote_prefix": True}),
        }

    def write(self, headers: list[str], widths: list[int], data: pl.DataFrame,
              columns: list[str], numeric: set[str], bad: dict[str, pl.Series],
              notes: dict[tuple[int, int], str], tick: Callable[[int], None]) -> int:
        """Header, then one row per ``data`` row (its ``columns``, in order). Returns row count.

        ``bad[col]``: the row positions whose cell in ``col`` is failing (red, with a note from
        ``notes[(position, column index)]``). Columns in ``numeric`` are written as numbers.
        """
        ws = self.ws
        for c, (h, w) in enumerate(zip(headers, widths)):
            ws.write_string(0, c, h, self.header_fmt)
            ws.set_column(c, c, w)
        for (r, c), text in notes.items():
            ws.write_comment(r + 1, c, text, {"x_scale": 3, "y_scale": 2})
        ws._write_single_row(1)             # flush the header into the row file
        xf = {k: f._get_xf_index() for k, f in self.styles.items()}
        n = data.height
        for start in range(0, n, CHUNK):
            chunk = data.slice(start, CHUNK)
            ws.fh.write(_render(chunk, start + 2, columns, numeric, bad, xf))
            tick(chunk.height)
        ws._check_dimensions(max(n, 1), len(headers) - 1)
        ws.previous_row = n + 2             # nothing left in xlsxwriter's row buffer to flush
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, max(n, 1), len(headers) - 1)
        return n


def _render(chunk: pl.DataFrame, first_row: int, columns: list[str], numeric: set[str],
            bad: dict[str, pl.Series], xf: dict[str, int]) -> str:
    """The <row> elements of ``chunk``, whose first row is Excel row ``first_row``."""
    offset = first_row - 2
    position = pl.int_range(pl.len(), dtype=pl.Int64) + offset
    rownum = (position + 2).cast(pl.String)
    controls = {c for c in columns if c not in numeric
                and chunk[c].cast(pl.String).str.contains(CONTROL_RE).any()}
    cells = []
    for k, col in enumerate(columns):
        v = pl.col(col).cast(pl.String)
        ref = pl.concat_str([pl.lit(f'<c r="{xl_col_to_name(k)}'), rownum, pl.lit('"')])
        if col in numeric:
            cells.append(pl.when(v.is_not_null()).then(
                pl.concat_str([ref, pl.lit("><v>"), v, pl.lit("</v></c>")])).otherwise(pl.lit("")))
            continue
        if col in bad and not bad[col].is_empty():
            failing = position.is_in(bad[col].implode())
        else:
            failing = pl.lit(False)
        risky = v.str.contains(RISKY_RE).fill_null(False)
        style = (pl.when(failing & risky).then(pl.lit(f' s="{xf["bad_quoted"]}"'))
                 .when(failing).then(pl.lit(f' s="{xf["bad"]}"'))
                 .when(risky).then(pl.lit(f' s="{xf["quoted"]}"'))
                 .otherwise(pl.lit("")))
        preserve = pl.when(v.str.contains(r"^\s|\s$")).then(pl.lit(' xml:space="preserve"')).otherwise(pl.lit(""))
        text_cell = pl.concat_str([ref, style, pl.lit(' t="inlineStr"><is><t'), preserve, pl.lit(">"),
                                   _xml_text(v, col in controls), pl.lit("</t></is></c>")])
        blank_cell = pl.concat_str([ref, style, pl.lit("/>")])
        cells.append(pl.when(v.is_not_null()).then(text_cell)
                     .when(failing).then(blank_cell).otherwise(pl.lit("")))
    rows = chunk.select(pl.concat_str([pl.lit('<row r="'), rownum, pl.lit('">'), *cells,
                                       pl.lit("</row>")]).alias("xml"))
    return rows["xml"].str.join("").item()


def _bad_positions(notes: dict[tuple[int, int], str], columns: list[str]) -> dict[str, pl.Series]:
    by_col: dict[int, list[int]] = {}
    for r, c in notes:
        by_col.setdefault(c, []).append(r)
    return {columns[c]: pl.Series(rows, dtype=pl.Int64) for c, rows in by_col.items()}


def _sent_line(summary: dict[str, Any]) -> str:
    if summary["mode"] != "run":
        return "No: this run only checked the rows."
    if summary["target"] == "simulator":
        return "SIMULATOR: the built-in stand-in for Tango. Nothing was really ordered."
    return f"Yes, to {summary['target']}"


def _summary_sheet(book: xlsxwriter.Workbook, summary: dict[str, Any]) -> None:
    ws = book.add_worksheet("Summary")
    bold = book.add_format({"bold": True})
    title = book.add_format({"bold": True, "font_size": 14})
    money = book.add_format({"num_format": "$#,##0.00"})
    ws.set_column(0, 0, 30)
    ws.set_column(1, 5, 16)
    ws.write_string(0, 0, "Tango batch import report", title)
    lines = [
        ("File", summary["file"]), ("Sheet", summary["sheet"] or "(CSV file)"),
        ("Header row", str(summary["header_row"])), ("Run time", summary["run_started"]),
        ("Campaign file", summary["campaign_file"] or "(none)"),
        ("Sent to Tango", _sent_line(summary)), ("Rows", str(summary["rows"])),
    ]
    r = 2
    for key, value in lines:
        ws.write_string(r, 0, key, bold)
        ws.write_string(r, 1, str(value))
        r += 1
    r += 1
    for c, head in enumerate(["Status", "Rows", "Meaning"]):
        ws.write_string(r, c, head, bold)
    for status, count in summary["status_counts"].items():
        r += 1
        ws.write_string(r, 0, status)
        ws.write_number(r, 1, count)
        ws.write_string(r, 2, STATUS_MEANING.get(status, ""))
    r += 2
    run = summary["mode"] == "run"
    heads = ["Delivery method", "Rows", "Valid", "To fix" if run else "Invalid", "Amount (valid)"]
    for c, head in enumerate(heads + (["Amount (accepted)"] if run else [])):
        ws.write_string(r, c, head, bold)
    for method, counts in summary["delivery_methods"].items():
        r += 1
        ws.write_string(r, 0, method)
        for c, key in enumerate(("rows", "valid", "invalid"), start=1):
            ws.write_number(r, c, counts[key])
        ws.write_number(r, 4, counts["amount_valid"], money)
        if run:
            ws.write_number(r, 5, counts["amount_accepted"], money)
    r += 2
    totals = [("Total amount of valid rows", summary["total_amount_valid"])]
    if run:
        totals += [("Amount sent to Tango", summary["amount_sent"]),
                   ("Amount accepted by Tango", summary["amount_accepted"])]
    for key, amount in totals:
        ws.write_string(r, 0, key, bold)
        ws.write_number(r, 1, amount, money)
        r += 1
    ws.write_string(r, 0, "(amounts are amount × quantity)")


def new_folder(output: Path, source: Path, started: dt.datetime) -> Path:
    base = output / f"{source.stem}-{started:%Y%m%d-%H%M%S}"
    folder, n = base, 1
    while folder.exists():
        n += 1
        folder = base.with_name(f"{base.name}-{n}")
    folder.mkdir(parents=True)
    return folder


def write_reports(folder: Path, sheet: Sheet, validated: Validated, summary: dict[str, Any],
                  tick: Callable[[int], None] = lambda n: None) -> dict[str, Path]:
    """report.xlsx, failures.xlsx and summary.json in ``folder``; returns their paths."""
    texts = _row_texts(validated)
    notes = _cell_notes(sheet, validated)
    cols = list(sheet.columns)
    data = sheet.frame.select(cols).with_row_index(IDX).join(texts, on=IDX, how="left").sort(IDX)
    run = summary["mode"] == "run"
    id_cols = list(ID_COLUMNS) if run else ["line_item_id"]
    data = data.with_columns(pl.lit(None, pl.String).alias(c) for c in id_cols if c not in data.columns)
    headers = list(sheet.headers)
    widths = _widths(headers, sheet.frame, cols)
    paths = {"report": folder / "report.xlsx", "failures": folder / "failures.xlsx",
             "summary": folder / "summary.json"}

    book = xlsxwriter.Workbook(str(_tmp(paths["report"])), WORKBOOK_OPTIONS)
    _summary_sheet(book, summary)
    out_cols = [*cols, ROW, "status", "error", "warning", *id_cols]
    RowsSheet(book, "Rows").write(
        headers + ["Row", "Status", "Errors", "Warnings", *(ID_COLUMNS[c][0] for c in id_cols)],
        widths + [7, 11, MAX_WIDTH, MAX_WIDTH, *(ID_COLUMNS[c][1] for c in id_cols)], data, out_cols,
        {ROW}, _bad_positions(notes, out_cols), notes, tick)
    book.close()

    # failures.xlsx: the rows to fix, in a layout the pipeline reads again (Errors is ignored)
    invalid = data.filter(pl.col("status").is_in(list(TO_FIX)))
    kept = invalid[IDX].to_list()
    new_pos = {idx: pos for pos, idx in enumerate(kept)}
    fail_notes = {(new_pos[r], c): t for (r, c), t in notes.items() if r in new_pos}
    fail_cols = [*cols, "error"]
    book = xlsxwriter.Workbook(str(_tmp(paths["failures"])), WORKBOOK_OPTIONS)
    RowsSheet(book, "Rows to fix").write(
        headers + ["Errors"], widths + [MAX_WIDTH], invalid, fail_cols, set(),
        _bad_positions(fail_notes, fail_cols), fail_notes, lambda k: None)
    book.close()

    summary = {**summary, "report": str(paths["report"]), "failures": str(paths["failures"])}
    _tmp(paths["summary"]).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
    for path in paths.values():
        os.replace(_tmp(path), path)
    return paths


def _tmp(path: Path) -> Path:
    """Files are written under a temporary name and renamed, so a report is whole or absent."""
    return path.with_name(f".{path.name}.part")
