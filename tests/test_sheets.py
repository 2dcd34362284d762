"""Every sheet accounted for, and row numbers that survive the round trip: a workbook with an
instructions tab and two tabs of recipients is read whole, reported sheet by sheet, ordered against
the loopback simulator, and its failures workbook, fixed and uploaded again, names the rows as the
upload did."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from pipeline.errors import InputError
from pipeline.model import ROW, SHEET
from pipeline.stages.ingest import read_sheet
from tests.helpers import BOOK, cli, created, write_xlsx

CAMPAIGN = 'customerIdentifier = "acme-corp"\naccountIdentifier = "acme-rewards"\ncampaign = "Q4"\n'
HEADER = ["First Name", "Last Name", "Email", "Amount", "UTID", "Delivery Method"]


def workbook(path: Path) -> Path:
    """Instructions (no header), Sales (3 good rows, header on row 3), Support (its own column order;
    row 3 a bad e-mail, row 4 the same reward as Sales row 5)."""
    sales = [["Q4 thank-you rewards"], [], HEADER] + [
        [f"S{i}", "Lee", f"s{i}@example.com", "25", "U761382", "EMAIL"] for i in range(3)]
    support = [["Email", "First Name", "Last Name", "Amount", "UTID", "Delivery Method"],
               ["t0@example.com", "T0", "Ng", "25", "U761382", "EMAIL"],
               ["t1@@example.com", "T1", "Ng", "25", "U761382", "EMAIL"],
               ["s1@example.com", "S1", "Lee", "25", "U761382", "EMAIL"]]
    return write_xlsx(path, [["How to fill this in"], ["One tab per team; the Amount is in USD."]],
                      sheet="Instructions", more={"Sales": sales, "Support": support})


def test_every_tab_of_recipients_is_read_in_workbook_order_and_the_others_are_listed(tmp_path):
    sheet = read_sheet(workbook(tmp_path / "q4.xlsx"), BOOK)
    assert sheet.sheets == ("Sales", "Support")
    assert [(p.name, p.header_row) for p in sheet.parts] == [("Sales", 3), ("Support", 1)]
    assert sheet.frame.select(SHEET, ROW).rows() == [
        ("Sales", 4), ("Sales", 5), ("Sales", 6), ("Support", 2), ("Support", 3), ("Support", 4)]
    assert [(s.name, "no row among its first 20" in s.reason) for s in sheet.skipped] == [("Instructions", True)]
    # each tab's own column order is kept: the e-mail of Support's first row is in Support's column
    emails = [sheet.frame[c] for c in sheet.columns_of("email")]
    assert len(emails) == 2 and emails[1].to_list()[3:] == ["t0@example.com", "t1@@example.com", "s1@example.com"]


def test_sheets_named_with_sheet_are_read_and_the_other_tab_of_recipients_is_listed(tmp_path):
    path = workbook(tmp_path / "q4.xlsx")
    support = read_sheet(path, BOOK, ["Support"])
    assert support.sheets == ("Support",) and support.frame.height == 3
    assert [(s.name, s.reason) for s in support.skipped] == [("Sales", "not among the sheets named with --sheet")]
    assert read_sheet(path, BOOK, ["Sales", "Support"]).frame.height == 6
    with pytest.raises(InputError, match="no sheet named 'Marketing'"):
        read_sheet(path, BOOK, ["Sales", "Marketing"])


def test_validate_counts_each_tab_and_says_which_was_not_read(tmp_path):
    (tmp_path / "c.toml").write_text(CAMPAIGN)
    done = cli("validate", workbook(tmp_path / "q4.xlsx"), "--config", "c.toml", "--output", "out", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "q4.xlsx, sheet 'Sales': 3 rows, header on row 3" in done.stderr
    assert "q4.xlsx, sheet 'Support': 3 rows, header on row 1" in done.stderr
    assert "q4.xlsx, sheet 'Instructions': not read: no row among its first 20" in done.stderr
    summary = json.loads(next((tmp_path / "out").glob("q4-*/summary.json")).read_text())
    assert [(s["sheet"], s["rows"], s["status_counts"]) for s in summary["sheets"]] == [
        ("Sales", 3, {"VALID": 3, "INVALID": 0}), ("Support", 3, {"VALID": 1, "INVALID": 2})]
    assert [s["sheet"] for s in summary["not_read"]] == ["Instructions"]
    report = openpyxl.load_workbook(next((tmp_path / "out").glob("q4-*/report.xlsx")))
    assert report.sheetnames == ["Summary", "Rows Sales", "Rows Support"]
    cells = [c for row in report["Summary"].iter_rows(values_only=True) for c in row if c is not None]
    assert "Instructions" in cells and "NOT READ: no row among its first 20" in " ".join(map(str, cells))
    rows = list(report["Rows Support"].iter_rows(values_only=True))
    header = rows[0]
    dup = dict(zip(header, rows[3], strict=True))
    assert (dup["Sheet"], dup["Row"], dup["Status"]) == ("Support", 4, "INVALID")
    assert "Duplicate of row 5 of sheet 'Sales'" in dup["Errors"]


def test_both_tabs_are_ordered_and_the_failures_workbook_comes_back_with_its_numbers(tmp_path, tango):
    (tmp_path / "c.toml").write_text(CAMPAIGN)
    first = cli("run", workbook(tmp_path / "q4.xlsx"), "--config", "c.toml", "--target", tango, "--output", "out",
                "--wait", "5", "--rate", "20", cwd=tmp_path)
    assert first.returncode == 1, first.stderr               # rows to fix
    assert len(created(tango)) == 4                          # 3 of Sales, 1 of Support
    assert "sheet 'Instructions': not read" in first.stderr
    folder = next((tmp_path / "out").glob("q4-*"))
    report = openpyxl.load_workbook(folder / "report.xlsx")
    statuses = {(r[0], r[1]): r[2] for name in ("Rows Sales", "Rows Support")
                for r in _cols(report[name], "Sheet", "Row", "Status")}
    assert statuses == {("Sales", 4): "COMPLETE", ("Sales", 5): "COMPLETE", ("Sales", 6): "COMPLETE",
                        ("Support", 2): "COMPLETE", ("Support", 3): "INVALID", ("Support", 4): "INVALID"}

    # failures.xlsx: only the tab with rows to fix, under its own name, with the upload's row numbers
    failures = openpyxl.load_workbook(folder / "failures.xlsx")
    assert failures.sheetnames == ["Support"]
    ws = failures["Support"]
    assert [r for r in _cols(ws, "Row", "Email")] == [(3, "t1@@example.com"), (4, "s1@example.com")]
    header = [c.value for c in ws[1]]
    ws.cell(row=2, column=header.index("Email") + 1).value = "t1@example.com"      # fixed
    ws.cell(row=3, column=header.index("Last Name") + 1).value = "Leigh"           # a new reward? no: guarded
    ws.cell(row=3, column=header.index("Email") + 1).value = "s1@example.com"
    failures.save(tmp_path / "q4-fixed.xlsx")

    again = cli("run", tmp_path / "q4-fixed.xlsx", "--config", "c.toml", "--target", tango, "--output", "out",
                "--wait", "5", "--rate", "20", cwd=tmp_path)
    assert again.returncode == 1, again.stderr                # the held row is one to look at
    counts = created(tango)
    assert len(counts) == 5 and set(counts.values()) == {1}   # the fixed row only, once
    report = openpyxl.load_workbook(next((tmp_path / "out").glob("q4-fixed-*/report.xlsx")))
    rows = {r[0]: (r[1], r[2]) for r in _cols(report.worksheets[1], "Row", "Status", "Errors")}
    assert rows[3] == ("COMPLETE", None)
    assert rows[4][0] == "HELD" and "Last Name was 'Lee', now 'Leigh'" in rows[4][1]
    assert set(rows) == {3, 4}                                # the original numbers, not 2 and 3


def _cols(ws: openpyxl.worksheet.worksheet.Worksheet, *names: str) -> list[tuple[object, ...]]:
    rows = list(ws.iter_rows(values_only=True))
    at = [rows[0].index(n) for n in names]
    return [tuple(r[i] for i in at) for r in rows[1:] if any(v is not None for v in r)]


def test_sheet_may_be_given_several_times(tmp_path):
    path = workbook(tmp_path / "q4.xlsx")
    done = cli("validate", path, "--sheet", "Support", "--sheet", "Sales", "--output", "out", cwd=tmp_path)
    assert "sheet 'Sales': 3 rows" in done.stderr and "sheet 'Support': 3 rows" in done.stderr
    only = cli("validate", path, "--sheet", "Support", "--output", "out", cwd=tmp_path)
    assert "sheet 'Sales': not read: not among the sheets named with --sheet" in only.stderr
    summary = json.loads(sorted((tmp_path / "out").glob("q4-*/summary.json"))[-1].read_text())
    assert summary["rows"] == 3 and [s["sheet"] for s in summary["not_read"]] == ["Sales"]
