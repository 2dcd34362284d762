"""Legacy .xls and OpenDocument .ods workbooks, made by LibreOffice itself (``tests/fixtures/libreoffice``,
remade by its ``make.sh``): read like .xlsx, cell for cell, within the same bounds."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest

from pipeline.cli import main
from pipeline.model import REPORT_MARKER
from pipeline.stages.ingest import read_sheet
from tests.helpers import BOOK, ROOT, write_xlsx

MADE = ROOT / "tests" / "fixtures" / "libreoffice"
CAMPAIGN = ROOT / "samples" / "campaign.toml"


def _rows(report: Path) -> list[tuple[object, ...]]:
    return list(openpyxl.load_workbook(report)["Rows"].iter_rows(values_only=True))


def _validate(tmp_path: Path, path: Path, capsys: pytest.CaptureFixture[str], *more: str) -> tuple[int, str, Path]:
    out = tmp_path / path.name.replace(".", "-")
    code = main(["validate", str(path), "--output", str(out), *more])
    captured = capsys.readouterr()
    return code, captured.out + captured.err, out


@pytest.mark.parametrize("suffix", [".xls", ".ods"])
def test_a_libreoffice_workbook_reads_like_the_xlsx_it_was_made_from(tmp_path, capsys, suffix):
    _, _, xlsx = _validate(tmp_path, ROOT / "samples" / "recipients.xlsx", capsys, "--config", str(CAMPAIGN))
    code, said, other = _validate(tmp_path, MADE / f"recipients{suffix}", capsys, "--config", str(CAMPAIGN))
    assert code == 1, said
    want, got = _rows(next(xlsx.glob("*/report.xlsx"))), _rows(next(other.glob("*/report.xlsx")))
    assert len(got) == 61
    assert got == want          # every cell, dates as dates were read from .xlsx, every status and message


@pytest.mark.parametrize("suffix", [".xls", ".ods"])
def test_a_hidden_sheet_is_listed_and_dates_numbers_and_zeros_read_as_in_xlsx(tmp_path, capsys, suffix):
    sheet = read_sheet(MADE / f"export{suffix}", BOOK)
    assert sheet.sheets == ("Visible",)
    assert [(s.name, s.reason.split(":")[0]) for s in sheet.skipped] == [("Hidden", "hidden in Excel")]
    cells = {h: sheet.frame[c].to_list() for c, h in zip(sheet.columns, sheet.headers, strict=True)}
    assert cells["Amount"] == ["25", "30.5"]
    assert cells["Delivery Date"] == ["2030-01-15", None]
    assert cells["Employee ID"] == ["000123", "000124"]
    assert cells["First Name"] == ["Ann", "Bob"] and cells["Last Name"] == ["Lee", "van der Berg"]


def test_a_failures_workbook_saved_as_ods_by_libreoffice_comes_back_as_a_report(tmp_path, capsys):
    """LibreOffice keeps the report's marker in meta.xml: its Status and Errors columns are the
    pipeline's, dropped on reading (not kept as the user's own), and its rows keep their numbers."""
    ods = MADE / "failures.ods"
    assert REPORT_MARKER.encode() in zipfile.ZipFile(ods).read("meta.xml")
    sheet = read_sheet(ods, BOOK)
    assert not {"Row", "Status", "Errors", "Status (from sheet)", "Errors (from sheet)"} & set(sheet.headers)
    assert not sheet.notices
    assert sheet.frame["__row__"].to_list()[:3] != [2, 3, 4]     # the original row numbers, not the file's


def _with_content(source: Path, target: Path, extra: bytes) -> Path:
    """``source`` (an .ods LibreOffice made) with ``extra`` rows added to its first sheet."""
    with zipfile.ZipFile(source) as z:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as out:
            for info in z.infolist():
                data = z.read(info.filename)
                if info.filename == "content.xml":
                    at = data.index(b"</table:table>")
                    data = data[:at] + extra + data[at:]
                out.writestr(info, data, compress_type=zipfile.ZIP_STORED if info.filename == "mimetype"
                             else zipfile.ZIP_DEFLATED)
    target.write_bytes(buffer.getvalue())
    return target


CELL = b'<table:table-cell office:value-type="string"><text:p>x</text:p></table:table-cell>'


@pytest.mark.parametrize(("name", "extra"), [
    ("rows", b'<table:table-row table:number-rows-repeated="1000000">' + CELL + b"</table:table-row>"),
    # a wide row, then blank rows, then one value: the reader's grid is as tall as the last value and as wide
    # as the widest row (890 MB for this one, 20,000 x 403, before the bound counted so)
    ("wide_then_blank", b'<table:table-row><table:table-cell table:number-columns-repeated="403" '
                        b'office:value-type="string"><text:p>x</text:p></table:table-cell></table:table-row>'
                        b'<table:table-row table:number-rows-repeated="20000"><table:table-cell/></table:table-row>'
                        b"<table:table-row>" + CELL + b"</table:table-row>"),
    ("cells", b'<table:table-row table:number-rows-repeated="20000"><table:table-cell '
              b'table:number-columns-repeated="500" office:value-type="string"><text:p>x</text:p>'
              b"</table:table-cell></table:table-row>"),
])
def test_an_ods_whose_repeated_rows_expand_beyond_the_bounds_is_refused_before_it_is_read(tmp_path, capsys, name,
                                                                                          extra):
    bomb = _with_content(MADE / "recipients.ods", tmp_path / f"{name}.ods", extra)
    assert bomb.stat().st_size < 30_000
    code, said, _ = _validate(tmp_path, bomb, capsys)
    assert code == 2
    assert "rows expand to more than 1,048,576 rows or 4,000,000 cells" in said


def test_empty_rows_repeated_after_the_last_value_cost_nothing(tmp_path, capsys):
    tail = (b'<table:table-row table:number-rows-repeated="1048000"><table:table-cell '
            b'table:number-columns-repeated="16384"/></table:table-row>')
    code, said, _ = _validate(tmp_path, _with_content(MADE / "recipients.ods", tmp_path / "tail.ods", tail), capsys)
    assert code == 1, said
    assert "60 rows" in said


def test_a_damaged_xls_and_an_xlsx_named_xls_get_a_sentence(tmp_path, capsys):
    damaged = tmp_path / "damaged.xls"
    damaged.write_bytes((MADE / "recipients.xls").read_bytes()[:3000])
    code, said, _ = _validate(tmp_path, damaged, capsys)
    assert code == 2 and "not a readable workbook" in said and "Traceback" not in said
    renamed = tmp_path / "renamed.xls"
    shutil.copy(write_xlsx(tmp_path / "w.xlsx", [["First Name", "Email"], ["Ann", "ann@example.com"]]), renamed)
    code, said, _ = _validate(tmp_path, renamed, capsys)
    assert code == 1 and "renamed.xls, sheet 'Sheet1': 1 rows, header on row 1" in said


def test_a_text_file_that_is_no_export_is_an_unsupported_file_type(tmp_path, capsys):
    note = tmp_path / "README.txt"
    note.write_text("Please process these by Friday.\nThanks, Ann\n", encoding="utf-8")
    code, said, _ = _validate(tmp_path, note, capsys)
    assert code == 2
    assert "unsupported file type '.txt'" in said


def test_an_xls_larger_than_its_bound_is_refused_before_it_is_read(tmp_path, capsys):
    """An .xls has no compression, but its cells expand as they are read: 65,535 rows of 40 columns
    (80 MB, made by LibreOffice) took 15 s and 960 MB; the bound keeps any .xls below that."""
    big = tmp_path / "big.xls"
    with big.open("wb") as fh:
        fh.write((MADE / "recipients.xls").read_bytes())
        fh.truncate(65 * 2**20)
    code, said, _ = _validate(tmp_path, big, capsys)
    assert code == 2
    assert "the .xls file is 65 MB, more than the 64 MB this pipeline reads in that old format" in said


@pytest.mark.parametrize("suffix", [".xls", ".ods"])
def test_error_cells_and_merged_cells_are_read_as_in_xlsx(tmp_path, capsys, suffix):
    """calamine reads an error cell (=NA(), =1/0) of an .xls or .ods as empty, which a campaign's default
    amount would fill and order; and a merged cell on its first row only. Both are put back."""
    campaign = tmp_path / "c.toml"
    campaign.write_text('customerIdentifier = "acme-corp"\naccountIdentifier = "acme-rewards"\n[defaults]\n'
                        "amount = 25\n", encoding="utf-8")
    code, said, out = _validate(tmp_path, MADE / f"marks{suffix}", capsys, "--config", str(campaign))
    assert code == 1, said
    rows = _rows(next(out.glob("*/report.xlsx")))
    header = rows[0]
    got = {r[header.index("First Name")]: r for r in rows[1:]}
    status, errors, amount = header.index("Status"), header.index("Errors"), header.index("Amount")
    assert got["Ann"][status] == "INVALID" and "shows the Excel error #N/A" in got["Ann"][errors]
    assert got["Bob"][status] == "INVALID" and "shows the Excel error #DIV/0!" in got["Bob"][errors]
    assert got["Dee"][amount] == 30 and got["Dee"][status] == "VALID"
    assert "part of the merged cells C4:C5" in got["Dee"][header.index("Warnings")]
