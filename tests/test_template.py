"""``tango-batch template``: the workbook a person starts from, read back with openpyxl: headers with
their notes, dropdowns, text columns, the instructions, and a round trip: the template filled in
correctly (by openpyxl, as a script or a person would) passes with no warning, and its own sheets
are never read."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from pipeline.cli import main
from pipeline.jobs.template import FIELDS
from pipeline.model import TEMPLATE_MARKER
from tests.helpers import BOOK

CAMPAIGN = """customerIdentifier = "acme-corp"
accountIdentifier = "acme-rewards"
[defaults]
utid = "U761382"
amount = 25
"""


@pytest.fixture
def made(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    (tmp_path / "c.toml").write_text(CAMPAIGN, encoding="utf-8")
    path = tmp_path / "template.xlsx"
    assert main(["template", "--config", str(tmp_path / "c.toml"), "--output", str(path)]) == 0
    assert "rewards in its dropdown" in capsys.readouterr().err
    return path


def _validations(ws) -> dict[str, list]:
    out: dict[str, list] = {}
    for dv in ws.data_validations.dataValidation:
        for cells in dv.sqref.ranges:
            out.setdefault(openpyxl.utils.get_column_letter(cells.min_col), []).append((cells.coord, dv))
    return out


def test_the_headers_say_what_goes_there_and_the_sheets_are_in_order(made):
    wb = openpyxl.load_workbook(made)
    assert wb.sheetnames == ["Recipients", "Instructions", "Lists"]
    assert [ws.sheet_state for ws in wb.worksheets] == ["visible", "visible", "hidden"]
    ws = wb["Recipients"]
    assert [c.value for c in ws[1]] == [BOOK.labels[f] for f in FIELDS]
    assert ws.max_row == 1                                   # no row to order in it
    validations = _validations(ws)
    for c, field in enumerate(FIELDS, start=1):
        letter = openpyxl.utils.get_column_letter(c)
        header = dict(validations[letter])[f"{letter}1"]
        assert header.promptTitle == BOOK.labels[field] and header.prompt.startswith(FIELDS[field])
    email = dict(validations["C"])["C1"].prompt
    assert "Required for EMAIL, EMBEDDED" in email


def test_dropdowns_hold_the_rules_values_and_the_campaigns_rewards(made):
    wb = openpyxl.load_workbook(made)
    ws, lists = wb["Recipients"], wb["Lists"]
    header = [c.value for c in ws[1]]

    def options(label: str) -> list[str]:
        letter = openpyxl.utils.get_column_letter(header.index(label) + 1)
        dv = dict(_validations(ws)[letter])[f"{letter}2:{letter}5001"]
        assert dv.type == "list"
        sheet, cells = dv.formula1.split("!")
        return [c.value for row in wb[sheet][cells.replace("$", "")] for c in row]

    assert options("Delivery Method") == list(BOOK.methods)
    assert options("Shipping Method") == list(BOOK.shipping_methods)
    assert {"MA", "NY", "QC", "BC"} <= set(options("State")) and len(options("State")) == 63 + 13
    assert "US" in options("Country") and len(options("Country")) == len(BOOK.countries)
    rewards = options("UTID")
    assert "U761382" in rewards
    names = [c.value for c in lists[openpyxl.utils.get_column_letter(lists.max_column)]][1:len(rewards) + 1]
    assert lists.cell(row=1, column=lists.max_column).value == "Reward name" and all(names)
    assert lists.max_row >= len(BOOK.countries) + 1


def test_zip_phone_and_id_columns_are_text_and_amounts_numbers(made):
    ws = openpyxl.load_workbook(made)["Recipients"]
    header = [c.value for c in ws[1]]
    fmt = {}
    for dim in ws.column_dimensions.values():
        for c in range(dim.min, dim.max + 1):
            fmt[header[c - 1]] = dim.number_format
    assert fmt["ZIP"] == fmt["Mobile"] == fmt["UTID"] == fmt["Reference"] == "@"
    assert fmt["Amount"] == "0.00" and fmt["Quantity"] == "0" and fmt["Delivery Date"] == "yyyy-mm-dd"


def test_the_instructions_say_what_each_method_needs_and_carry_two_examples(made):
    ws = openpyxl.load_workbook(made)["Instructions"]
    rows = {r[0]: r[1:] for r in ws.iter_rows(values_only=True) if r[0]}
    assert "Email" in rows["EMAIL"][0] and "Street" in rows["ADDRESS"][0] and "Mobile" in rows["PHONE"][0]
    assert "UTID U761382" in rows["Empty cells take"][0]
    cells = [c for row in ws.iter_rows(values_only=True) for c in row if c]
    assert "ann.lee@example.com" in cells and "02134" in cells


def test_a_template_filled_in_correctly_passes_with_no_warning_and_its_own_sheets_are_not_read(made, tmp_path,
                                                                                                capsys):
    wb = openpyxl.load_workbook(made)
    ws = wb["Recipients"]
    header = [c.value for c in ws[1]]
    rows = [
        {"First Name": "Ann", "Last Name": "Lee", "Email": "ann.lee@example.com", "Delivery Method": "EMAIL",
         "Amount": 25, "Quantity": 1},
        {"First Name": "Bob", "Last Name": "Ng", "Delivery Method": "ADDRESS", "UTID": "U761382", "Amount": 50,
         "Quantity": 1, "Street": "1 Main St", "City": "Boston", "State": "MA", "ZIP": "02134", "Country": "US",
         "Shipping Method": "usps1stclass"},
        {"First Name": "Cy", "Mobile": "+14155552671", "Delivery Method": "PHONE", "Amount": 10, "Quantity": 1},
    ]
    for r, row in enumerate(rows, start=2):
        for label, value in row.items():
            ws.cell(row=r, column=header.index(label) + 1, value=value)
    filled = tmp_path / "filled.xlsx"
    wb.save(filled)
    assert TEMPLATE_MARKER in {p.name for p in openpyxl.load_workbook(filled).custom_doc_props.props}
    code = main(["validate", str(filled), "--config", str(tmp_path / "c.toml"), "--output", str(tmp_path / "out")])
    said = capsys.readouterr().err
    assert code == 0, said
    assert "not read" not in said and "Instructions" not in said and "Lists" not in said
    summary = json.loads(next((tmp_path / "out").glob("filled-*/summary.json")).read_text(encoding="utf-8"))
    assert summary["status_counts"]["VALID"] == 3
    assert summary["warnings"] == 0 and summary["not_read"] == [] and summary["notices"] == []


def test_an_output_that_is_a_folder_is_a_usage_error_and_leaves_nothing_behind(tmp_path, capsys):
    folder = tmp_path / "out"
    folder.mkdir()
    assert main(["template", "--output", str(folder)]) == 64
    assert "is a folder: give the workbook's file name" in capsys.readouterr().err
    assert list(tmp_path.rglob("*.part")) == [] and list(folder.iterdir()) == []
