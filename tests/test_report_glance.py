"""The report read at a glance, as HR opens it (read back with openpyxl): real numbers and dates where
Tango knows them, Status filled by outcome, wrapped messages, the values ordered when the campaign's
defaults filled them, and a Summary with local time, a native chart, the next step and print setup."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import openpyxl
import pytest

from pipeline.cli import main
from pipeline.model import FILL, Status
from pipeline.stages.report.workbook import FILLS
from tests.helpers import EMAIL_CAMPAIGN as CAMPAIGN
from tests.helpers import own_state, write_csv


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run of five rows against the simulator: two ordered with the defaults filling in, one with its
    own amount and date, one invalid, one with text in its amount (invalid, kept as the user wrote it)."""
    tmp = tmp_path_factory.mktemp("glance")
    rows = [
        {"First Name": "Ann", "Email": "ann@example.com", "Amount": "", "Qty": "", "Delivery Date": ""},
        {"First Name": "Bob", "Email": "bob@example.com", "Amount": "40", "Qty": "1", "Delivery Date": "2030-01-15"},
        {"First Name": "Cy", "Email": "not-an-email", "Amount": "", "Qty": "", "Delivery Date": ""},
        {"First Name": "Di", "Email": "di@example.com", "Amount": "forty", "Qty": "", "Delivery Date": ""},
        {"First Name": "=1+1", "Email": "ed@example.com", "Amount": "", "Qty": "", "Delivery Date": ""},
    ]
    write_csv(tmp / "glance.csv", rows)
    (tmp / "c.toml").write_text(CAMPAIGN, encoding="utf-8")
    with pytest.MonkeyPatch.context() as env:    # as the function-scoped own_state_folder does for a test
        own_state(env, tmp / "state")
        code = main(["run", str(tmp / "glance.csv"), "--config", str(tmp / "c.toml"), "--target", "simulator",
                     "--ledger", str(tmp / "ledger.sqlite"), "--output", str(tmp / "out"), "--wait", "30", "--yes"])
    assert code == 1
    return next((tmp / "out").glob("glance-*/report.xlsx"))


def _rows(path: Path) -> tuple[list[str], list[list[openpyxl.cell.Cell]]]:
    ws = openpyxl.load_workbook(path)["Rows"]
    return [c.value for c in ws[1]], [list(r) for r in ws.iter_rows(min_row=2)]


def test_row_status_and_errors_come_first_and_messages_wrap(report):
    header, rows = _rows(report)
    assert header[:3] == ["Row", "Status", "Errors"]
    assert [r[1].value for r in rows] == ["COMPLETE", "COMPLETE", "INVALID", "INVALID", "INVALID"]
    errors, warnings = header.index("Errors"), header.index("Warnings")
    assert all(r[errors].alignment.wrap_text for r in rows if r[errors].value)
    assert all(r[warnings].alignment.wrap_text for r in rows if r[warnings].value)


def test_status_cells_are_filled_by_outcome(report):
    _, rows = _rows(report)
    for row in rows:
        want = FILLS[FILL[Status(row[1].value)]][0].lstrip("#")
        assert row[1].fill.fgColor.rgb.endswith(want), (row[1].value, row[1].fill.fgColor.rgb)
    assert FILL[Status.COMPLETE] == "done" and FILL[Status.INVALID] == "fix" and FILL[Status.DUPLICATE] == "grey"
    assert FILL[Status.PENDING] == FILL[Status.SUBMITTED] == FILL[Status.HELD] == "wait"


def test_amounts_quantities_and_dates_are_real_numbers_and_dates_and_text_stays_text(report):
    header, rows = _rows(report)
    amount, qty, date = rows[1][header.index("Amount")], rows[1][header.index("Qty")], \
        rows[1][header.index("Delivery Date")]
    assert (amount.value, amount.data_type, amount.number_format) == (40, "n", "#,##0.00")
    assert (qty.value, qty.data_type, qty.number_format) == (1, "n", "0")
    assert date.data_type == "d" and date.value.date().isoformat() == "2030-01-15"
    assert date.number_format == "yyyy-mm-dd"
    text = rows[3][header.index("Amount")]
    assert (text.value, text.data_type) == ("forty", "s")           # as the user wrote it, red
    formula = rows[4][header.index("First Name")]
    assert (formula.value, formula.data_type) == ("=1+1", "s") and formula.quotePrefix
    with zipfile.ZipFile(report) as z:
        assert all(b"<f>" not in z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/"))


def test_the_values_ordered_are_shown_when_defaults_filled_them(report):
    header, rows = _rows(report)
    ordered = header.index("Ordered (campaign defaults filled in)")
    assert rows[0][ordered].value == "reward U761382, amount 25, EMAIL"
    assert rows[1][ordered].value == "reward U761382, amount 40, EMAIL, quantity 1"      # the method filled in
    assert rows[2][ordered].value is None                                                 # invalid: nothing ordered


def test_the_summary_has_local_time_a_chart_the_next_step_and_print_setup(report):
    book = openpyxl.load_workbook(report)
    ws = book["Summary"]
    cells = {r[0]: r[1] for r in ws.iter_rows(values_only=True) if r[0]}
    assert cells["Run time"].endswith(")") and "(UTC" in cells["Run time"]
    assert cells["Next step"].startswith("3 rows to fix: open failures.xlsx, correct the red cells")
    charts = ws._charts
    assert len(charts) == 1 and charts[0].tagname == "barChart"
    with zipfile.ZipFile(report) as z:
        chart = z.read("xl/charts/chart1.xml").decode()
    assert "Summary!$A$" in chart and "Summary!$B$" in chart          # the counts of the sheet, not a picture
    rows_ws = book["Rows"]
    assert rows_ws.page_setup.orientation == "landscape"
    assert rows_ws.sheet_properties.pageSetUpPr.fitToPage and rows_ws.page_setup.fitToHeight == 0
    assert rows_ws.print_title_rows == "$1:$1"                   # the header on every printed page
    summary = json.loads((report.parent / "summary.json").read_text(encoding="utf-8"))
    assert summary["next_step"] == cells["Next step"]


def test_a_cell_is_a_number_only_when_it_reads_back_as_the_same_text(tmp_path):
    """"05", "25.50": written as numbers they would read back as 5 and 25.5, and a re-uploaded report
    would give its rows new line-item IDs (a reward ordered twice); they stay text. A report read back
    gives every row the ID it had."""
    from pipeline.stages.ingest import read_sheet
    from tests.helpers import BOOK
    rows = [{"First Name": "Ann", "Email": "ann@example.com", "Amount": "25.50", "Qty": "01"},
            {"First Name": "Bob", "Email": "bob@example.com", "Amount": "25.5", "Qty": "1"}]
    write_csv(tmp_path / "rt.csv", rows)
    (tmp_path / "c.toml").write_text(CAMPAIGN, encoding="utf-8")
    assert main(["validate", str(tmp_path / "rt.csv"), "--config", str(tmp_path / "c.toml"), "--output",
                 str(tmp_path / "out")]) in (0, 1)
    report = next((tmp_path / "out").glob("rt-*/report.xlsx"))
    header, cells = _rows(report)
    amount, qty = header.index("Amount"), header.index("Qty")
    assert [(r[amount].value, r[amount].data_type) for r in cells] == [("25.50", "s"), (25.5, "n")]
    assert [(r[qty].value, r[qty].data_type) for r in cells] == [("01", "s"), (1, "n")]
    again = read_sheet(report, BOOK)
    by_header = dict(zip(again.headers, again.columns, strict=True))
    assert again.frame[by_header["Amount"]].to_list() == ["25.50", "25.5"]
    assert again.frame[by_header["Qty"]].to_list() == ["01", "1"]


def test_a_run_report_uploaded_again_drops_the_columns_the_pipeline_wrote(report):
    from pipeline.stages.ingest import read_sheet
    from tests.helpers import BOOK
    again = read_sheet(report, BOOK)
    wrote = {"Row", "Status", "Errors", "Warnings", "Line item ID", "Order ID", "Reference line item ID",
             "Delivery status", "Ordered (campaign defaults filled in)"}
    assert not wrote & set(again.headers) and not again.notices
    assert again.frame["__row__"].to_list() == [2, 3, 4, 5, 6]
