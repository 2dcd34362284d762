"""The counts of one file's report: the Summary sheet HR reads first, and summary.json for machines."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl
import xlsxwriter

from pipeline.masking import mask, shown
from pipeline.model import CHECK_STATUSES, FILL, MEANING, ORDERED, RUN_STATUSES, SENT, SHEET, TO_FIX, Status
from pipeline.stages.ingest import Sheet
from pipeline.stages.report.workbook import FILLS
from pipeline.stages.validate import Validated

__all__ = ["next_step", "row_value", "summarize", "summary_sheet"]


def row_value() -> pl.Expr:
    """What a row orders: amount x quantity (no quantity is 1)."""
    return (pl.col("amount").cast(pl.Float64, strict=False)
            * pl.col("quantity").cast(pl.Float64, strict=False).fill_null(1.0))


def _of(statuses: Iterable[Status]) -> pl.Expr:
    return pl.col("status").is_in([s.value for s in statuses])


def _value_of(statuses: Iterable[Status]) -> pl.Expr:
    """What the rows of these statuses order in all (summed where they are: no row copied out)."""
    return pl.when(_of(statuses)).then(row_value()).otherwise(0.0).sum()


def _rounded(total: float | None) -> float:
    return round(float(total or 0.0), 2)


def _amount(frame: pl.DataFrame, statuses: Iterable[Status]) -> float:
    return _rounded(frame.select(_value_of(statuses)).item())


def summarize(sheet: Sheet, validated: Validated, *, started: dt.datetime, mode: str,
              campaign_path: str | None, target: str | None = None,
              checks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The counts of one file's report, for the Summary sheet and summary.json."""
    # the columns counted, not the thirty of a row, each count made where the rows are (no filter copies them)
    frame = validated.frame.select("status", "deliveryMethod", "amount", "quantity", SHEET)
    by_status = dict(frame.group_by("status").len().iter_rows())
    statuses: tuple[Status, ...] = RUN_STATUSES if mode == "run" else CHECK_STATUSES
    # validate with a campaign gives run's verdict: DUPLICATE and HELD rows too (counted, not valid)
    statuses += tuple(s for s in Status if s.value in by_status and s not in statuses)
    valid = tuple(s for s in statuses if s not in TO_FIX) if mode == "run" else (Status.VALID,)
    sums = [pl.len().alias("rows"), _of(valid).sum().alias("valid"), _of(TO_FIX).sum().alias("invalid"),
            _value_of(valid).alias("amount_valid")]
    if mode == "run":
        sums.append(_value_of(ORDERED).alias("amount_accepted"))
    methods: dict[str, dict[str, float]] = {}
    for counts in frame.group_by(pl.col("deliveryMethod").fill_null("(none)").alias("method")).agg(sums) \
            .sort("method").iter_rows(named=True):
        method = counts.pop("method")
        methods[method] = {k: _rounded(v) if k.startswith("amount") else int(v) for k, v in counts.items()}
    summary = {
        "mode": mode,
        "target": target,
        "file": mask(shown(str(sheet.path))),
        "sha256": sheet.sha256,
        "sheet": sheet.sheet,
        "header_row": sheet.header_row,
        "sheets": _per_sheet(sheet, frame, statuses),
        "not_read": [{"sheet": shown(s.name), "reason": mask(s.reason)} for s in sheet.skipped],
        "notices": [mask(n) for n in sheet.notices],
        "checks": checks or [],
        "run_started": started.isoformat(timespec="seconds"),
        "campaign_file": campaign_path,
        "rows": frame.height,
        "status_counts": {s.value: int(by_status.get(s.value, 0)) for s in statuses},
        "warnings": int(validated.issues.filter(pl.col("severity") == "warning").height),
        "delivery_methods": methods,
        "total_amount_valid": _amount(frame, valid),
        "sent_to_tango": mode == "run" and target not in (None, "simulator"),
        "simulated": target == "simulator",
    }
    if mode == "run":
        summary["amount_sent"] = _amount(frame, SENT)
        summary["amount_accepted"] = _amount(frame, ORDERED)
    summary["next_step"] = next_step(summary)
    return summary


def next_step(summary: dict[str, Any]) -> str:
    """What the person who uploaded the file does next, in plain words."""
    counts = summary["status_counts"]
    to_fix = sum(counts.get(s.value, 0) for s in TO_FIX)
    steps = []
    if to_fix:
        rows = "1 row" if to_fix == 1 else f"{to_fix:,} rows"
        steps.append(f"{rows} to fix: open failures.xlsx, correct the red cells (the Errors column says what is wrong) "
                     "and upload it again" + ("; the rows already ordered are never ordered twice."
                                              if summary["mode"] == "run" else "."))
    if summary["mode"] != "run":
        valid = counts.get(Status.VALID.value, 0)
        steps.append(f"{valid:,} rows passed every check: run the file to order them." if valid else
                     "No row is ready to order yet.")
        return " ".join(steps)
    if counts.get(Status.PENDING.value):
        steps.append(f"{counts[Status.PENDING.value]:,} rows were not sent (the run stopped early): run the file "
                     "again to send them.")
    if counts.get(Status.PLANNED.value):
        steps.append(f"Dry run: {counts[Status.PLANNED.value]:,} rows would be ordered; nothing was sent. Run the "
                     "file without --dry-run to order them.")
    if counts.get(Status.SUBMITTED.value):
        steps.append(f"{counts[Status.SUBMITTED.value]:,} rows are accepted by Tango and not delivered yet: the "
                     "next run, or 'tango-batch status', updates this report.")
    return " ".join(steps) or "Nothing to do: every row is done."


def _per_sheet(sheet: Sheet, frame: pl.DataFrame, statuses: tuple[Status, ...]) -> list[dict[str, Any]]:
    """Each sheet read: its header row, its rows, its rows per status."""
    counts: dict[str, dict[str, int]] = {}
    for key, status, n in frame.group_by(SHEET, "status").len().iter_rows():
        counts.setdefault(key, {})[status] = n
    out = []
    for part in sheet.parts:
        by_status = counts.get(part.key, {})
        out.append({"sheet": part.name, "header_row": part.header_row, "rows": sum(by_status.values()),
                    "status_counts": {s.value: int(by_status.get(s.value, 0)) for s in statuses}})
    return out


def _sent_line(summary: dict[str, Any]) -> str:
    if summary["mode"] != "run":
        return "No: this run only checked the rows."
    if summary["target"] == "simulator":
        return "SIMULATOR: the built-in stand-in for Tango. Nothing was really ordered."
    return f"Yes, to {summary['target']}"


@dataclass(frozen=True)
class _Styles:
    bold: Any
    money: Any
    wrap: Any
    book: Any
    bold_top: Any


def _facts(ws: Any, r: int, summary: dict[str, Any], st: _Styles) -> int:
    lines = [
        ("File", summary["file"]),
        ("Sheet", ", ".join(p["sheet"] for p in summary["sheets"]) if summary["sheet"] else "(CSV file)"),
        ("Header row", str(summary["header_row"])), ("Run time", _local(summary["run_started"])),
        ("Campaign file", summary["campaign_file"] or "(none)"),
        ("Sent to Tango", _sent_line(summary)), ("Rows", str(summary["rows"])),
    ]
    for key, value in lines:
        ws.write_string(r, 0, key, st.bold)
        ws.write_string(r, 1, str(value))
        r += 1
    return r + 1


def _local(stamp: str) -> str:
    """'2026-12-02 09:30 (UTC+01:00)': the run's time as the machine's clock showed it, with its zone."""
    when = dt.datetime.fromisoformat(stamp)
    offset = when.strftime("%z")
    zone = f"UTC{offset[:3]}:{offset[3:]}" if offset else "local time"
    return f"{when:%Y-%m-%d %H:%M} ({zone})"


def _sheets(ws: Any, r: int, summary: dict[str, Any], st: _Styles) -> int:
    """The sheets read, with their rows, and the sheets not read, with why (for a workbook); what
    reading did that the user should know (a column renamed)."""
    for notice in summary.get("notices", []):
        ws.write_string(r, 0, f"Note: {notice}")
        r += 1
    if summary["sheet"] is None:
        return r + 1 if summary.get("notices") else r
    for c, head in enumerate(["Sheet", "Rows", "Header row", "Read?", "Rows per status"]):
        ws.write_string(r, c, head, st.bold)
    for part in summary["sheets"]:
        r += 1
        ws.write_string(r, 0, part["sheet"])
        ws.write_number(r, 1, part["rows"])
        ws.write_number(r, 2, part["header_row"])
        ws.write_string(r, 3, "read")
        ws.write_string(r, 4, ", ".join(f"{n} {s}" for s, n in part["status_counts"].items() if n))
    for skipped in summary["not_read"]:
        r += 1
        ws.write_string(r, 0, skipped["sheet"])
        ws.write_string(r, 3, f"NOT READ: {skipped['reason']}")
    return r + 2


def _checks(ws: Any, r: int, summary: dict[str, Any], st: _Styles) -> int:
    """Which checks the rows went through, and which could not be made (and why)."""
    if not summary["checks"]:
        return r
    for c, head in enumerate(["Check", "Made?", "How"]):
        ws.write_string(r, c, head, st.bold)
    for check in summary["checks"]:
        r += 1
        ws.write_string(r, 0, check["check"])
        ws.write_string(r, 1, "yes" if check["ran"] else "NO")
        ws.write_string(r, 2, check["how"])
    return r + 2


def _next(ws: Any, r: int, summary: dict[str, Any], st: _Styles) -> int:
    ws.write_string(r, 0, "Next step", st.bold_top)
    ws.merge_range(r, 1, r, 5, summary["next_step"], st.wrap)     # our own sentence, across the tables' width
    ws.set_row(r, 15 * (1 + len(summary["next_step"]) // 75))
    noted = summary.get("cell_comments") or {}
    if noted.get("failing_cells", 0) > noted.get("with_comment", 0):
        r += 1
        ws.write_string(r, 0, f"Note: {noted['failing_cells']:,} cells fail; the first {noted['with_comment']:,} "
                        "carry their message as a comment. Every message is in its row's Errors cell.")
    return r + 2


def _by_status(ws: Any, r: int, summary: dict[str, Any], st: _Styles) -> int:
    """Rows per status, and a bar chart of them, each bar in its status's colour."""
    for c, head in enumerate(["Status", "Rows", "Meaning"]):
        ws.write_string(r, c, head, st.bold)
    first = r + 1
    for status, count in summary["status_counts"].items():
        r += 1
        ws.write_string(r, 0, status)
        ws.write_number(r, 1, count)
        ws.write_string(r, 2, MEANING.get(Status(status), ""))
    chart = st.book.add_chart({"type": "bar"})
    chart.add_series({"name": "Rows", "categories": ["Summary", first, 0, r, 0], "values": ["Summary", first, 1, r, 1],
                      "points": [{"fill": {"color": FILLS[FILL.get(Status(s), "grey")][0]},
                                  "border": {"color": FILLS[FILL.get(Status(s), "grey")][1]}}
                                 for s in summary["status_counts"]],
                      "data_labels": {"value": True}})
    chart.set_title({"name": "Rows per status"})
    chart.set_legend({"none": True})
    chart.set_y_axis({"reverse": True})
    chart.set_size({"width": 480, "height": 60 + 24 * len(summary["status_counts"])})
    ws.insert_chart(2, 7, chart)           # right of the tables, in sight when the sheet opens
    return r + 2


def _by_method(ws: Any, r: int, summary: dict[str, Any], st: _Styles) -> int:
    run = summary["mode"] == "run"
    heads = ["Delivery method", "Rows", "Valid", "To fix" if run else "Invalid", "Amount (valid)"]
    for c, head in enumerate(heads + (["Amount (accepted)"] if run else [])):
        ws.write_string(r, c, head, st.bold)
    for method, counts in summary["delivery_methods"].items():
        r += 1
        ws.write_string(r, 0, method)
        for c, key in enumerate(("rows", "valid", "invalid"), start=1):
            ws.write_number(r, c, counts[key])
        ws.write_number(r, 4, counts["amount_valid"], st.money)
        if run:
            ws.write_number(r, 5, counts["amount_accepted"], st.money)
    return r + 2


def _totals(ws: Any, r: int, summary: dict[str, Any], st: _Styles) -> int:
    totals = [("Total amount of valid rows", summary["total_amount_valid"])]
    if summary["mode"] == "run":
        totals += [("Amount sent to Tango", summary["amount_sent"]),
                   ("Amount accepted by Tango", summary["amount_accepted"])]
    for key, amount in totals:
        ws.write_string(r, 0, key, st.bold)
        ws.write_number(r, 1, amount, st.money)
        r += 1
    ws.write_string(r, 0, "(amounts are amount × quantity)")
    return r + 1


def summary_sheet(book: xlsxwriter.Workbook, summary: dict[str, Any]) -> None:
    """The Summary sheet: the file, then rows per status, per delivery method, and the totals."""
    ws = book.add_worksheet("Summary")
    styles = _Styles(book.add_format({"bold": True}), book.add_format({"num_format": "$#,##0.00"}),
                     book.add_format({"text_wrap": True, "valign": "top"}), book,
                     book.add_format({"bold": True, "valign": "top"}))
    ws.set_column(0, 0, 30)
    ws.set_column(1, 5, 16)
    ws.write_string(0, 0, "Tango batch import report", book.add_format({"bold": True, "font_size": 14}))
    r = 2
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    for section in (_facts, _next, _sheets, _checks, _by_status, _by_method, _totals):
        r = section(ws, r, summary, styles)
