"""Every rule of rules/data/tango.toml, pinned with a value that passes and one that fails."""

from __future__ import annotations

import pandera.errors
import pytest

import rules
from rules.schema import build_schema, failures
from tests.helpers import TODAY, base_row, errors, messages

L26 = "A" * 26
L101 = "A" * 101

# (rule id, delivery method, cells that pass, cells that fail)
CASES = [
    ("deliveryMethod.required", "EMAIL", {}, {"Delivery Method": ""}),
    ("deliveryMethod.one_of", "EMAIL", {"Delivery Method": "e-mail"}, {"Delivery Method": "FAX"}),
    ("utid.required", "EMAIL", {}, {"UTID": ""}),
    ("utid.pattern", "EMAIL", {"UTID": "u123"}, {"UTID": "761382"}),
    ("amount.required", "EMAIL", {}, {"Amount": ""}),
    ("amount.number", "EMAIL", {"Amount": "1,000.50"}, {"Amount": "25.005"}),
    ("amount.number", "EMAIL", {"Amount": "$25"}, {"Amount": "0"}),
    ("amount.number", "EMAIL", {"Amount": "0.01"}, {"Amount": "twenty"}),
    ("amount.number", "EMAIL", {"Amount": "25.50"}, {"Amount": "-5"}),
    ("amount.row_total", "EMAIL", {"Amount": "5000"}, {"Amount": "5000.01"}),
    ("amount.row_total", "BULKDIGITAL", {"Qty": "200", "Amount": "25"}, {"Qty": "201", "Amount": "25"}),
    ("quantity.whole_number", "BULKDIGITAL", {"Qty": "3"}, {"Qty": "2.5"}),
    ("quantity.whole_number", "BULKDIGITAL", {"Qty": "1"}, {"Qty": "0"}),
    ("quantity.bulk_only", "EMAIL", {"Qty": "1"}, {"Qty": "2"}),
    ("quantity.bulk_only", "ADDRESS", {"Qty": ""}, {"Qty": "5"}),
    ("firstName.required", "EMAIL", {}, {"First Name": ""}),
    ("firstName.required", "NONE", {}, {"First Name": ""}),
    ("firstName.required", "EMBEDDED", {}, {"First Name": "  "}),
    ("lastName.required", "ADDRESS", {}, {"Last Name": ""}),
    ("firstName.digital.length", "EMAIL", {"First Name": "A" * 100}, {"First Name": L101}),
    ("lastName.digital.length", "PHONE", {"Last Name": "B" * 100}, {"Last Name": L101}),
    ("firstName.digital.chars", "EMAIL", {"First Name": "José"}, {"First Name": "<b>Ann</b>"}),
    ("text.formula_start", "EMAIL", {"First Name": "Anne-Marie"}, {"First Name": "=1+1"}),
    ("text.formula_start", "EMAIL", {"Last Name": "O'Neil"}, {"Last Name": "@SUM(A1)"}),
    ("text.formula_start", "EMAIL", {"Message": "Thanks - team"}, {"Message": "-2+3"}),
    ("text.formula_start", "ADDRESS", {"Company": "Acme+Co"}, {"Company": "+cmd|' /C calc'!A0"}),
    ("text.formula_start", "EMAIL", {"First Name": "Ann"}, {"First Name": "\x01Ann"}),
    ("lastName.digital.chars", "EMBEDDED", {"Last Name": "O'Neil-Smith"}, {"Last Name": "Lee/Kim"}),
    ("firstName.physical.length", "ADDRESS", {"First Name": "A" * 25}, {"First Name": L26}),
    ("lastName.physical.length", "ADDRESS", {"Last Name": "B" * 25}, {"Last Name": L26}),
    ("firstName.physical.chars", "ADDRESS", {"First Name": "Ann-Marie & Jo."}, {"First Name": "José"}),
    ("lastName.physical.chars", "ADDRESS", {"Last Name": "St. Clair, Jr"}, {"Last Name": "O'Neil"}),
    ("shipping.contactName.length", "BULKSHIPMENT", {"First Name": "A" * 24, "Last Name": "B" * 25},
     {"First Name": "A" * 25, "Last Name": "B" * 25}),
    ("email.required", "EMAIL", {}, {"Email": ""}),
    ("email.required", "EMBEDDED", {}, {"Email": ""}),
    ("email.format", "EMAIL", {"Email": "a.b+c@mail.example.co.uk"}, {"Email": "ann@@example.com"}),
    ("email.format", "PHONE", {"Email": "ann@example.com"}, {"Email": "ann example.com"}),
    ("mobileNumber.required", "PHONE", {}, {"Mobile": ""}),
    ("mobileNumber.scientific", "PHONE", {"Mobile": "4155552671"}, {"Mobile": "4.15555E+09"}),
    ("mobileNumber.us", "PHONE", {"Mobile": "(415) 555-2671"}, {"Mobile": "12345"}),
    ("mobileNumber.e164", "EMAIL", {"Mobile": "+44 20 7946 0958"}, {"Mobile": "555"}),
    ("mobileNumber.us", "PHONE", {"Mobile": "1-415-555-2671"}, {"Mobile": "+44 20 7946 0958"}),
    ("mobileNumber.us", "PHONE", {"Mobile": "+1 212 555 0147"}, {"Mobile": "+1 012 555 0147"}),
    ("shipping.contactPhoneNumber.format", "BULKSHIPMENT", {"Mobile": "+44 20 7946 0958"},
     {"Mobile": "555"}),
    ("bulkdigital.no_recipient", "BULKDIGITAL", {}, {"First Name": "Ann"}),
    ("bulkdigital.no_recipient", "BULKDIGITAL", {}, {"Email": "ann@example.com"}),
    ("bulkdigital.no_recipient", "BULKDIGITAL", {}, {"Mobile": "4155552671"}),
    ("bulkdigital.no_recipient", "BULKDIGITAL", {}, {"Company": "Acme"}),
    ("bulkdigital.no_recipient", "BULKDIGITAL", {}, {"City": "Boston"}),
    ("address.required", "ADDRESS", {}, {"Street": ""}),
    ("address.required", "ADDRESS", {}, {"City": ""}),
    ("address.required", "ADDRESS", {}, {"State": ""}),
    ("address.required", "ADDRESS", {}, {"ZIP": ""}),
    ("address.required", "ADDRESS", {}, {"Country": ""}),
    ("address.required", "BULKSHIPMENT", {}, {"Street": ""}),
    ("street.length", "ADDRESS", {"Street": "A" * 35}, {"Street": "A" * 36}),
    ("street.length", "BULKSHIPMENT", {"Address 2": "B" * 35}, {"Address 2": "B" * 36}),
    ("street.chars", "ADDRESS", {"Street": "12-B St. #4, c/o Co&Co @50% O'Hare"},
     {"Street": "12 Main St; Apt 4"}),
    ("city.recipient.length", "ADDRESS", {"City": "C" * 30}, {"City": "C" * 31}),
    ("city.shipping.length", "BULKSHIPMENT", {"City": "C" * 35}, {"City": "C" * 36}),
    ("city.chars", "ADDRESS", {"City": "Coeur d'Alene"}, {"City": "Montréal"}),
    ("stateOrProvince.region", "ADDRESS", {"State": "dc"}, {"State": "ZZ"}),
    ("stateOrProvince.region", "ADDRESS", {"State": "AE"}, {"State": "Mass."}),    # a name is read as its code
    ("stateOrProvince.region", "ADDRESS", {"State": "QC", "Country": "CA", "ZIP": "H2X 1Y4"},
     {"State": "NY", "Country": "CA", "ZIP": "H2X 1Y4"}),
    ("stateOrProvince.region", "ADDRESS", {"State": "Bavaria", "Country": "DE", "ZIP": "80331"},
     {"State": "R" * 36, "Country": "DE", "ZIP": "80331"}),
    ("postalCode.format", "ADDRESS", {"ZIP": "02108-1234"}, {"ZIP": "2108A"}),
    ("postalCode.format", "ADDRESS", {"ZIP": "2108"}, {"ZIP": "123456"}),
    ("postalCode.format", "ADDRESS", {"ZIP": "SW1A 1AA", "Country": "GB", "State": "London"},
     {"ZIP": "SW1", "Country": "GB", "State": "London"}),
    ("country.code", "ADDRESS", {"Country": "United States"}, {"Country": "XX"}),
    ("shippingMethod.required", "ADDRESS", {}, {"Shipping Method": ""}),
    ("shippingMethod.required", "BULKSHIPMENT", {}, {"Shipping Method": ""}),
    ("shippingMethod.one_of", "ADDRESS", {"Shipping Method": "UPS Ground"},
     {"Shipping Method": "fedex"}),
    ("deliveryDate.future", "EMAIL", {"Delivery Date": "2026-06-08"}, {"Delivery Date": "2026-06-07"}),
    ("deliveryDate.future", "EMAIL", {"Delivery Date": "12/24/2026"}, {"Delivery Date": "soon"}),
    ("expirationDate.format", "EMAIL", {"Expiration Date": "2027-06-30T23:59:00Z"},
     {"Expiration Date": "2027-02-30"}),
    ("expirationDate.format", "EMAIL", {"Expiration Date": "2027-06-30"},
     {"Expiration Date": "next year"}),
    ("expirationDate.format", "EMAIL", {"Expiration Date": "2027-06-30 23:59"},
     {"Expiration Date": "2027-06-30T25:99"}),
    ("expirationDate.format", "EMAIL", {"Expiration Date": "6/30/2027"}, {"Expiration Date": "3/5/27"}),
    ("etid.pattern", "EMAIL", {"ETID": "E000000"}, {"ETID": "E123"}),
    ("ptid.pattern", "EMAIL", {"PTID": "p12345"}, {"PTID": "T12345"}),
    ("message.length", "EMAIL", {"Message": "M" * 1024}, {"Message": "M" * 1025}),
    ("emailSubject.length", "EMAIL", {"Email Subject": "S" * 150}, {"Email Subject": "S" * 151}),
    ("lineItemNote.length", "EMAIL", {"Note": "N" * 150}, {"Note": "N" * 151}),
    ("externalRefLineItemID.length", "EMAIL", {"Reference": "R" * 100}, {"Reference": "R" * 101}),
]


@pytest.mark.parametrize("method", ["EMAIL", "PHONE", "EMBEDDED", "NONE", "ADDRESS", "BULKDIGITAL",
                                    "BULKSHIPMENT"])
def test_a_complete_row_of_each_method_is_valid(check, method):
    result = check([base_row(method)])
    assert errors(result) == set()
    assert result.frame["status"].to_list() == ["VALID"]


@pytest.mark.parametrize("rule_id, method, good, bad", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_rule(check, rule_id, method, good, bad):
    # distinct references keep the pair from being duplicates of each other
    result = check([base_row(method, **{"Reference": "row-a", **good}),
                    base_row(method, **{"Reference": "row-b", **bad})])
    assert errors(result, 0) == set(), messages(result, 0)
    assert errors(result, 1) == {rule_id}, messages(result, 1)
    assert result.frame["status"].to_list() == ["VALID", "INVALID"]


# the rules of the reference's spelling of bulk shipping (campaign setting bulk_shipping = "reference")
REFERENCE_CASES = [
    ("bulkShipping.contactFirstName.required", "BULKSHIPMENT", {}, {"First Name": ""}),
    ("bulkShipping.contactLastName.required", "BULKSHIPMENT", {}, {"Last Name": ""}),
]


@pytest.mark.parametrize("rule_id, method, good, bad", REFERENCE_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(REFERENCE_CASES)])
def test_rule_of_the_reference_spelling(check, rule_id, method, good, bad):
    book = rules.load().sending("reference")
    result = check([base_row(method, **{"Reference": "row-a", **good}),
                    base_row(method, **{"Reference": "row-b", **bad})], book=book)
    assert errors(result, 0) == set(), messages(result, 0)
    assert errors(result, 1) == {rule_id}, messages(result, 1)
    assert 'bulk_shipping = "reference"' in messages(result, 1)[0]


def test_each_spelling_has_only_its_own_contact_rules(check):
    """Seed 004 joins the names into a 50-character contactName; the reference needs both names."""
    long_names = base_row("BULKSHIPMENT", First_Name="A" * 30, Last_Name="B" * 30)
    no_last = base_row("BULKSHIPMENT", Last_Name="", Reference="x")
    seed = check([long_names, no_last])
    reference = check([long_names, no_last], book=rules.load().sending("reference"))
    assert errors(seed, 0) == {"shipping.contactName.length"} and errors(seed, 1) == set()
    assert errors(reference, 0) == set() and errors(reference, 1) == {"bulkShipping.contactLastName.required"}


def test_every_rule_in_the_rule_data_is_pinned_by_a_case():
    pinned = {c[0] for c in CASES + REFERENCE_CASES}
    assert {r.id for r in rules.load().rules} - pinned == set()


@pytest.mark.parametrize("spelling", [None, "reference"])
def test_the_one_pass_of_the_rules_answers_as_the_pandera_schema_does(check, spelling):
    """validate evaluates the rules in one pass (rules.schema.failures): on every case's rows, each
    rule failing at least once, it finds what pandera's lazy validation finds, in the same order."""
    book = rules.load().sending(spelling)
    rows = [base_row(method, **cells) for _, method, good, bad in CASES + REFERENCE_CASES for cells in (good, bad)]
    frame = check(rows, book=book).frame.select(book.fields)
    with pytest.raises(pandera.errors.SchemaErrors) as caught:
        build_schema(book, TODAY).validate(frame, lazy=True)
    expected = caught.value.failure_cases.select("index", "column", "check")
    found = failures(frame, book, TODAY)
    assert found.rows() == expected.rows()
    assert set(found["check"]) == {r.id for r in book.rules if r.form in (None, book.shipping_form)}


def test_a_book_without_rules_finds_no_failure(check):
    import dataclasses
    book = dataclasses.replace(rules.load(), rules=())
    frame = check([base_row("EMAIL", Email="not an e-mail")]).frame.select(book.fields)
    assert failures(frame, book, TODAY).rows() == [] and failures(frame.clear(), book, TODAY).height == 0


def test_rules_carry_the_seed_sentence_they_come_from():
    assert all(r.seed for r in rules.load().rules)


def test_every_failure_of_a_row_is_collected(check):
    row = base_row("ADDRESS", First_Name="José", City="", Shipping_Method="fedex", Amount="1.234")
    assert errors(check([row])) == {"firstName.physical.chars", "address.required",
                                    "shippingMethod.one_of", "amount.number"}


def test_digital_row_with_an_address_is_valid_with_a_warning(check):
    result = check([base_row("EMAIL", Street="12 Beacon St", City="Boston")])
    assert errors(result) == set()
    warnings = messages(result, severity="warning")
    assert any("Street '12 Beacon St' is left out of the order" in w for w in warnings)


def test_bulkshipment_contact_does_not_need_a_recipient_name(check):
    result = check([base_row("BULKSHIPMENT", First_Name="", Last_Name="")])
    assert errors(result) == set()


class TestDuplicates:
    def test_the_later_identical_row_is_a_duplicate_of_the_first(self, check):
        row = base_row("EMAIL")
        result = check([row, base_row("PHONE"), dict(row)])
        assert errors(result, 2) == {"row.duplicate"}
        assert "Duplicate of row 2" in messages(result, 2)[0]
        assert errors(result, 0) == set()

    def test_identity_is_case_insensitive(self, check):
        result = check([base_row("EMAIL"), base_row("EMAIL", Email="Ann.Lee@Example.com")])
        assert errors(result, 1) == {"row.duplicate"}

    def test_different_references_make_both_rows_wanted(self, check):
        result = check([base_row("EMAIL", Reference="bonus-1"), base_row("EMAIL", Reference="bonus-2")])
        assert errors(result, 1) == set()

    def test_a_different_amount_is_another_reward(self, check):
        result = check([base_row("EMAIL"), base_row("EMAIL", Amount="50")])
        assert errors(result, 1) == set()

    def test_the_same_amount_written_differently_is_the_same_reward(self, check):
        result = check([base_row("EMAIL", Amount="25"), base_row("EMAIL", Amount="$25.00")])
        assert errors(result, 1) == {"row.duplicate"}

    def test_a_reference_used_twice_for_different_rewards_is_an_error(self, check):
        result = check([base_row("EMAIL", Reference="r1"), base_row("EMAIL", Reference="r1", Amount="50")])
        assert errors(result, 1) == {"externalRefLineItemID.unique"}

    def test_identical_bulk_digital_lines_need_references_to_tell_them_apart(self, check):
        result = check([base_row("BULKDIGITAL"), base_row("BULKDIGITAL")])
        assert errors(result, 1) == {"row.same_as"}
        assert "give each row its own Reference" in messages(result, 1)[0]
        told_apart = check([base_row("BULKDIGITAL", Reference="booth-1"),
                            base_row("BULKDIGITAL", Reference="booth-2")])
        assert errors(told_apart, 1) == set()


class TestMessages:
    """Messages for HR: the field as the sheet names it, the value, the rule, and the fix."""

    def test_mobile_message_names_the_value_and_an_example(self, check):
        result = check([base_row("PHONE", Mobile="12345")])
        assert messages(result)[0].startswith(
            "Mobile must be a US mobile number such as +1 415 555 2671; got '12345'")

    def test_a_foreign_mobile_number_says_which_country(self, check):
        result = check([base_row("PHONE", Mobile="+44 20 7946 0958")])
        assert "United Kingdom" in messages(result)[0]

    def test_physical_name_suggests_the_unaccented_spelling(self, check):
        result = check([base_row("ADDRESS", First_Name="José")])
        assert "Write 'Jose' instead." in messages(result)[0]
        assert "'é'" in messages(result)[0]

    def test_scientific_notation_says_digits_were_lost(self, check):
        result = check([base_row("PHONE", Mobile="4.15555E+09")])
        assert "scientific notation" in messages(result)[0]
        assert "Text" in messages(result)[0]

    def test_the_users_header_names_the_field(self, check):
        row = base_row("EMAIL")
        row["E-mail Address"] = row.pop("Email")
        row["E-mail Address"] = "nope"
        assert messages(check([row]))[0].startswith("E-mail Address must be an email address")

    def test_delivery_date_message_gives_the_first_allowed_day(self, check):
        result = check([base_row("EMAIL", Delivery_Date="2026-06-03")])
        assert "2026-06-08 or later" in messages(result)[0]

    def test_a_required_field_without_a_column_says_so(self, check):
        row = base_row("EMAIL")
        row["Mail To"] = row.pop("Email")
        message = messages(check([row]))[0]
        assert message.startswith("Email is required for EMAIL delivery, and the sheet has no Email column")

    def test_lengths_are_counted_on_the_value_checked(self, check):
        result = check([base_row("EMAIL", Message="M" * 1020 + "\r\n" + "M" * 4)])
        assert errors(result) == {"message.length"} and "(1025 characters)" in messages(result)[0]

    def test_required_message_names_the_delivery_method(self, check):
        result = check([base_row("PHONE", Mobile="")])
        assert messages(result)[0].startswith("Mobile is required for PHONE delivery")

    def test_us_zip_message(self, check):
        result = check([base_row("ADDRESS", ZIP="021")])
        # 3 digits get their zeros back: 00021 is a 5-digit ZIP, so this one passes
        assert errors(result) == set()
        result = check([base_row("ADDRESS", ZIP="02108-12")])
        assert "5-digit US ZIP code" in messages(result)[0]


def test_an_amount_no_person_would_approve_is_invalid(check, tmp_path):
    """1e308 from a numeric Excel cell arrives as 309 digits; 6,000 is over the default 5,000 per row."""
    from decimal import Decimal

    from pipeline.stages.check import check_file
    from tests.helpers import BOOK, TODAY, write_xlsx
    grid = [["First Name", "Email", "Amount", "Delivery Method", "UTID"],
            ["Ann", "ann@example.com", 1e308, "EMAIL", "U761382"],
            ["Bo", "bo@example.com", 4999.99, "EMAIL", "U761382"]]
    result = check_file(write_xlsx(tmp_path / "big.xlsx", grid), BOOK, today=TODAY).validated
    assert result.frame["status"].to_list() == ["INVALID", "VALID"]
    assert "a number of 309 digits" in messages(result, 0)[0] and "$5,000.00" in messages(result, 0)[0]
    bulk = check([base_row("BULKDIGITAL", Qty="250", Amount="25")])            # 250 x 25 = 6,250
    assert errors(bulk) == {"amount.row_total"}
    allowed = check([base_row("BULKDIGITAL", Qty="250", Amount="25")], book=BOOK.capped(Decimal(10000)))
    assert errors(allowed) == set()
