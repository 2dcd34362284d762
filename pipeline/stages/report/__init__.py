"""Report: the workbook HR opens, the failures workbook they fix and upload again, summary.json.

Files are written under a temporary name and renamed, so a report is whole or absent.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.frames import one_chunk
from pipeline.model import FILL, IDX, REPORT_MARKER, ROW, SHEET, TO_FIX, Severity, Status
from pipeline.stages.ingest import Part, Sheet
from pipeline.stages.report.dry_run import write_dry_run
from pipeline.stages.report.folders import new_folder
from pipeline.stages.report.summary import summarize, summary_sheet
from pipeline.stages.report.workbook import MAX_WIDTH, CellKind, RowsSheet, bad_positions, new_workbook, widths
from pipeline.stages.validate import Validated

__all__ = ["new_folder", "summarize", "where", "with_paths", "worksheet_names", "write_dry_run", "write_reports"]

# the fields Tango knows as numbers and dates: their cells written as real ones (see workbook.CellKind)
FIELD_KINDS: dict[str, CellKind] = {"amount": "money", "quantity": "number", "deliveryDate": "date",
                                   "expirationDate": "date"}
# what decides an order, shown beside a row when a campaign default filled one of them
ORDERED_FIELDS = {"utid": "reward {}", "amount": "amount {}", "deliveryMethod": "{}", "quantity": "quantity {}"}
# What a run adds to a row: Tango's references and its delivery event (frame column: header, width)
# a failing cell carries its message as a cell comment in report.xlsx, on the first MAX_COMMENTS
# failing cells (each costs about 70 µs and 1.5 KB to write); every message is also in the row's
# Errors cell, and failures.xlsx (which has that column next to the red cells) carries none
MAX_COMMENTS = 10_000
ID_COLUMNS = {"line_item_id": ("Line item ID", 36), "order_id": ("Order ID", 44),
              "reference_line_item_id": ("Reference line item ID", 24), "delivery": ("Delivery status", 16)}


def _ordered(sheet: Sheet, validated: Validated) -> pl.Series | None:
    """"reward U761382, amount 25, EMAIL" on the rows where a campaign default filled one of the
    values that decide what is ordered (the sheet's cell empty, or no such column); None when none did."""
    cells = {f: sheet.columns_of(f) for f in ORDERED_FIELDS}
    both = pl.concat([sheet.frame.select(c for cs in cells.values() for c in cs),
                      validated.frame.select(*ORDERED_FIELDS, "status")], how="horizontal")
    filled = pl.any_horizontal((pl.coalesce(cs).is_null() if cs else pl.lit(True)) & pl.col(f).is_not_null()
                               for f, cs in cells.items())
    text = pl.concat_str([pl.format(shape, pl.col(f)) for f, shape in ORDERED_FIELDS.items()], separator=", ",
                         ignore_nulls=True)
    ordered = both.select(pl.when(filled & (pl.col("status") != Status.INVALID.value))   # an invalid row orders nothing
                          .then(text).alias("ordered")).to_series()
    return None if ordered.null_count() == ordered.len() else ordered


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
    return validated.frame.select(IDX, ROW, "status", *ids).join(pivot, on=IDX, how="left", maintain_order="left")


@dataclass(frozen=True)
class _Rows:
    """One sheet's rows joined with their status, messages and IDs, ready for either workbook."""
    part: Part
    data: pl.DataFrame
    columns: list[str]                      # the input columns, in input order
    headers: list[str]
    widths: list[int]
    notes: dict[tuple[int, int], str]       # (position in data, input column position) -> error messages
    kinds: dict[str, CellKind]              # input column -> how it is written (a number, a date)

    def shifted(self, by: int) -> dict[tuple[int, int], str]:
        """The notes, for a sheet whose input columns start ``by`` columns to the right."""
        return {(r, c + by): text for (r, c), text in self.notes.items()}


def _cell_errors(validated: Validated) -> dict[tuple[int, str], str]:
    """(row index, field) -> the error messages about that cell."""
    errors = validated.issues.filter((pl.col("severity") == Severity.ERROR.value) & pl.col("field").is_not_null())
    found: dict[tuple[int, str], str] = {}
    for idx, field, message in errors.select(IDX, "field", "text").iter_rows():
        found[(idx, field)] = f"{found[(idx, field)]}\n{message}" if (idx, field) in found else message
    return found


def _by_sheet(sheet: Sheet, validated: Validated, id_cols: list[str]) -> list[_Rows]:
    data = sheet.frame.with_row_index(IDX)
    texts = _row_texts(validated)
    if texts.height == data.height and texts[ROW].equals(data[ROW]) and texts[IDX].equals(data[IDX]):
        # the same rows in the same order (as the stages keep them): put side by side, the sheet's cells not copied
        data = data.hstack(one_chunk(texts.drop(IDX, ROW)).get_columns())
    else:
        data = data.join(texts, on=[IDX, ROW], how="left", maintain_order="left")
    data = data.with_columns(pl.lit(None, pl.String).alias(c) for c in id_cols if c not in data.columns)
    ordered = _ordered(sheet, validated)
    if ordered is not None:
        data = data.with_columns(ordered)
    errors = _cell_errors(validated)
    out = []
    for part in sheet.parts:
        rows = data.filter(pl.col(SHEET) == part.key) if len(sheet.parts) > 1 else data
        # where each row with a failing cell is in ``rows`` (not every row's: a million-entry dict)
        at = dict(rows.select(IDX).with_row_index("pos").filter(pl.col(IDX).is_in(list({i for i, _ in errors})))
                  .select(IDX, "pos").iter_rows())
        column = {f: part.columns.index(c) for c, f in part.fields.items()}
        notes = {(at[idx], column[field]): text for (idx, field), text in errors.items()
                 if idx in at and field in column}
        kinds = {c: FIELD_KINDS[f] for c, f in part.fields.items() if f in FIELD_KINDS}
        out.append(_Rows(part, rows, list(part.columns), list(part.headers),
                         widths(list(part.headers), rows, list(part.columns)), notes, kinds))
    return out


def worksheet_names(wanted: list[str], taken: tuple[str, ...] = ()) -> list[str]:
    """Names Excel takes for ``wanted``, in order: at most 31 characters, none of ``[]:*?/\\``, no
    apostrophe at either end, unique whatever the case (and apart from ``taken``); a name that
    must change gets a number, ``(2)``, ``(3)``... that no other name has."""
    used = {t.casefold() for t in taken}
    names: list[str] = []
    for name in wanted:
        base = re.sub(r"[\[\]:*?/\\]", " ", name).strip(" '")[:31].strip(" '") or "Sheet"
        title, n = base, 1
        while title.casefold() in used:
            n += 1
            suffix = f" ({n})"
            title = base[:31 - len(suffix)].rstrip(" '") + suffix
        used.add(title.casefold())
        names.append(title)
    return names


def _titles(parts: list[_Rows], base: str, originals: bool) -> list[str]:
    """Worksheet names: the base for one sheet; for several, the base and each sheet's name (or, for
    ``originals``, the sheets' own names, so that the workbook reads back as the upload did)."""
    if originals and all(r.part.name for r in parts):
        return worksheet_names([str(r.part.name) for r in parts])
    if len(parts) == 1:
        return [base]
    return worksheet_names([f"{base} {r.part.name}" for r in parts], taken=("Summary",))


def _workbook(path: Path) -> Any:
    """A workbook that carries the marker by which the pipeline knows its own reports when they
    come back as input (``REPORT_MARKER``)."""
    book = new_workbook(path)
    book.set_custom_property(REPORT_MARKER, "1")
    return book


def _failures_workbook(path: Path, parts: list[_Rows]) -> None:
    """The rows to fix, each under its own sheet's name and with its original row number (the Row
    column), in a layout the pipeline reads again (the Errors column is ignored). A sheet with nothing
    to fix is left out (all but the first, when no sheet has anything to fix). The failing cells are red;
    their messages are in the Errors column beside them (no cell comments)."""
    book = _workbook(path)
    to_fix = pl.col("status").is_in([s.value for s in TO_FIX])
    kept = [r for r in parts if not r.data.filter(to_fix).is_empty()] or parts[:1]
    for rows, title in zip(kept, _titles(kept, "Rows to fix", originals=True), strict=True):
        fix = rows.data.with_row_index("_pos").filter(to_fix)
        new_pos = {pos: n for n, pos in enumerate(fix["_pos"].to_list())}
        invalid = fix.drop("_pos")
        notes = {(new_pos[r], c): t for (r, c), t in rows.shifted(2).items() if r in new_pos}
        cols = [ROW, "error", *rows.columns]
        RowsSheet(book, title).write(["Row", "Errors", *rows.headers], [7, MAX_WIDTH, *rows.widths], invalid, cols,
                                     {ROW}, bad_positions(notes, cols), {}, lambda k: None,
                                     {"error": "wrap", **rows.kinds})
    book.close()


def comments(parts: list[_Rows]) -> dict[str, int]:
    """How many failing cells the report has, and how many of them carry a comment (MAX_COMMENTS)."""
    failing = sum(len(r.notes) for r in parts)
    return {"failing_cells": failing, "with_comment": min(failing, MAX_COMMENTS)}


def _report_workbook(path: Path, parts: list[_Rows], summary: dict[str, Any], id_cols: list[str],
                     tick: Callable[[int], None]) -> None:
    book = _workbook(path)
    summary_sheet(book, summary)
    several = len(parts) > 1
    left = MAX_COMMENTS
    for rows, title in zip(parts, _titles(parts, "Rows", originals=False), strict=True):
        ordered = ["ordered"] if "ordered" in rows.data.columns else []
        notes = rows.shifted(3)
        commented = dict(sorted(notes.items())[:left]) if len(notes) > left else notes
        left -= len(commented)
        # Row, Status and Errors first: what happened is the first thing seen
        cols = [ROW, "status", "error", *rows.columns, *([SHEET] if several else []), *ordered, "warning", *id_cols]
        RowsSheet(book, title, {s.value: fill for s, fill in FILL.items()}).write(
            ["Row", "Status", "Errors", *rows.headers, *(["Sheet"] if several else []),
             *(["Ordered (campaign defaults filled in)"] if ordered else []), "Warnings",
             *(ID_COLUMNS[c][0] for c in id_cols)],
            [7, 11, MAX_WIDTH, *rows.widths, *([16] if several else []), *([36] if ordered else []), MAX_WIDTH,
             *(ID_COLUMNS[c][1] for c in id_cols)], rows.data, cols, {ROW}, bad_positions(notes, cols),
            commented, tick, {"status": "status", "error": "wrap", "warning": "wrap", **rows.kinds})
    book.close()


def write_reports(folder: Path, sheet: Sheet, validated: Validated, summary: dict[str, Any],
                  tick: Callable[[int], None] = lambda n: None) -> dict[str, Path]:
    """report.xlsx, failures.xlsx and summary.json in ``folder``; returns their paths."""
    id_cols = list(ID_COLUMNS) if summary["mode"] == "run" else ["line_item_id"]
    parts = _by_sheet(sheet, validated, id_cols)
    summary = {**summary, "cell_comments": comments(parts)}
    paths = {"report": folder / "report.xlsx", "failures": folder / "failures.xlsx",
             "summary": folder / "summary.json"}
    to_fix = validated.frame["status"].is_in([s.value for s in TO_FIX]).any()
    if not to_fix:                 # nothing to fix: no failures workbook (an old one from a rewrite goes)
        paths.pop("failures").unlink(missing_ok=True)
    _report_workbook(_tmp(paths["report"]), parts, summary, id_cols, tick)
    if to_fix:
        _failures_workbook(_tmp(paths["failures"]), parts)
    _tmp(paths["summary"]).write_text(json.dumps(with_paths(summary, paths), indent=2, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
    for path in paths.values():
        os.replace(_tmp(path), path)
    return paths


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.part")


def with_paths(summary: dict[str, Any], paths: dict[str, Path]) -> dict[str, Any]:
    """A file's summary as summary.json holds it: with where its report and failures workbook are
    (``failures`` None when there is none)."""
    failures = paths.get("failures")
    return {**summary, "report": str(paths["report"]), "failures": str(failures) if failures else None}


def where(paths: dict[str, Path]) -> list[str]:
    """The console's last lines for a file: where its report is, and its rows to fix (or that there are none)."""
    if "failures" in paths:
        fix = f"  rows to fix: {paths['failures']} (correct the red cells and upload it again)"
    else:
        fix = "  nothing to fix: no failures.xlsx"
    return [f"  report: {paths['report']}", fix]
