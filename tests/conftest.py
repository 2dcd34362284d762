"""Shared helpers: tiny upload files written on the fly, and the stages run on them."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import xlsxwriter

from pipeline.ingest import read_sheet
from pipeline.normalize import normalize
from pipeline.validate import Validated, validate

TODAY = dt.date(2026, 6, 1)

BASE = {
    "EMAIL": {"First Name": "Ann", "Last Name": "Lee", "Email": "ann.lee@example.com"},
    "PHONE": {"First Name": "Ann", "Last Name": "Lee", "Mobile": "+14155552671"},
    "EMBEDDED": {"First Name": "Ann", "Email": "ann.lee@example.com"},
    "NONE": {"First Name": "Ann"},
    "ADDRESS": {"First Name": "Ann", "Last Name": "Lee", "Street": "12 Beacon St", "City": "Boston",
                "State": "MA", "ZIP": "02108", "Country": "US", "Shipping Method": "usps1stclass"},
    "BULKDIGITAL": {"Qty": "25"},
    "BULKSHIPMENT": {"First Name": "Ann", "Last Name": "Lee", "Street": "12 Beacon St",
                     "City": "Boston", "State": "MA", "ZIP": "02108", "Country": "US",
                     "Shipping Method": "upsground", "Qty": "40"},
}


def base_row(method: str, **cells: Any) -> dict[str, Any]:
    row = {"Delivery Method": method, "UTID": "U761382", "Amount": "25", **BASE[method]}
    for key, value in cells.items():
        row[key.replace("_", " ")] = value
    return row


def write_csv(path: Path, rows: list[dict[str, Any]], *, encoding: str = "utf-8",
              above: list[list[str]] | None = None) -> Path:
    header: list[str] = []
    for row in rows:
        header += [k for k in row if k not in header]
    with open(path, "w", newline="", encoding=encoding) as fh:
        out = csv.writer(fh)
        for line in above or []:
            out.writerow(line)
        out.writerow(header)
        for row in rows:
            out.writerow(["" if row.get(h) is None else row.get(h) for h in header])
    return path


def write_xlsx(path: Path, grid: list[list[Any]], *, sheet: str = "Sheet1",
               more: dict[str, list[list[Any]]] | None = None) -> Path:
    """A workbook whose first sheet holds ``grid`` from A1 (None = empty cell; numbers stay numbers)."""
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False,
                                           "strings_to_urls": False})
    date_fmt = book.add_format({"num_format": "yyyy-mm-dd"})
    for name, cells in {sheet: grid, **(more or {})}.items():
        ws = book.add_worksheet(name)
        for r, row in enumerate(cells):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, dt.date):
                    ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_fmt)
                elif isinstance(value, (int, float)):
                    ws.write_number(r, c, value)
                else:
                    ws.write_string(r, c, value)
    book.close()
    return path


@pytest.fixture
def check(tmp_path: Path):
    """Run ingest → normalize → validate on rows given as dicts; returns the Validated result."""
    counter = iter(range(10_000))

    def run(rows: list[dict[str, Any]], defaults: dict[str, str] | None = None,
            today: dt.date = TODAY) -> Validated:
        path = write_csv(tmp_path / f"upload{next(counter)}.csv", rows)
        sheet = read_sheet(path)
        return validate(sheet, normalize(sheet, defaults or {}), today)
    return run


def errors(result: Validated, idx: int = 0) -> set[str]:
    issues = result.issues.filter((pl.col("__idx__") == idx) & (pl.col("severity") == "error"))
    return set(issues["rule"].to_list())


def messages(result: Validated, idx: int = 0, severity: str = "error") -> list[str]:
    issues = result.issues.filter((pl.col("__idx__") == idx) & (pl.col("severity") == severity))
    return issues["text"].to_list()


def value(result: Validated, field: str, idx: int = 0) -> Any:
    return result.frame[field][idx]


class Clock:
    """A fake clock whose sleep moves time on at once: retries, rate limits and follow-ups take no time."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(clock: Clock):
    """The in-process simulator, processing orders at once."""
    from pipeline.simulator import Simulator
    return Simulator(None, processing_delay=0.0, clock=clock, sleep=clock.sleep)
