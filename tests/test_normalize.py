"""Normalization: what people type becomes what Tango expects, and every change is a warning."""

from __future__ import annotations

import pytest

from tests.helpers import BOOK, base_row, errors, messages, value


@pytest.mark.parametrize("typed", ["(415) 555-2671", "415.555.2671", "1-415-555-2671",
                                   "+1 415 555 2671", "4155552671", "415 555 2671", "+14155552671"])
def test_us_mobile_shapes_become_e164(check, typed):
    result = check([base_row("PHONE", Mobile=typed)])
    assert value(result, "mobileNumber") == "+14155552671"
    assert errors(result) == set()
    changed = [w for w in messages(result, severity="warning") if w.startswith("Mobile:")]
    assert bool(changed) == (typed != "+14155552671")


def test_mobile_number_in_a_numeric_excel_cell(tmp_path):
    from pipeline.stages.ingest import read_sheet
    from pipeline.stages.normalize import normalize
    from tests.helpers import BOOK, write_xlsx
    path = write_xlsx(tmp_path / "n.xlsx", [["First Name", "Mobile", "Delivery"],
                                            ["Ann", 4155552671, "PHONE"]])
    sheet = read_sheet(path, BOOK)
    assert normalize(sheet, BOOK).frame["mobileNumber"][0] == "+14155552671"


def test_a_valid_foreign_number_is_written_in_e164_then_refused_for_sms(check):
    result = check([base_row("PHONE", Mobile="+44 20 7946 0958")])
    assert value(result, "mobileNumber") == "+442079460958"
    assert errors(result) == {"mobileNumber.us"}
    warned = " ".join(messages(result, severity="warning"))
    assert "written in the international format (+country code)" in warned and "+1" not in warned


def test_scientific_notation_is_not_repaired(check):
    result = check([base_row("PHONE", Mobile="4.15555E+09")])
    assert value(result, "mobileNumber") == "4.15555E+09"
    assert errors(result) == {"mobileNumber.scientific"}


@pytest.mark.parametrize("typed, method", [("email", "EMAIL"), ("Sms", "PHONE"), ("MAIL", "ADDRESS"),
                                           ("postal", "ADDRESS"), ("Physical", "ADDRESS"),
                                           ("text", "PHONE"), ("bulk digital", "BULKDIGITAL")])
def test_delivery_method_aliases(check, typed, method):
    result = check([base_row(method, Delivery_Method=typed)])
    assert value(result, "deliveryMethod") == method
    assert errors(result) == set()
    assert any("read as a Tango delivery method" in w for w in messages(result, severity="warning"))


def test_an_unknown_method_is_left_as_typed(check):
    result = check([base_row("EMAIL", Delivery_Method="pigeon")])
    assert value(result, "deliveryMethod") == "pigeon"
    assert messages(result, severity="warning") == []


@pytest.mark.parametrize("typed, number", [("$25", "25"), ("25.00", "25.00"), ("1,000.50", "1000.50"),
                                           ("USD 40", "40"), ("$ 1,250", "1250")])
def test_amounts(check, typed, number):
    result = check([base_row("EMAIL", Amount=typed)])
    assert value(result, "amount") == number
    assert errors(result) == set()


@pytest.mark.parametrize("typed, zipcode, country", [
    ("2108", "02108", "US"), ("501", "00501", "US"), ("02108-1234", "02108", "US"),
    ("021081234", "02108", "US"), ("H2X 1Y4", "H2X1Y4", "CA")])
def test_postal_codes(check, typed, zipcode, country):
    state = "QC" if country == "CA" else "MA"
    result = check([base_row("ADDRESS", ZIP=typed, Country=country, State=state)])
    assert value(result, "postalCode") == zipcode
    assert errors(result) == set()
    assert any(w.startswith("ZIP:") for w in messages(result, severity="warning"))


@pytest.mark.parametrize("typed, code", [("USA", "US"), ("United States", "US"), ("U.S.", "US"),
                                         ("U.S.A.", "US"), ("canada", "CA"), ("us", "US")])
def test_country_names(check, typed, code):
    result = check([base_row("ADDRESS", Country=typed, State="QC" if code == "CA" else "MA",
                             ZIP="H2X1Y4" if code == "CA" else "02108")])
    assert value(result, "country") == code
    assert errors(result) == set()


def test_state_code_is_upper_cased(check):
    result = check([base_row("ADDRESS", State="ma")])
    assert value(result, "stateOrProvince") == "MA"
    assert "State: written as its 2-letter code ('ma' became 'MA')." in messages(result, severity="warning")


@pytest.mark.parametrize(("typed", "code"), [("Massachusetts", "MA"), ("new  york", "NY"),
                                             ("District of Columbia", "DC"), ("Québec", "QC"),
                                             ("british columbia", "BC")])
def test_state_and_province_names_become_their_codes(check, typed, code):
    country = "CA" if code in ("QC", "BC") else "US"
    result = check([base_row("ADDRESS", State=typed, Country=country)])
    assert value(result, "stateOrProvince") == code
    assert "stateOrProvince.state" not in errors(result) and not errors(result)
    written = " ".join(typed.split())          # the spaces are cleaned first, with a warning of their own
    assert f"State: written as its 2-letter code ('{written}' became '{code}')." in messages(result, severity="warning")


def test_day_first_dates_for_a_campaign_that_writes_them(check):
    dmy = BOOK.dating("DMY")
    result = check([base_row("EMAIL", Delivery_Date="24/12/2026")], book=dmy)
    assert value(result, "deliveryDate") == "2026-12-24"
    assert any("read as day/month/year" in w for w in messages(result, severity="warning"))
    us = check([base_row("EMAIL", Delivery_Date="24/12/2026")])      # month 24: not a date, refused
    assert value(us, "deliveryDate") == "24/12/2026" and errors(us)


def test_whitespace_is_trimmed_and_collapsed_with_a_warning(check):
    result = check([base_row("EMAIL", First_Name="  Ann   Marie ")])
    assert value(result, "firstName") == "Ann Marie"
    assert "First Name: extra spaces removed ('  Ann   Marie ' became 'Ann Marie')." in \
        messages(result, severity="warning")


def test_a_gift_message_keeps_its_line_breaks(check):
    result = check([base_row("EMAIL", Message="Dear Ann,\n  thank you!  ")])
    assert value(result, "message") == "Dear Ann,\nthank you!"


def test_us_dates_become_iso_with_a_warning(check):
    result = check([base_row("EMAIL", Delivery_Date="12/24/2026")])
    assert value(result, "deliveryDate") == "2026-12-24"
    assert any("read as month/day/year" in w for w in messages(result, severity="warning"))


def test_shipping_method_as_people_write_it(check):
    result = check([base_row("ADDRESS", Shipping_Method="USPS 1st Class")])
    assert value(result, "shippingMethod") == "usps1stclass"


class TestDefaults:
    def test_defaults_fill_empty_cells_only(self, check):
        rows = [base_row("EMAIL", UTID="", Amount=""), base_row("EMAIL", Email="b@example.com",
                                                                 UTID="U999", Amount="50")]
        result = check(rows, defaults={"utid": "U761382", "amount": "25"})
        assert result.frame["utid"].to_list() == ["U761382", "U999"]
        assert result.frame["amount"].to_list() == ["25", "50"]

    def test_a_default_is_not_reported_as_a_change(self, check):
        row = base_row("EMAIL")
        del row["Delivery Method"]
        result = check([row], defaults={"deliveryMethod": "EMAIL"})
        assert messages(result, severity="warning") == []
        assert errors(result) == set()

    def test_a_default_for_a_column_the_sheet_lacks(self, check):
        row = base_row("EMAIL")
        del row["UTID"]
        assert errors(check([row], defaults={"utid": "U1"})) == set()
        assert errors(check([row])) == {"utid.required"}


TRICKY_SPACES = ["Ann", " Ann", "Ann ", "A  nn", "A\tnn", "A\u00a0nn", "A\u2003nn", "l1\r\nl2", "l1\rl2", "l1 \n l2",
                 "l1\n\nl2", "l1\nl2", " ", "\t", "a \u200b b", "\u200bAnn", "x\u2066y", "Ann\n"]


@pytest.mark.parametrize("typed", TRICKY_SPACES)
def test_only_columns_with_spaces_to_clean_are_cleaned_and_none_is_missed(tmp_path, typed):
    """normalize looks for spaces to clean once per column (MESSY): each value comes out as cleaning
    every cell would have left it, and a warning says so exactly when it changed."""
    import polars as pl

    from pipeline.stages.ingest import read_sheet
    from pipeline.stages.normalize import INVISIBLE_RE, _clean_space, normalize
    from tests.helpers import write_xlsx
    path = write_xlsx(tmp_path / "s.xlsx", [["First Name", "Message", "Email"], [typed, typed, "a@example.com"],
                                            ["Bob", "Hi", "b@example.com"]])
    result = normalize(read_sheet(path, BOOK), BOOK)
    for field, breaks in (("firstName", False), ("message", True)):
        visible = typed if field == "message" else pl.Series([typed]).str.replace_all(INVISIBLE_RE, "")[0]
        expected = pl.select(_clean_space(pl.lit(visible), breaks)).item()
        assert result.frame[field][0] == expected, field
        warned = result.warnings.filter((pl.col("field") == field) & (pl.col("rule") == "whitespace")).height
        assert warned == (expected is not None and expected != visible), field


def test_steps_collected_a_few_rows_at_a_time_give_the_same_values_and_warnings(tmp_path, monkeypatch):
    # a million rows are staged 250,000 at a time; here 3 at a time, over rows that warn on several fields
    import pipeline.stages.staging as staging
    from pipeline.stages.ingest import read_sheet
    from pipeline.stages.normalize import normalize
    from tests.helpers import write_csv
    rows = [base_row("PHONE", First_Name=f" P{i} ", Mobile="(415) 555-2671" if i % 2 else "+14155552671")
            for i in range(5)] + [base_row("ADDRESS", First_Name="Q", Country="usa", ZIP="2134"),
                                  base_row("EMAIL", Amount="$1,000", Email=" a@example.com")]
    sheet = read_sheet(write_csv(tmp_path / "n.csv", rows), BOOK)
    whole = normalize(sheet, BOOK)
    monkeypatch.setattr(staging, "STAGED_ROWS", 3)
    pieces = normalize(sheet, BOOK)
    assert pieces.frame.equals(whole.frame) and pieces.frame.n_chunks() == 1
    assert pieces.warnings.equals(whole.warnings)
    assert set(whole.warnings["field"]) >= {"firstName", "mobileNumber", "country", "amount"}
