"""Sheets shaped like real HR exports: a campaign's ``[columns]`` mapping, the built-in aliases of HR
systems, a single full-name column split into first and last name, and a column the rows need
said once for the file with the closest header and the exact line to add. Reports are read back
with openpyxl, as HR gets them."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from pipeline.cli import main
from pipeline.stages.ingest.names import split_name
from tests.helpers import BOOK, write_xlsx
from tests.helpers import EMAIL_CAMPAIGN as CAMPAIGN

# Workday's "Worker" report: a full name, two e-mail columns, IDs with leading zeros
WORKDAY = [["Employee ID", "Employee Name", "Work Email", "Personal Email", "Cost Center", "Hire Date"],
           ["000101", "Lee, Ann", "ann.lee@example.com", "ann@home.example", "CC-10", "2019-04-01"],
           ["000102", "Bob van der Berg", "bob@example.com", None, "CC-10", "2020-05-01"],
           ["000103", "María José García", "maria@example.com", None, "CC-11", "2021-06-01"]]
# BambooHR's employee export: its own header names, an address of its own words
BAMBOO = [["Employee #", "Preferred First Name", "Last Name", "Home Email", "Mobile Phone Number", "Employment Status"],
          ["17", "Cy", "Ng", "cy@example.com", "(415) 555-2671", "Full-Time"],
          ["18", "Di", "Ho", "di@example.com", "415.555.2672", "Full-Time"]]


def _campaign(tmp_path: Path, columns: str = "") -> Path:
    path = tmp_path / "campaign.toml"
    path.write_text(CAMPAIGN + (f"[columns]\n{columns}\n" if columns else ""), encoding="utf-8")
    return path


def _validate(tmp_path: Path, sheet: Path, campaign: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["validate", str(sheet), "--config", str(campaign), "--output", str(tmp_path / "out")])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _report(tmp_path: Path) -> tuple[list[dict[str, object]], dict[str, object], openpyxl.Workbook]:
    folder = next((tmp_path / "out").iterdir())
    wb = openpyxl.load_workbook(folder / "report.xlsx")
    ws = wb["Rows"]
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)]
    return rows, json.loads((folder / "summary.json").read_text(encoding="utf-8")), wb


def test_a_workday_sheet_needs_one_columns_line_and_says_which(tmp_path, capsys):
    sheet = write_xlsx(tmp_path / "workday.xlsx", WORKDAY)
    code, said = _validate(tmp_path, sheet, _campaign(tmp_path), capsys)
    assert code == 2
    assert ("columns 'Work Email' (C) and 'Personal Email' (D) both mean Email; delete or rename one of them, or "
            "name the one to read in the campaign file: [columns] \"Work Email\" = \"email\"") in said

    code, said = _validate(tmp_path, sheet, _campaign(tmp_path, '"Work Email" = "email"'), capsys)
    assert code == 0, said
    rows, _, _ = _report(tmp_path)
    assert [(r["First Name"], r["Last Name"], r["Status"]) for r in rows] == [
        ("Ann", "Lee", "VALID"), ("Bob", "van der Berg", "VALID"), ("María José", "García", "VALID")]
    assert [r["Personal Email"] for r in rows] == ["ann@home.example", None, None]     # kept, not read
    assert "'Ann' and Last Name 'Lee' split from Employee Name 'Lee, Ann'" in str(rows[0]["Warnings"])


def test_the_split_columns_follow_the_full_name_and_come_back_as_the_names(tmp_path, capsys):
    sheet = write_xlsx(tmp_path / "workday.xlsx", WORKDAY)
    _validate(tmp_path, sheet, _campaign(tmp_path, '"Work Email" = "email"'), capsys)
    rows, _, _ = _report(tmp_path)
    assert list(rows[0])[3:7] == ["Employee ID", "Employee Name", "First Name", "Last Name"]
    # the report's columns, uploaded again: the names are read from their own columns, nothing is split
    again = write_xlsx(tmp_path / "again.xlsx", [list(rows[0])[3:11], *[list(r.values())[3:11] for r in rows]])
    _validate(tmp_path / "2", again, _campaign(tmp_path, '"Work Email" = "email"'), capsys)
    rows2, _, _ = _report(tmp_path / "2")
    assert [r["First Name"] for r in rows2] == ["Ann", "Bob", "María José"]
    assert all("split from" not in str(r["Warnings"] or "") for r in rows2)


def test_a_bamboohr_sheet_is_read_with_its_own_header_names(tmp_path, capsys):
    code, said = _validate(tmp_path, write_xlsx(tmp_path / "bamboo.xlsx", BAMBOO), _campaign(tmp_path), capsys)
    assert code == 0, said
    rows, _, _ = _report(tmp_path)
    assert [r["Status"] for r in rows] == ["VALID", "VALID"]


def test_a_missing_column_is_said_once_for_the_file_with_the_line_to_add(tmp_path, capsys):
    grid = [["Employee #", "First Name", "Recipient Mail", "Dept"],
            ["1", "Ann", "ann@example.com", "Ops"], ["2", "Bob", "bob@example.com", "Ops"],
            ["3", "Cy", "cy@example.com", "HR"]]
    code, said = _validate(tmp_path, write_xlsx(tmp_path / "mail.xlsx", grid), _campaign(tmp_path), capsys)
    assert code == 1
    line = ("the sheet has no Email column, which 3 rows need. If column 'Recipient Mail' holds it, add this line "
            "under [columns] in the campaign file: \"Recipient Mail\" = \"email\"")
    assert said.count(line) == 1
    rows, summary, wb = _report(tmp_path)
    assert any(line in n for n in summary["notices"])
    summary_cells = [c for row in wb["Summary"].iter_rows(values_only=True) for c in row if isinstance(c, str)]
    assert any(line in c for c in summary_cells)
    assert all("the Summary says how to add or map one" in str(r["Errors"]) for r in rows)

    code, said = _validate(tmp_path / "2", write_xlsx(tmp_path / "mail.xlsx", grid),
                           _campaign(tmp_path, '"Recipient Mail" = "email"'), capsys)
    assert code == 0, said


def test_with_no_header_alike_the_notice_says_how_to_map_one(tmp_path, capsys):
    grid = [["First Name", "Amount", "Team"], ["Ann", "25", "Ops"]]
    _, said = _validate(tmp_path, write_xlsx(tmp_path / "x.xlsx", grid), _campaign(tmp_path), capsys)
    assert ("the sheet has no Email column, which 1 row needs: add a column named 'Email', or map the column that "
            "holds it under [columns] in the campaign file, as in \"Your header\" = \"email\"") in said


@pytest.mark.parametrize(("columns", "said"), [
    ('"Work Email" = "e-mail"', "columns.'Work Email' = 'e-mail': not a field name; known: firstName"),
    ('"Work Email" = "email"\n"work-email" = "email"', "'Work Email' and 'work-email' are the same header"),
    ('"---" = "email"', "the header '---' has no letters or digits"),
])
def test_a_wrong_columns_table_is_a_usage_error(tmp_path, capsys, columns, said):
    code, out = _validate(tmp_path, write_xlsx(tmp_path / "w.xlsx", WORKDAY), _campaign(tmp_path, columns), capsys)
    assert code == 64
    assert said in out


def test_a_lookalike_header_can_be_mapped_instead_of_renamed(tmp_path, capsys):
    grid = [["First Name", "Email", "Amount (USD)"], ["Ann", "ann@example.com", "40"]]
    sheet = write_xlsx(tmp_path / "usd.xlsx", grid)
    code, said = _validate(tmp_path, sheet, _campaign(tmp_path), capsys)
    assert code == 2 and "[columns] \"Amount (USD)\" = \"amount\"" in said
    code, said = _validate(tmp_path / "2", sheet, _campaign(tmp_path, '"Amount (USD)" = "amount"'), capsys)
    assert code == 0, said
    _, summary, _ = _report(tmp_path / "2")
    assert summary["total_amount_valid"] == 40


@pytest.mark.parametrize(("whole", "first", "last"), [
    ("Ann Lee", "Ann", "Lee"),
    ("Lee, Ann", "Ann", "Lee"),
    ("  Lee ,  Ann  ", "Ann", "Lee"),
    ("Mary Ann Lee", "Mary Ann", "Lee"),
    ("Maria van der Berg", "Maria", "van der Berg"),
    ("Ludwig von Mises", "Ludwig", "von Mises"),
    ("John Smith Jr.", "John", "Smith Jr."),
    ("Cher", "Cher", None),
    ("Lee,", "Lee", None),
    ("", None, None),
])
def test_a_full_name_splits_into_first_and_last(whole, first, last):
    assert split_name(whole, BOOK.particles) == (first, last)


def test_an_explicit_mapping_wins_over_a_builtin_alias_only_where_both_are_in_the_header():
    book = BOOK.mapping({"Work Email": "email"})
    assert book.meanings(["Work Email", "Personal Email"]) == ["email", None]
    assert book.meanings(["Email Address", "Name"]) == ["email", "fullName"]    # another sheet of the workbook


def test_a_campaign_writes_dates_day_first_with_date_order(tmp_path, capsys):
    grid = [["First Name", "Email", "Delivery Date"], ["Ann", "ann@example.com", "24/12/2030"]]
    sheet = write_xlsx(tmp_path / "dmy.xlsx", grid)
    campaign = tmp_path / "dmy.toml"
    campaign.write_text('date_order = "DMY"\n' + CAMPAIGN, encoding="utf-8")
    code, said = _validate(tmp_path, sheet, campaign, capsys)
    assert code == 0, said
    rows, _, _ = _report(tmp_path)
    assert "Delivery Date: read as day/month/year ('24/12/2030' became '2030-12-24')." in str(rows[0]["Warnings"])
    campaign.write_text('date_order = "YMD"\n' + CAMPAIGN, encoding="utf-8")
    code, said = _validate(tmp_path / "2", sheet, campaign, capsys)
    assert code == 64 and "'date_order' must be \"MDY\" (12/24/2026) or \"DMY\" (24/12/2026)" in said


def test_an_alias_wins_over_an_hr_systems_name_and_a_full_name_beside_first_and_last_is_left_alone(tmp_path, capsys):
    """Sheets that read before the HR systems' names were known read the same: "Email" is read and "Work
    Email" kept as an ordinary column (said); "Employee Name" and "Preferred Name" beside First and Last
    Name are ordinary columns, nothing is split."""
    grid = [["First Name", "Last Name", "Employee Name", "Preferred Name", "Email", "Work Email"],
            ["Ann", "Lee", "Lee, Ann", "Annie Lee", "ann@example.com", "ann.lee@corp.example"]]
    code, said = _validate(tmp_path, write_xlsx(tmp_path / "both.xlsx", grid), _campaign(tmp_path), capsys)
    assert code == 0, said
    assert ("column 'Work Email' (F) also looks like Email; 'Email' (E) is read, the other kept as it is (to read "
            "it instead, name it in the campaign file: [columns] \"Work Email\" = \"email\")") in said
    rows, summary, _ = _report(tmp_path)
    assert rows[0]["Work Email"] == "ann.lee@corp.example" and "split from" not in str(rows[0]["Warnings"])
    assert any("also looks like Email" in n for n in summary["notices"])
    code, said = _validate(tmp_path / "2", write_xlsx(tmp_path / "both.xlsx", grid),
                           _campaign(tmp_path, '"Work Email" = "email"'), capsys)
    assert code == 0 and "also looks like" not in said


def test_a_name_column_on_lines_without_a_recipient_is_not_made_a_recipients_name(tmp_path, capsys):
    """BULKDIGITAL lines have no recipient (a name there is refused): a "Name" column beside them names
    something else, and is not split into a first and last name that would make them invalid."""
    grid = [["Name", "Delivery Method", "Quantity", "Email"],
            ["Team Ops", "bulk digital", "10", None], ["Ann Lee", "EMAIL", "1", "ann@example.com"]]
    code, said = _validate(tmp_path, write_xlsx(tmp_path / "bulk.xlsx", grid), _campaign(tmp_path), capsys)
    assert code == 0, said
    rows, _, _ = _report(tmp_path)
    assert [r["Status"] for r in rows] == ["VALID", "VALID"]
    assert rows[0]["Warnings"] is None or "split from" not in rows[0]["Warnings"]      # no name on that line
    assert "split from Name 'Ann Lee'" in rows[1]["Warnings"]
