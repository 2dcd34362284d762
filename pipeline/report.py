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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter

import rules
from pipeline.ingest import ROW, Sheet
from pipeline.normalize import IDX
from pipeline.validate import Validated

__all__ = ["Outcome", "write_reports", "summarize", "STATUSES"]

STATUSES = ("VALID", "INVALID")
STATUS_MEANING = {
    "VALID": "Passed every check; ready to be ordered.",
    "INVALID": "Not ordered: fix the cells named in Errors and upload the row again.",
}
RISKY_START = ("=", "+", "-", "@", "\t", "\r")
WORKBOOK_OPTIONS = {"constant_memory": True, "strings_to_formulas": False,
                    "strings_to_urls": False, "strings_to_numbers": False}
MAX_WIDTH = 60
WIDTH_SAMPLE = 2000


@dataclass
class Outcome:
    """What one file's run produced, for the CLI and for summary.json."""
    file: str
    folder: Path
    summary: dict[str, Any] = field(default_factory=dict)


def summarize(sheet: Sheet, validated: Validated, *, started: dt.datetime, mode: str,
              campaign_path: str | None) -> dict[str, Any]:
    frame = validated.frame
    value = (pl.col("amount").cast(pl.Float64, strict=False)
             * pl.col("quantity").cast(pl.Float64, strict=False).fill_null(1.0))
    by_status = dict(frame.group_by("status").len().iter_rows())
    per_method = (
        frame.with_columns(pl.col("deliveryMethod").fill_null("(none)"), value.alias("_value"))
        .group_by("deliveryMethod")
        .agg(pl.len().alias("rows"),
             (pl.col("status") == "VALID").sum().alias("valid"),
             (pl.col("status") == "INVALID").sum().alias("invalid"),
             pl.col("_value").filter(pl.col("status") == "VALID").sum().round(2).alias("amount_valid"))
        .sort("deliveryMethod")
    )
    valid_total = frame.filter(pl.col("status") == "VALID").select(value.sum()).item() or 0.0
    return {
        "mode": mode,
        "file": str(sheet.path),
        "sha256": sheet.sha256,
        "sheet": sheet.sheet,
        "header_row": sheet.header_row,
        "run_started": started.isoformat(timespec="seconds"),
        "campaign_file": campaign_path,
        "rows": frame.height,
        "status_counts": {s: int(by_status.get(s, 0)) for s in STATUSES},
        "warnings": int(validated.issues.filter(pl.col("severity") == "warning").height),
        "delivery_methods": {r["deliveryMethod"]: {k: r[k] for k in ("rows", "valid", "invalid",
                                                                      "amount_valid")}
                             for r in per_method.to_dicts()},
        "total_amount_valid": round(float(valid_total), 2),
        "sent_to_tango": False,
    }


def _row_texts(validated: Validated) -> pl.DataFrame:
    """Per row: the joined error and warning messages."""
    issues = validated.issues
    joined = issues.group_by(IDX, "severity", maintain_order=True).agg(
        pl.col("message").str.join("\n"))
    pivot = joined.pivot(on="severity", index=IDX, values="message")
    for col in ("error", "warning"):
        if col not in pivot.columns:
            pivot = pivot.with_columns(pl.lit(None, pl.String).alias(col))
    return validated.frame.select(IDX, ROW, "status").join(pivot, on=IDX, how="left").sort(IDX)


def _cell_notes(sheet: Sheet, validated: Validated) -> dict[tuple[int, int], str]:
    """(row index, input column position) -> the error messages about that cell."""
    position = {sheet.fields[c]: i for i, c in enumerate(sheet.columns) if c in sheet.fields}
    errors = validated.issues.filter((pl.col("severity") == "error") & pl.col("field").is_not_null())
    notes: dict[tuple[int, int], str] = {}
    for idx, fld, message in errors.select(IDX, "field", "message").iter_rows():
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


class _Writer:
    """A Rows-style sheet: header, frozen panes, filters, safe text cells, red cells with notes."""

    def __init__(self, book: xlsxwriter.Workbook, name: str) -> None:
        self.ws = book.add_worksheet(name)
        self.header = book.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1})
        self.quoted = book.add_format({"quote_prefix": True})
        self.bad = book.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"})
        self.bad_quoted = book.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006",
                                           "quote_prefix": True})
        self.wrap = book.add_format({"text_wrap": False})

    def start(self, headers: list[str], widths: list[int]) -> None:
        for c, (h, w) in enumerate(zip(headers, widths)):
            self.ws.write_string(0, c, h, self.header)
            self.ws.set_column(c, c, w)
        self.ws.freeze_panes(1, 0)

    def cell(self, r: int, c: int, value: str, note: str | None = None) -> None:
        risky = value.startswith(RISKY_START)
        if note is None:
            if risky:
                self.ws.write_string(r, c, value, self.quoted)
            else:
                self.ws.write_string(r, c, value)
            return
        self.ws.write_string(r, c, value, self.bad_quoted if risky else self.bad)
        self.ws.write_comment(r, c, note, {"x_scale": 3, "y_scale": 2})

    def missing(self, r: int, c: int, note: str) -> None:
        self.ws.write_blank(r, c, None, self.bad)
        self.ws.write_comment(r, c, note, {"x_scale": 3, "y_scale": 2})

    def finish(self, rows: int, cols: int) -> None:
        self.ws.autofilter(0, 0, max(rows, 1), cols - 1)


def _write_rows(writer: _Writer, sheet: Sheet, data: pl.DataFrame, extra: list[str],
                notes: dict[tuple[int, int], str], tick: Callable[[int], None]) -> int:
    n_in = len(sheet.columns)
    r = 0
    for r, row in enumerate(data.iter_rows(), start=1):
        idx = row[0]
        for c in range(n_in):
            value = row[1 + c]
            note = notes.get((idx, c))
            if value is not None:
                writer.cell(r, c, value, note)
            elif note is not None:
                writer.missing(r, c, note)
        for k in range(len(extra)):
            value = row[1 + n_in + k]
            if value is not None:
                writer.cell(r, n_in + k, str(value))
        if r % 5000 == 0:
            tick(5000)
    tick(r % 5000)
    return r


def _summary_sheet(book: xlsxwriter.Workbook, summary: dict[str, Any]) -> None:
    ws = book.add_worksheet("Summary")
    bold = book.add_format({"bold": True})
    title = book.add_format({"bold": True, "font_size": 14})
    money = book.add_format({"num_format": "$#,##0.00"})
    ws.set_column(0, 0, 28)
    ws.set_column(1, 5, 16)
    ws.write_string(0, 0, "Tango batch import report", title)
    lines = [
        ("File", summary["file"]), ("Sheet", summary["sheet"] or "(CSV file)"),
        ("Header row", str(summary["header_row"])), ("Run time", summary["run_started"]),
        ("Campaign file", summary["campaign_file"] or "(none)"),
        ("Sent to Tango", "No: this run only checked the rows." if not summary["sent_to_tango"]
         else "Yes"),
        ("Rows", str(summary["rows"])),
    ]
    r = 2
    for key, value in lines:
        ws.write_string(r, 0, key, bold)
        ws.write_string(r, 1, str(value))
        r += 1
    r += 1
    ws.write_string(r, 0, "Status", bold)
    ws.write_string(r, 1, "Rows", bold)
    ws.write_string(r, 2, "Meaning", bold)
    for status, count in summary["status_counts"].items():
        r += 1
        ws.write_string(r, 0, status)
        ws.write_number(r, 1, count)
        ws.write_string(r, 2, STATUS_MEANING.get(status, ""))
    r += 2
    for c, head in enumerate(["Delivery method", "Rows", "Valid", "Invalid", "Amount (valid)"]):
        ws.write_string(r, c, head, bold)
    for method, counts in summary["delivery_methods"].items():
        r += 1
        ws.write_string(r, 0, method)
        for c, key in enumerate(("rows", "valid", "invalid"), start=1):
            ws.write_number(r, c, counts[key])
        ws.write_number(r, 4, counts["amount_valid"] or 0, money)
    r += 2
    ws.write_string(r, 0, "Total amount of valid rows", bold)
    ws.write_number(r, 1, summary["total_amount_valid"], money)
    ws.write_string(r + 1, 0, "(amount × quantity)")


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
    data = sheet.frame.select(cols).with_row_index(IDX).with_columns(pl.col(IDX).cast(pl.UInt32))
    data = data.join(texts, on=IDX, how="left").sort(IDX)
    extra = ["Row", "Status", "Errors", "Warnings", "Line item ID"]
    rows_frame = data.select(IDX, *cols, pl.col(ROW).cast(pl.String), "status",
                             pl.col("error"), pl.col("warning"), pl.lit(None, pl.String))
    headers = list(sheet.headers)
    widths = _widths(headers, sheet.frame, cols) + [7, 10, MAX_WIDTH, MAX_WIDTH, 16]

    paths = {"report": folder / "report.xlsx", "failures": folder / "failures.xlsx",
             "summary": folder / "summary.json"}
    book = xlsxwriter.Workbook(_tmp(paths["report"]), WORKBOOK_OPTIONS)
    _summary_sheet(book, summary)
    rows = _Writer(book, "Rows")
    rows.start(headers + extra, widths)
    n = _write_rows(rows, sheet, rows_frame, extra, notes, tick)
    rows.finish(n, len(headers) + len(extra))
    book.close()

    failed = data.filter(pl.col("status") == "INVALID").select(IDX, *cols, "error")
    book = xlsxwriter.Workbook(_tmp(paths["failures"]), WORKBOOK_OPTIONS)
    fails = _Writer(book, "Rows to fix")
    fails.start(headers + ["Errors"], _widths(headers, sheet.frame, cols) + [MAX_WIDTH])
    n = _write_rows(fails, sheet, failed, ["Errors"], notes, lambda k: None)
    fails.finish(n, len(headers) + 1)
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
