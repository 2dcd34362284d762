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
from pipeline.model import REPORT_MARKER, ROW, SHEET
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
    assert "3 VALID" in cells and "1 VALID, 2 INVALID" in cells             # each sheet's rows per status
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


@pytest.mark.parametrize("names", [
    ["Customer Success Americas' Q4"],              # 'Rows ' + it, cut to 31, would end in an apostrophe
    ["Quarterly awards, team Alpha", "Quarterly awards, team Bravo"],   # the same once cut to 31
    ["x" * 23 + " 2", "x" * 26, "x" * 27],          # cut names that a numbering could chase forever
    ["Summary", "summary data"],
])
def test_any_sheet_names_make_reports_excel_opens(tmp_path, names):
    grid = [HEADER, ["Ann", "Lee", "ann@example.com", "25", "U761382", "EMAIL"],
            ["Bob", "Lee", "bob@@example.com", "25", "U761382", "EMAIL"]]
    path = write_xlsx(tmp_path / "odd.xlsx", grid, sheet=names[0], more={n: grid for n in names[1:]})
    done = cli("validate", path, "--output", "out", cwd=tmp_path)
    assert done.returncode == 1, done.stderr                    # rows to fix, reports written
    folder = next((tmp_path / "out").glob("odd-*"))
    report = openpyxl.load_workbook(folder / "report.xlsx")
    assert len(report.sheetnames) == len(names) + 1
    assert len({n.casefold() for n in report.sheetnames}) == len(report.sheetnames)
    assert all(len(n) <= 31 and not n.startswith("'") and not n.endswith("'") for n in report.sheetnames)
    again = read_sheet(folder / "failures.xlsx", BOOK)          # the failures come back, sheet by sheet:
    # each sheet's bad address (row 3), and on each later sheet, Ann again (row 2)
    assert again.frame.height == 2 * len(names) - 1
    assert set(again.frame[ROW].to_list()) == ({2, 3} if len(names) > 1 else {3})


@pytest.mark.filterwarnings("ignore:Title is more than 31 characters")
def test_a_sheet_name_longer_than_excel_allows_is_shortened_in_the_failures(tmp_path):
    book = openpyxl.Workbook()                                  # openpyxl (and pandas) write such names
    ws = book.active
    ws.title = "Recipients of the fourth quarter awards"
    for row in [HEADER, ["Bob", "Lee", "bob@@example.com", "25", "U761382", "EMAIL"]]:
        ws.append(row)
    book.save(tmp_path / "long.xlsx")
    done = cli("validate", tmp_path / "long.xlsx", "--output", "out", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    failures = openpyxl.load_workbook(next((tmp_path / "out").glob("long-*/failures.xlsx")))
    assert failures.sheetnames == ["Recipients of the fourth quarte"]


def test_the_same_rows_on_two_tabs_are_duplicates_not_a_crash(tmp_path):
    rows = [[f"A{i}", "Lee", f"a{i}@example.com", "25", "U761382", "EMAIL"] for i in range(2)]
    path = write_xlsx(tmp_path / "copied.xlsx", [HEADER, *rows], sheet="One", more={"Two": [HEADER, *rows]})
    done = cli("validate", path, "--output", "out", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    summary = json.loads(next((tmp_path / "out").glob("copied-*/summary.json")).read_text())
    assert [s["status_counts"] for s in summary["sheets"]] == [{"VALID": 2, "INVALID": 0}, {"VALID": 0, "INVALID": 2}]
    report = openpyxl.load_workbook(next((tmp_path / "out").glob("copied-*/report.xlsx")))
    errors = [r[0] for r in _cols(report["Rows Two"], "Errors")]
    assert errors[0].startswith("Duplicate of row 2 of sheet 'One'")
    assert errors[1].startswith("Duplicate of row 3 of sheet 'One'")


def test_a_failures_file_says_a_cell_note_on_the_row_it_belongs_to(tmp_path):
    """A formula saved without its result, in a failures file whose Row column renumbers the rows:
    the error is on that row (as its original number), never a default in its place."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Sales"
    ws.append([*HEADER, "Row", "Errors"])
    ws.append(["Ann", "Lee", "ann@example.com", "=20+5", "U761382", "EMAIL", 6, "old"])   # no saved result
    from openpyxl.packaging.custom import StringProperty
    book.custom_doc_props.append(StringProperty(name=REPORT_MARKER, value="1"))     # as the reports carry
    ws.append(["Bob", "Lee", "bob@example.com", "25", "U761382", "EMAIL", 9, "old"])
    book.save(tmp_path / "fixed.xlsx")
    (tmp_path / "c.toml").write_text(CAMPAIGN + '[defaults]\namount = "100"\n')
    sheet = read_sheet(tmp_path / "fixed.xlsx", BOOK)
    assert sheet.frame[ROW].to_list() == [6, 9]
    assert [(n.row, n.error) for n in sheet.notes] == [(6, True)]
    done = cli("validate", tmp_path / "fixed.xlsx", "--config", "c.toml", "--output", "out", cwd=tmp_path)
    report = openpyxl.load_workbook(next((tmp_path / "out").glob("fixed-*/report.xlsx")))
    rows = {r[0]: (r[1], r[2]) for r in _cols(report.worksheets[1], "Row", "Status", "Errors")}
    assert rows[6][0] == "INVALID" and "=20+5" in rows[6][1] and rows[9] == ("VALID", None), done.stderr


def test_row_numbers_that_repeat_in_a_failures_file_give_way_to_the_files_own(tmp_path):
    """A row copied in failures.xlsx keeps its Row value: two rows would share a number (and one
    another's record in the ledger); the sheet's own numbers are used instead."""
    path = write_xlsx(tmp_path / "f.xlsx", [[*HEADER, "Row", "Errors"],
                                            ["Ann", "Lee", "ann@example.com", "25", "U761382", "EMAIL", 6, ""],
                                            ["Ann", "Lee", "ann2@example.com", "25", "U761382", "EMAIL", 6, ""],
                                            ["Cy", "Lee", "cy@example.com", "25", "U761382", "EMAIL", 8, ""]],
                      report=True)
    assert read_sheet(path, BOOK).frame[ROW].to_list() == [2, 3, 4]
    kept = write_xlsx(tmp_path / "g.xlsx", [[*HEADER, "Row", "Errors"],
                                            ["Ann", "Lee", "ann@example.com", "25", "U761382", "EMAIL", 6, ""],
                                            ["Dee", "Lee", "dee@example.com", "25", "U761382", "EMAIL", None, ""]],
                      report=True)
    assert read_sheet(kept, BOOK).frame[ROW].to_list() == [6, 3]     # a new row: its place in the file


def test_a_hidden_tab_of_recipients_is_listed_and_a_sheet_named_twice_is_read_once(tmp_path):
    import xlsxwriter
    path = tmp_path / "hidden.xlsx"
    book = xlsxwriter.Workbook(str(path))
    for name, hidden in (("Sales", False), ("Old list", True)):
        ws = book.add_worksheet(name)
        for r, row in enumerate([HEADER, ["Ann", "Lee", "ann@example.com", "25", "U761382", "EMAIL"]]):
            ws.write_row(r, 0, row)
        if hidden:
            ws.hide()
    book.close()
    sheet = read_sheet(path, BOOK)
    assert sheet.sheets == ("Sales",)
    assert [(s.name, s.reason.split(":")[0]) for s in sheet.skipped] == [("Old list", "hidden in Excel")]
    assert read_sheet(path, BOOK, ["Sales", "Sales"]).frame.height == 1
    assert read_sheet(path, BOOK, ["Old list"]).sheets == ("Old list",)     # named: read, hidden or not
