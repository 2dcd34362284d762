"""Ingest on small files of real-world shape: title rows, numeric cells, blank rows, encodings."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.errors import InputError
from pipeline.stages.ingest import read_sheet as read
from tests.helpers import BOOK, TODAY, write_xlsx


def read_sheet(path, sheet=None):
    return read(path, BOOK, sheet)

HEADER = ["First Name", "Last Name", "Email", "ZIP", "Mobile"]


def test_title_rows_above_the_header_and_excel_row_numbers(tmp_path):
    grid = [[None], ["Q4 Rewards"], ["exported by HR"], [None], HEADER,
            ["Ann", "Lee", "ann@example.com", 2108, 4155552671],
            [None], [None, None, "   "],
            ["Bob", "Ray", "bob@example.com", "02134", None]]
    sheet = read_sheet(write_xlsx(tmp_path / "t.xlsx", grid))
    assert sheet.header_row == 5
    assert sheet.frame["__row__"].to_list() == [6, 9]        # blank rows skipped, numbers kept
    assert sheet.headers == tuple(HEADER)


def test_a_csv_header_below_long_lines_of_text_in_another_script_is_found(tmp_path):
    """The header is looked for in the first 200,000 characters, whatever bytes they take (a Cyrillic
    letter is two in UTF-8): five notes of 30,000 letters above it, 300,000 bytes in all."""
    notes = "".join("Примечание " * 2727 + "\n" for _ in range(5))
    path = tmp_path / "notes.csv"
    path.write_text(notes + ",".join(HEADER) + "\nAnn,Lee,ann@example.com,02108,4155552671\n", encoding="utf-8")
    sheet = read_sheet(path)
    assert sheet.header_row == 6 and sheet.headers == tuple(HEADER) and sheet.frame.height == 1


def test_a_nul_in_the_first_4096_characters_is_not_text_whatever_bytes_they_take(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_bytes(("é" * 2100 + "\x00\n" + ",".join(HEADER) + "\n").encode("utf-8"))    # the NUL: byte 4200
    with pytest.raises(InputError, match="this is not a text file"):
        read_sheet(path)


def test_numeric_cells_arrive_as_text_without_float_artifacts(tmp_path):
    grid = [[*HEADER, "Amount", "Qty"], ["Ann", "Lee", "a@example.com", 2108, 4155552671, 25, 3]]
    sheet = read_sheet(write_xlsx(tmp_path / "n.xlsx", grid))
    row = sheet.frame.row(0, named=True)
    assert [row["c3"], row["c4"], row["c5"], row["c6"]] == ["2108", "4155552671", "25", "3"]


def test_date_cells_read_as_the_date_shown(tmp_path):
    grid = [["First Name", "Delivery Date"], ["Ann", dt.date(2026, 12, 24)]]
    sheet = read_sheet(write_xlsx(tmp_path / "d.xlsx", grid))
    assert sheet.frame["c1"].to_list() == ["2026-12-24"]


def test_data_that_does_not_start_in_column_a(tmp_path):
    grid = [[None, None], [None, "First Name", "Email"], [None, "Ann", "ann@example.com"]]
    sheet = read_sheet(write_xlsx(tmp_path / "b.xlsx", grid))
    assert sheet.header_row == 2
    assert sheet.fields == {"c0": "firstName", "c1": "email"}
    assert sheet.frame["__row__"].to_list() == [3]


@pytest.mark.parametrize("header, field", [
    ("FirstName", "firstName"), ("given name", "firstName"), ("SURNAME", "lastName"),
    ("Family-Name", "lastName"), ("E-mail", "email"), ("Email Address", "email"),
    ("Mobile Number", "mobileNumber"), ("Cell", "mobileNumber"), ("SMS", "mobileNumber"),
    ("Delivery", "deliveryMethod"), ("Reward ID", "utid"), ("Face Value", "amount"),
    ("Qty", "quantity"), ("Address Line 1", "streetLine1"), ("Street Line 1", "streetLine1"),
    ("Apt", "streetLine2"), ("Suite", "streetLine2"), ("Town", "city"),
    ("State or Province", "stateOrProvince"), ("Region", "stateOrProvince"),
    ("Postcode", "postalCode"), ("Zip Code", "postalCode"), ("Company", "companyName"),
    ("Gift Message", "message"), ("Email Subject", "emailSubject"), ("Line Item Note", "lineItemNote"),
    ("Delivery Date", "deliveryDate"), ("Expiration Date", "expirationDate"), ("ETID", "etid"),
    ("PTID", "ptid"), ("Shipping Method", "shippingMethod"), ("Reference ID", "externalRefLineItemID"),
    ("utid", "utid"), ("streetLine1", "streetLine1"),
])
def test_header_aliases(tmp_path, header, field):
    sheet = read_sheet(write_xlsx(tmp_path / "h.xlsx", [["Employee", header], ["E1", "x"]]))
    assert sheet.fields == {"c1": field}


def test_unrecognized_columns_are_kept_unchanged(tmp_path):
    sheet = read_sheet(write_xlsx(tmp_path / "u.xlsx", [["Employee ID", "First Name", "Dept."],
                                                        ["E1", "Ann", "Sales"]]))
    assert sheet.headers == ("Employee ID", "First Name", "Dept.")
    assert sheet.frame.row(0)[:3] == ("E1", "Ann", "Sales")


def test_two_columns_for_one_field_is_an_error_naming_both(tmp_path):
    path = write_xlsx(tmp_path / "two.xlsx", [["Title"], ["Phone", "First Name", "Mobile"], ["1", "A", "2"]])
    with pytest.raises(InputError) as err:
        read_sheet(path)
    text = str(err.value)
    assert "two.xlsx" in text and "row 2" in text
    assert "'Phone' (A)" in text and "'Mobile' (C)" in text


def test_report_columns_are_dropped_when_a_report_comes_back(tmp_path):
    grid = [["First Name", "Errors", "Status"], ["Ann", "old error", "INVALID"]]
    sheet = read_sheet(write_xlsx(tmp_path / "f.xlsx", grid, report=True))
    assert sheet.headers == ("First Name",) and sheet.notices == ()


def test_a_sheets_own_column_named_like_a_report_column_is_kept_renamed_and_said(tmp_path):
    """Without the reports' marker, columns named Status or Row are the user's own: never dropped."""
    grid = [["First Name", "Status", "Row", "Order ID"], ["Ann", "new hire", "7", "PO-1"]]
    sheet = read_sheet(write_xlsx(tmp_path / "f.xlsx", grid))
    assert sheet.headers == ("First Name", "Status (from sheet)", "Row (from sheet)", "Order ID (from sheet)")
    assert sheet.frame.row(0)[:4] == ("Ann", "new hire", "7", "PO-1") and sheet.frame["__row__"][0] == 2
    assert len(sheet.notices) == 3 and "'Status' (B)" in sheet.notices[0] and "kept as 'Status (from sheet)'" \
        in sheet.notices[0]
    assert any("Row (from sheet)" in line for line in sheet.reading())


def test_first_sheet_with_a_header_is_used(tmp_path):
    path = write_xlsx(tmp_path / "s.xlsx", [["Instructions: fill in the next sheet"]], sheet="Readme",
                      more={"Recipients": [["First Name", "Email"], ["Ann", "a@example.com"]]})
    assert read_sheet(path).sheet == "Recipients"


def test_sheet_chosen_by_name(tmp_path):
    path = write_xlsx(tmp_path / "s.xlsx", [["First Name"], ["Ann"]], sheet="A",
                      more={"B": [["First Name"], ["Bob"], ["Cy"]]})
    assert read_sheet(path, "B").frame.height == 2
    with pytest.raises(InputError, match="no sheet named 'C'; the sheets are: 'A', 'B'"):
        read_sheet(path, "C")


def test_no_header_is_a_clear_error(tmp_path):
    path = write_xlsx(tmp_path / "x.xlsx", [["just"], ["some"], ["notes"]])
    with pytest.raises(InputError, match="no header row found"):
        read_sheet(path)


class TestCsv:
    @pytest.mark.parametrize("name, content", [
        ("utf-8 with BOM", "\ufeffFirst Name,City\nRenée,Montréal\n".encode("utf-8")),
        ("Windows-1252", "First Name;City\r\nRenée;Montréal\r\n".encode("cp1252")),
        ("UTF-16 (Excel's Unicode Text)", "First Name\tCity\r\nRenée\tMontréal\r\n".encode("utf-16")),
        ("a BOM, then Windows-1252", b"\xef\xbb\xbfFirst Name,City\nRen\xe9e,Montr\xe9al\n"),
    ])
    def test_encodings(self, tmp_path, name, content):
        path = tmp_path / "enc.csv"
        path.write_bytes(content)
        sheet = read_sheet(path)
        assert sheet.headers == ("First Name", "City")
        assert sheet.frame.row(0)[:2] == ("Renée", "Montréal")


    def test_title_lines_blank_lines_and_row_numbers(self, tmp_path):
        path = tmp_path / "t.csv"
        path.write_text("Q4 rewards\n\nFirst Name,ZIP\nAnn,02108\n\n,\nBob,2134\n", encoding="utf-8")
        sheet = read_sheet(path)
        assert sheet.header_row == 3
        assert sheet.frame["__row__"].to_list() == [4, 7]
        assert sheet.frame["c1"].to_list() == ["02108", "2134"]    # leading zero kept

    def test_rows_of_spaces_are_blank_and_a_row_starting_with_spaces_is_not(self, tmp_path):
        path = tmp_path / "s.csv"
        path.write_text("First Name,Last Name,ZIP\n  ,\t, \nAnn,Lee,02108\n  ,  ,2134\n , ,\n ,Ray, \n",
                        encoding="utf-8")
        sheet = read_sheet(path)
        assert sheet.frame["__row__"].to_list() == [3, 4, 6]
        assert sheet.frame["c2"].to_list() == ["02108", "2134", " "]

    def test_quoted_line_breaks_stay_in_the_cell(self, tmp_path):
        path = tmp_path / "q.csv"
        path.write_text('First Name,Message\nAnn,"line one\nline two"\nBob,hi\n', encoding="utf-8")
        sheet = read_sheet(path)
        assert sheet.frame["c1"].to_list() == ["line one\nline two", "hi"]
        assert sheet.frame["__row__"].to_list() == [2, 3]


class TestUnreadable:
    def test_missing_file(self, tmp_path):
        with pytest.raises(InputError, match="file not found"):
            read_sheet(tmp_path / "nope.xlsx")

    @pytest.mark.parametrize("name, content, message", [
        ("fake.xlsx", b"hello", "fake.xlsx: not a readable Excel workbook"),
        ("list.pdf", b"%PDF", "unsupported file type '.pdf'"),
        ("e.csv", b"", "the file is empty"),
        ("locked.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "password-protected"),
        ("usd.csv", b"First Name,Email,Amount (USD)\nAnn,ann@example.com,100\n",
         "column 'Amount \\(USD\\)' \\(C\\) looks like Amount"),
    ])
    def test_files_that_cannot_be_read_say_why(self, tmp_path, name, content, message):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(InputError, match=message):
            read_sheet(path)


class TestWorkbookCorners:
    """What calamine alone would get wrong: error cells, merged cells, hidden and instruction sheets."""

    def _book(self, path, build):
        import xlsxwriter
        book = xlsxwriter.Workbook(str(path))
        build(book)
        book.close()
        return path

    def test_excel_error_cells_are_errors_not_empty_cells(self, tmp_path):
        from pipeline.stages.check import check_sheet

        def build(book):
            ws = book.add_worksheet("R")
            ws.write_row(0, 0, ["First Name", "Email", "Amount"])
            ws.write_row(1, 0, ["Ann", "ann@example.com"])
            ws.write_formula(1, 2, "=NA()", None, "#N/A")
            ws.write_row(2, 0, ["Bob", "bob@example.com", 30])
        sheet = read_sheet(self._book(tmp_path / "e.xlsx", build))
        assert sheet.frame["c2"].to_list() == ["#N/A", "30"]
        result = check_sheet(sheet, BOOK, today=TODAY,
                             defaults={"amount": "25", "utid": "U1", "deliveryMethod": "EMAIL"})
        assert result.frame["status"].to_list() == ["INVALID", "VALID"]
        texts = result.issues.filter(result.issues["__idx__"] == 0)["text"].to_list()
        assert texts == ["Amount shows the Excel error #N/A: fix the formula, or type the value, in the sheet."]

    def test_a_value_merged_down_a_column_applies_to_each_row_with_a_warning(self, tmp_path):
        def build(book):
            ws = book.add_worksheet("R")
            ws.write_row(0, 0, ["First Name", "Amount"])
            for r, name in enumerate(["Ann", "Bob", "Cy"], start=1):
                ws.write(r, 0, name)
            ws.merge_range("B2:B4", 100)
        sheet = read_sheet(self._book(tmp_path / "m.xlsx", build))
        assert sheet.frame["c1"].to_list() == ["100", "100", "100"]
        assert [n.row for n in sheet.notes] == [3, 4]
        assert "merged cells B2:B4" in sheet.notes[0].text

    def test_hidden_sheets_are_not_read(self, tmp_path):
        def build(book):
            old = book.add_worksheet("Old")
            old.write_row(0, 0, ["First Name", "Email"])
            old.write_row(1, 0, ["Zed", "zed@example.com"])
            old.hide()
            ws = book.add_worksheet("Current")
            ws.write_row(0, 0, ["First Name", "Email"])
            ws.write_row(1, 0, ["Ann", "ann@example.com"])
            ws.activate()
        assert read_sheet(self._book(tmp_path / "h.xlsx", build)).sheet == "Current"

    def test_the_sheet_with_the_best_header_wins_over_instructions(self, tmp_path):
        def build(book):
            info = book.add_worksheet("Instructions")
            info.write(0, 0, "Email")
            info.write(1, 0, "Fill in the Rewards sheet")
            ws = book.add_worksheet("Rewards")
            ws.write_row(0, 0, ["First Name", "Last Name", "Email", "Amount"])
            ws.write_row(1, 0, ["Ann", "Lee", "ann@example.com", 25])
        assert read_sheet(self._book(tmp_path / "i.xlsx", build)).sheet == "Rewards"



class TestHeaders:
    def test_a_user_column_named_status_is_kept_in_an_ordinary_sheet(self, tmp_path):
        path = tmp_path / "st.csv"
        path.write_text("First Name,Status\nAnn,On leave\n")
        assert read_sheet(path).headers == ("First Name", "Status (from sheet)")


class TestMoreCsv:

    def test_old_mac_line_endings(self, tmp_path):
        path = tmp_path / "cr.csv"
        path.write_bytes(b"First Name,Email\rAnn,a@example.com\rBob,b@example.com\r")
        sheet = read_sheet(path)
        assert sheet.frame["c0"].to_list() == ["Ann", "Bob"] and sheet.frame["__row__"].to_list() == [2, 3]

    def test_separators_inside_quotes_do_not_fool_the_reader(self, tmp_path):
        path = tmp_path / "q.csv"
        path.write_text('First Name,Email,Message\nAnn,a@example.com,"a;b;c;d;e;f;g"\n')
        sheet = read_sheet(path)
        assert sheet.headers == ("First Name", "Email", "Message")


def test_cells_beyond_the_header_are_kept_as_unnamed_columns(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("First Name,Email\nAnn,a@example.com,note A,note B\nBob,b@example.com\n")
    sheet = read_sheet(path)
    assert sheet.headers == ("First Name", "Email", "Column C", "Column D")
    assert sheet.frame.row(0)[:4] == ("Ann", "a@example.com", "note A", "note B")
    assert sheet.frame.row(1)[:4] == ("Bob", "b@example.com", None, None)


class TestNoCellSilentlyEmpty:
    """A formula saved without its result, or a cell typed as a value but holding none, is an error on
    that cell: never empty, never filled by the campaign default. A merely styled cell is empty."""

    def check(self, path):
        from pipeline.stages.check import check_file
        defaults = {"amount": "25", "utid": "U761382", "deliveryMethod": "EMAIL"}
        return check_file(path, BOOK, today=TODAY, defaults=defaults).validated

    def test_a_formula_saved_without_its_result_is_an_error_not_the_default(self, tmp_path):
        import openpyxl
        book = openpyxl.Workbook()
        book.active.append(["First Name", "Email", "Base", "Amount"])
        book.active.append(["Ann", "ann@example.com", 10, "=C2*2"])     # openpyxl saves no result
        book.save(tmp_path / "script.xlsx")
        result = self.check(tmp_path / "script.xlsx")
        assert result.frame["status"].to_list() == ["INVALID"]
        [text] = result.issues.filter(result.issues["severity"] == "error")["text"].to_list()
        assert text == ("Amount: holds the formula =C2*2 but no saved result: open the file in Excel, save it "
                        "and upload it again")

    def test_a_formula_with_its_saved_result_uses_it_with_a_warning(self, tmp_path):
        def build(book):
            ws = book.add_worksheet("R")
            ws.write_row(0, 0, ["First Name", "Email", "Base", "Amount"])
            ws.write_row(1, 0, ["Ann", "ann@example.com", 10])
            ws.write_formula(1, 3, "=C2*2", None, 20)
        result = self.check(TestWorkbookCorners()._book(tmp_path / "saved.xlsx", build))
        assert result.frame["status"].to_list() == ["VALID"] and result.frame["amount"].to_list() == ["20"]
        assert "Amount: the cell holds the formula =C2*2; its saved result '20' was used" in \
            result.issues["text"].to_list()

    def test_a_cell_typed_as_a_value_but_empty_is_an_error_and_a_styled_empty_cell_is_empty(self, tmp_path):
        import re
        import zipfile

        def build(book):
            ws = book.add_worksheet("R")
            ws.write_row(0, 0, ["First Name", "Email", "Amount"])
            ws.write_row(1, 0, ["Ann", "ann@example.com", 30])
            ws.write_row(2, 0, ["Bo", "bo@example.com"])
            ws.write_blank(2, 2, None, book.add_format({"bold": True}))       # styled, empty
        made = TestWorkbookCorners()._book(tmp_path / "made.xlsx", build)
        with zipfile.ZipFile(made) as z:
            files = {n: z.read(n) for n in z.namelist()}
        sheet = "xl/worksheets/sheet1.xml"
        files[sheet] = re.sub(rb'(<c r="C2"[^>]*>)<v>30</v>', rb"\1<v></v>", files[sheet])   # typed, no value
        with zipfile.ZipFile(tmp_path / "typed.xlsx", "w") as out:
            for name, data in files.items():
                out.writestr(name, data)
        result = self.check(tmp_path / "typed.xlsx")
        assert result.frame["status"].to_list() == ["INVALID", "VALID"]
        assert result.frame["amount"].to_list()[1] == "25"                 # the styled cell: the default
        assert any("marked as holding a value but holds none" in t for t in result.issues["text"].to_list())


def test_a_header_ending_in_empty_cells_is_read(tmp_path):
    """Excel writes 'Amount,' (or ';;') when something sat to the right of the table."""
    (tmp_path / "a.csv").write_bytes(b"First Name,Email,Amount,\r\nAnn,ann@example.com,25,\r\n")
    (tmp_path / "b.csv").write_bytes(b"First Name;Email;Amount;;\nAnn;ann@example.com;25;;x\n")
    a, b = read_sheet(tmp_path / "a.csv"), read_sheet(tmp_path / "b.csv")
    assert a.headers == ("First Name", "Email", "Amount") and a.frame.row(0)[:3] == ("Ann", "ann@example.com", "25")
    assert b.headers == ("First Name", "Email", "Amount", "Column E") and b.frame.row(0)[3] == "x"


def test_a_csv_row_is_blank_only_when_every_cell_is_empty_or_spaces(tmp_path):
    # a row is decided column by column: spaces in its first cells do not make it blank when a later cell is filled
    path = tmp_path / "blanks.csv"
    path.write_text("First Name,Last Name,Email\nAnn,Lee,ann@example.com\n,,\n   ,  ,\t\n  ,Ray,bob@example.com\n"
                    ",,carl@example.com\n,,   \n", encoding="utf-8")
    sheet = read_sheet(path)
    assert sheet.frame["__row__"].to_list() == [2, 5, 6]

