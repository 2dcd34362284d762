"""The workbooks HR gets, read back with openpyxl as Excel would open them."""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path

import openpyxl
import pytest

from pipeline.config import Campaign, CheckSettings
from pipeline.jobs.validate import validate_file
from pipeline.model import ROW
from pipeline.stages.ingest import read_sheet
from tests.helpers import BOOK, TODAY, base_row, write_csv

RED = "FFFFC7CE"


def run(tmp_path: Path, rows, name="upload.csv", defaults=None):
    path = write_csv(tmp_path / name, rows)
    campaign = Campaign("acme-corp", "acme-rewards", defaults=defaults or {}, path="c.toml")
    settings = CheckSettings(book=BOOK, campaign=campaign, output=tmp_path / "out", today=TODAY)
    return validate_file(path, settings)


def rows_sheet(path: Path):
    book = openpyxl.load_workbook(path)
    ws = book["Rows"] if "Rows" in book.sheetnames else book.worksheets[0]
    header = [c.value for c in ws[1]]
    return ws, header


@pytest.fixture
def result(tmp_path):
    rows = [
        base_row("EMAIL", Employee="E1"),
        base_row("PHONE", Employee="E2", Mobile="12345"),
        base_row("ADDRESS", Employee="E3", First_Name="José", State=""),
        base_row("EMAIL", Employee="=1+2", Team="@SUM(A1)", Email="b@example.com",
                 Dept="-2+3", Note="+cmd|' /C calc'!A0"),
        base_row("BULKDIGITAL", Employee="E5"),
    ]
    return run(tmp_path, rows)


def test_rows_sheet_has_every_row_in_order_with_original_cells(result):
    ws, header = rows_sheet(result.paths["report"])
    # what happened first (Row, Status, Errors), then the row as it was, then the warnings and IDs
    assert header[:4] == ["Row", "Status", "Errors", "Delivery Method"]
    assert header[-2:] == ["Warnings", "Line item ID"]
    data = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    assert [r[header.index("Employee")] for r in data] == ["E1", "E2", "E3", "=1+2", "E5"]
    assert [r[header.index("Row")] for r in data] == [2, 3, 4, 5, 6]
    assert [r[header.index("Status")] for r in data] == ["VALID", "INVALID", "INVALID", "VALID", "VALID"]
    assert data[1][header.index("Mobile")] == "12345"
    assert "got '12345'" in data[1][header.index("Errors")]
    assert data[0][header.index("Errors")] is None


def test_failing_cells_are_red_with_the_message_as_a_comment(result):
    ws, header = rows_sheet(result.paths["report"])
    mobile = ws.cell(row=3, column=header.index("Mobile") + 1)
    assert mobile.fill.fgColor.rgb == RED
    assert mobile.comment.text.startswith("Mobile must be a US mobile number")
    name = ws.cell(row=4, column=header.index("First Name") + 1)
    assert name.fill.fgColor.rgb == RED and "Write 'Jose' instead." in name.comment.text
    state = ws.cell(row=4, column=header.index("State") + 1)      # empty but required
    assert state.value is None and state.fill.fgColor.rgb == RED
    assert state.comment.text.startswith("State is required for ADDRESS delivery")
    fine = ws.cell(row=2, column=header.index("Mobile") + 1)
    assert fine.comment is None and fine.fill.fgColor.rgb != RED


def test_failures_workbook_has_red_cells_and_the_messages_beside_them_without_comments(result):
    book = openpyxl.load_workbook(result.paths["failures"])
    ws = book.worksheets[0]
    header = [c.value for c in ws[1]]
    mobile = ws.cell(row=2, column=header.index("Mobile") + 1)
    assert mobile.value == "12345" and mobile.fill.fgColor.rgb == RED and mobile.comment is None
    assert ws.cell(row=2, column=header.index("Errors") + 1).value.startswith("Mobile must be a US mobile number")
    assert not any(n.startswith("xl/comments") for n in zipfile.ZipFile(result.paths["failures"]).namelist())


def test_comments_stop_at_the_limit_and_the_summary_says_so(tmp_path, monkeypatch):
    import pipeline.stages.report as report
    monkeypatch.setattr(report, "MAX_COMMENTS", 3)
    rows = [base_row("EMAIL", Employee=f"E{i}", Email=f"bad{i}") for i in range(5)]
    done = run(tmp_path, rows)
    ws, header = rows_sheet(done.paths["report"])
    email = header.index("Email") + 1
    cells = [ws.cell(row=r, column=email) for r in range(2, 7)]
    assert all(c.fill.fgColor.rgb == RED for c in cells)                   # every failing cell is still red
    assert [c.comment is not None for c in cells] == [True, True, True, False, False]
    assert all("bad" in ws.cell(row=r, column=header.index("Errors") + 1).value for r in range(2, 7))
    summary = [row[0] for row in openpyxl.load_workbook(done.paths["report"])["Summary"].iter_rows(values_only=True)]
    assert "Note: 5 cells fail; the first 3 carry their message as a comment. Every message is in its row's " \
           "Errors cell." in summary
    assert json.loads(done.paths["summary"].read_text())["cell_comments"] == {"failing_cells": 5, "with_comment": 3}


def test_comments_written_fast_are_the_bytes_xlsxwriter_writes(tmp_path):
    """The report's own comment writers (report.workbook._FastVml, _FastComments) against xlsxwriter's."""
    import xlsxwriter

    from pipeline.stages.report.workbook import WORKBOOK_OPTIONS, new_workbook

    def build(book) -> None:
        ws = book.add_worksheet("Rows")
        ws.set_column(0, 3, 30)
        for r in range(40):
            ws.write_string(r, 0, "x")
            text = f" Row {r} & <b>\n_x0041_ \x01 wrapped {'long ' * r}"
            ws.write_comment(r, r % 4, text, {"x_scale": 3, "y_scale": 2})
        ws.write_comment(50, 2, "shown", {"visible": True, "author": "HR"})
        for r in range(1000, 1100, 7):       # deep rows, and beyond the columns set: placed from the first of each
            ws.write_comment(r, 2 + r % 5, f"deep {r}", {"x_scale": 3, "y_scale": 2})
        ws.write_comment(2000, 1, "no options")
        ws.write_comment(2001, 1, "no options either")
        ws.write_comment(60, 1, "moved", {"x_offset": 30, "y_offset": 5})    # placed by its own options
        ws.write_comment(61, 1, "up", {"y_offset": -25, "x_scale": 2})
        book.close()

    build(xlsxwriter.Workbook(str(tmp_path / "theirs.xlsx"), WORKBOOK_OPTIONS))
    build(new_workbook(tmp_path / "ours.xlsx"))
    theirs, ours = zipfile.ZipFile(tmp_path / "theirs.xlsx"), zipfile.ZipFile(tmp_path / "ours.xlsx")
    parts = [n for n in theirs.namelist() if "comments" in n or "vml" in n]
    assert len(parts) == 2 and sorted(theirs.namelist()) == sorted(ours.namelist())
    for name in parts:
        assert ours.read(name) == theirs.read(name), name


def test_rows_copied_as_bytes_are_the_sheet_xlsxwriter_assembles(tmp_path, monkeypatch):
    """FastWorksheet's rows, written and copied into the sheet as UTF-8 bytes, against the same rows
    written as text through xlsxwriter's own worksheet (which reads them back and writes them again)."""
    import polars as pl
    import xlsxwriter

    from pipeline.stages.report import workbook
    from pipeline.stages.report.fast_xlsx import FastWorksheet

    monkeypatch.setattr(workbook, "CHUNK", 3)       # several chunks, each appended after the last
    data = pl.DataFrame({"a": ["José", "=1+2", None, "ü & <b>", " x ", "\x01ctl", "東京", "e"],
                         "n": ["1", None, "3", "4", "5", "6", "7", "8"]})

    def build(book, cls) -> None:
        sheet = workbook.RowsSheet(book, "Rows")
        assert type(sheet.ws) is cls
        sheet.write(["A", "N"], [10, 10], data, ["a", "n"], {"n"}, {"a": pl.Series([1, 4], dtype=pl.Int64)},
                    {(1, 0): "bad"}, lambda n: None)
        book.add_worksheet("After").write_string(0, 0, "later sheet ü")
        book.close()

    build(xlsxwriter.Workbook(str(tmp_path / "theirs.xlsx"), workbook.WORKBOOK_OPTIONS), xlsxwriter.worksheet.Worksheet)
    scratch = tmp_path / "scratch"      # the workbook's temporary files: the row file is spliced into the zip
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    build(workbook.new_workbook(tmp_path / "ours.xlsx"), FastWorksheet)
    assert list(scratch.iterdir()) == []
    theirs, ours = zipfile.ZipFile(tmp_path / "theirs.xlsx"), zipfile.ZipFile(tmp_path / "ours.xlsx")
    for name in ("xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml"):
        assert ours.read(name) == theirs.read(name), name
    assert "東京" in ours.read("xl/worksheets/sheet1.xml").decode("utf-8")
    ws, header = rows_sheet(tmp_path / "ours.xlsx")
    # (openpyxl leaves Excel's escape of a control character, _x0001_, as it is; Excel reads it back)
    assert header == ["A", "N"] and [c.value for c in ws["A"]][1:] == ["José", "=1+2", None, "ü & <b>", " x ",
                                                                      "_x0001_ctl", "東京", "e"]


def test_no_input_cell_becomes_a_formula_or_a_link(result):
    for key in ("report", "failures"):
        book = openpyxl.load_workbook(result.paths[key])
        for ws in book.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (key, cell.coordinate, cell.value)
                    assert cell.hyperlink is None
    ws, header = rows_sheet(result.paths["report"])
    risky = ws.cell(row=5, column=header.index("Employee") + 1)
    assert risky.value == "=1+2" and risky.data_type == "s"
    assert risky.quotePrefix        # Excel keeps it text even when the cell is edited
    assert ws.cell(row=5, column=header.index("Note") + 1).value == "+cmd|' /C calc'!A0"


def test_sheet_xml_has_no_formula_elements(result):
    with zipfile.ZipFile(result.paths["report"]) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/sheet"):
                assert b"<f>" not in z.read(name)


def test_header_frozen_filters_on_readable_widths(result):
    ws, header = rows_sheet(result.paths["report"])
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(header))}6"
    assert ws.column_dimensions["D"].width >= len("Delivery Method")
    assert ws.column_dimensions["C"].width >= 40           # Errors: wide, and wrapped


def test_summary_sheet_and_json_agree(result):
    book = openpyxl.load_workbook(result.paths["report"])
    assert book.sheetnames == ["Summary", "Rows"]
    cells = {row[0]: row[1:] for row in book["Summary"].iter_rows(values_only=True) if row[0]}
    assert cells["VALID"][0] == 3 and cells["INVALID"][0] == 2
    assert cells["EMAIL"][:3] == (2, 2, 0)
    summary = json.loads(result.paths["summary"].read_text())
    assert summary["status_counts"] == {"VALID": 3, "INVALID": 2}
    assert summary["delivery_methods"]["PHONE"] == {"rows": 1, "valid": 0, "invalid": 1, "amount_valid": 0.0}
    # valid: two EMAIL rows at 25, one BULKDIGITAL of 25 x 25
    assert summary["total_amount_valid"] == 25 + 25 + 25 * 25
    assert cells["Total amount of valid rows"][0] == summary["total_amount_valid"]
    assert summary["sent_to_tango"] is False


def test_failures_workbook_holds_only_rows_to_fix_and_reads_back_as_input(result, tmp_path):
    ws, header = rows_sheet(result.paths["failures"])
    assert header[:2] == ["Row", "Errors"]
    data = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    assert [r[header.index("Employee")] for r in data] == ["E2", "E3"]
    assert ws.cell(row=2, column=header.index("Mobile") + 1).fill.fgColor.rgb == RED
    # the Row column keeps the upload's row numbers: read back, the rows are named as HR knows them
    assert [r[header.index("Row")] for r in data] == [3, 4]
    again = read_sheet(result.paths["failures"], BOOK)
    assert "Errors" not in again.headers and "Row" not in again.headers
    assert again.headers == tuple(h for h in header if h not in ("Row", "Errors"))
    assert again.frame.height == 2
    assert again.frame[ROW].to_list() == [3, 4]


def test_a_fixed_failures_workbook_validates_clean(result, tmp_path):
    book = openpyxl.load_workbook(result.paths["failures"])
    ws = book.worksheets[0]
    header = [c.value for c in ws[1]]
    ws.cell(row=2, column=header.index("Mobile") + 1).value = "(415) 555-2671"
    ws.cell(row=3, column=header.index("First Name") + 1).value = "Jose"
    ws.cell(row=3, column=header.index("State") + 1).value = "MA"
    fixed = tmp_path / "fixed.xlsx"
    book.save(fixed)
    campaign = Campaign("acme-corp", "acme-rewards", path="c.toml")
    again = validate_file(fixed, CheckSettings(book=BOOK, campaign=campaign, output=tmp_path / "out2", today=TODAY))
    assert again.summary["status_counts"] == {"VALID": 2, "INVALID": 0}


def test_each_run_gets_its_own_folder(tmp_path):
    a = run(tmp_path, [base_row("EMAIL")])
    b = run(tmp_path, [base_row("EMAIL")])
    assert a.folder != b.folder and a.folder.parent == b.folder.parent
    assert a.folder.name.startswith("upload-")
    # nothing to fix: no failures workbook (the console and the Summary say so)
    assert sorted(p.name for p in a.folder.iterdir()) == ["report.xlsx", "summary.json"]
    summary = json.loads((a.folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["failures"] is None and summary["next_step"].startswith("1 rows passed every check")


def test_control_characters_and_markup_survive_as_text(tmp_path):
    rows = [base_row("EMAIL", Message="a\x07b <r>x</r> & _x0041_ ", Employee="<b>")]
    result = run(tmp_path, rows)
    ws, header = rows_sheet(result.paths["report"])
    assert ws.cell(row=2, column=header.index("Employee") + 1).value == "<b>"
    # Excel's escapes (ECMA-376 ST_Xstring): a control character as _xHHHH_, a literal _xHHHH_
    # as _x005F_xHHHH_; openpyxl shows them undecoded, Excel decodes them back to the input
    message = ws.cell(row=2, column=header.index("Message") + 1).value
    assert message == "a_x0007_b <r>x</r> & _x005F_x0041_ "
