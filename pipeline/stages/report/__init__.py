"""Report: the workbook HR opens, the failures workbook they fix and upload again, summary.json.

Files are written under a temporary name and renamed, so a report is whole or absent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter

from pipeline.model import IDX, ROW, TO_FIX, Severity
from pipeline.stages.ingest import Sheet
from pipeline.stages.report.dry_run import write_dry_run
from pipeline.stages.report.folders import new_folder
from pipeline.stages.report.summary import summarize, summary_sheet
from pipeline.stages.report.workbook import MAX_WIDTH, WORKBOOK_OPTIONS, RowsSheet, bad_positions, widths
from pipeline.stages.validate import Validated

__all__ = ["new_folder", "summarize", "write_dry_run", "write_reports"]

# What a run adds to a row: Tango's references and its delivery event (frame column: header, width)
ID_COLUMNS = {"line_item_id": ("Line item ID", 36), "order_id": ("Order ID", 44),
              "reference_line_item_id": ("Reference line item ID", 24), "delivery": ("Delivery", 14)}


def _row_texts(validated: Validated) -> pl.DataFrame:
    """Per row: the joined error and warning messages."""
    issues = validated.issues
    joined = issues.group_by(IDX, "severity", maintain_order=True).agg(
        pl.col("text").str.join("\n"))
    pivot = joined.pivot(on="severity", index=IDX, values="text")
    for col in (Severity.ERROR.value, Severity.WARNING.value):
        if col not in pivot.columns:
            pivot = pivot.with_columns(pl.lit(None, pl.String).alias(col))
    ids = [c for c in ID_COLUMNS if c in validated.frame.columns]
    return validated.frame.select(IDX, ROW, "status", *ids).join(pivot, on=IDX, how="left").sort(IDX)


def _cell_notes(sheet: Sheet, validated: Validated) -> dict[tuple[int, int], str]:
    """(row index, input column position) -> the error messages about that cell."""
    position = {sheet.fields[c]: i for i, c in enumerate(sheet.columns) if c in sheet.fields}
    errors = validated.issues.filter((pl.col("severity") == Severity.ERROR.value) & pl.col("field").is_not_null())
    notes: dict[tuple[int, int], str] = {}
    for idx, fld, message in errors.select(IDX, "field", "text").iter_rows():
        pos = position.get(fld)
        if pos is None:
            continue
        key = (idx, pos)
        notes[key] = f"{notes[key]}\n{message}" if key in notes else message
    return notes


@dataclass(frozen=True)
class _Rows:
    """A sheet's rows joined with their status, messages and IDs, ready for either workbook."""
    data: pl.DataFrame
    columns: list[str]                      # the input columns, in input order
    headers: list[str]
    widths: list[int]
    notes: dict[tuple[int, int], str]       # (row index, input column position) -> error messages


def _failures_workbook(path: Path, rows: _Rows) -> None:
    """The rows to fix, in a layout the pipeline reads again (its Errors column is ignored)."""
    invalid = rows.data.filter(pl.col("status").is_in([s.value for s in TO_FIX]))
    new_pos = {idx: pos for pos, idx in enumerate(invalid[IDX].to_list())}
    notes = {(new_pos[r], c): t for (r, c), t in rows.notes.items() if r in new_pos}
    cols = [*rows.columns, "error"]
    book = xlsxwriter.Workbook(str(path), WORKBOOK_OPTIONS)
    RowsSheet(book, "Rows to fix").write([*rows.headers, "Errors"], [*rows.widths, MAX_WIDTH], invalid, cols, set(),
                                         bad_positions(notes, cols), notes, lambda k: None)
    book.close()


def _report_workbook(path: Path, rows: _Rows, summary: dict[str, Any], id_cols: list[str],
                     tick: Callable[[int], None]) -> None:
    book = xlsxwriter.Workbook(str(path), WORKBOOK_OPTIONS)
    summary_sheet(book, summary)
    cols = [*rows.columns, ROW, "status", "error", "warning", *id_cols]
    RowsSheet(book, "Rows").write(
        [*rows.headers, "Row", "Status", "Errors", "Warnings", *(ID_COLUMNS[c][0] for c in id_cols)],
        [*rows.widths, 7, 11, MAX_WIDTH, MAX_WIDTH, *(ID_COLUMNS[c][1] for c in id_cols)], rows.data, cols,
        {ROW}, bad_positions(rows.notes, cols), rows.notes, tick)
    book.close()


def write_reports(folder: Path, sheet: Sheet, validated: Validated, summary: dict[str, Any],
                  tick: Callable[[int], None] = lambda n: None) -> dict[str, Path]:
    """report.xlsx, failures.xlsx and summary.json in ``folder``; returns their paths."""
    cols = list(sheet.columns)
    data = sheet.frame.select(cols).with_row_index(IDX).join(_row_texts(validated), on=IDX, how="left").sort(IDX)
    id_cols = list(ID_COLUMNS) if summary["mode"] == "run" else ["line_item_id"]
    data = data.with_columns(pl.lit(None, pl.String).alias(c) for c in id_cols if c not in data.columns)
    rows = _Rows(data, cols, list(sheet.headers), widths(list(sheet.headers), sheet.frame, cols),
                 _cell_notes(sheet, validated))
    paths = {"report": folder / "report.xlsx", "failures": folder / "failures.xlsx",
             "summary": folder / "summary.json"}
    _report_workbook(_tmp(paths["report"]), rows, summary, id_cols, tick)
    _failures_workbook(_tmp(paths["failures"]), rows)
    summary = {**summary, "report": str(paths["report"]), "failures": str(paths["failures"])}
    _tmp(paths["summary"]).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
    for path in paths.values():
        os.replace(_tmp(path), path)
    return paths


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.part")
