"""Line-item IDs, payloads and batches: deterministic, so reruns replay instead of reorder."""

from __future__ import annotations

import re

from pipeline.config import Campaign
from pipeline.stages.plan import line_items, order_fields, plan_batches
from tests.helpers import BOOK, base_row

CAMPAIGN = Campaign("acme-corp", "acme-rewards", campaign="Q4", sender={"firstName": "Acme"}, path="c")


def items_of(check, rows, campaign=CAMPAIGN, book=BOOK):
    return line_items(check(rows, book=book).frame, campaign, book)


def test_the_same_row_gets_the_same_id_wherever_it_stands(check):
    a = items_of(check, [base_row("EMAIL"), base_row("PHONE")])
    b = items_of(check, [base_row("PHONE"), base_row("BULKDIGITAL"), base_row("EMAIL")])
    assert a[0].id == b[2].id and a[1].id == b[0].id
    assert re.fullmatch(r"L[0-9a-f]{32}", a[0].id)


def test_a_corrected_row_gets_a_new_id(check):
    before = items_of(check, [base_row("EMAIL", Email="ann@example.con")])[0]
    after = items_of(check, [base_row("EMAIL", Email="ann@example.com")])[0]
    assert before.id != after.id


def test_the_campaign_is_part_of_the_id(check):
    other = Campaign("acme-corp", "acme-rewards", campaign="Q1", path="c")
    assert items_of(check, [base_row("EMAIL")])[0].id != items_of(check, [base_row("EMAIL")], other)[0].id


def test_a_reference_cell_is_the_id(check):
    assert items_of(check, [base_row("EMAIL", Reference="HR-2026-0001")])[0].id == "HR-2026-0001"


def test_the_occurrence_among_identical_rows_is_part_of_the_id(check):
    from pipeline.stages.plan import line_item_ids
    frame = check([base_row("BULKDIGITAL"), base_row("BULKDIGITAL"), base_row("BULKDIGITAL")]).frame
    ids = line_item_ids(frame, CAMPAIGN).to_list()
    assert len(set(ids)) == 3                       # only the first is valid: the others must get References
    assert ids == line_item_ids(frame, CAMPAIGN).to_list()


def test_invalid_rows_are_not_planned(check):
    items = items_of(check, [base_row("EMAIL"), base_row("PHONE", Mobile="1")])
    assert [i.row for i in items] == [2]


class TestPayload:
    def test_email(self, check):
        item = items_of(check, [base_row("EMAIL", Amount="$1,000.50", Message="Thanks")])[0]
        assert item.payload == {
            "externalRefLineItemID": item.id, "utid": "U761382", "amount": 1000.5, "quantity": 1,
            "deliveryMethod": "EMAIL", "message": "Thanks",
            "recipient": {"firstName": "Ann", "lastName": "Lee", "email": "ann.lee@example.com"}}

    def test_a_digital_row_sends_no_address(self, check):
        item = items_of(check, [base_row("PHONE", Street="1 Main St", City="Boston", Shipping_Method="upsground")])[0]
        assert item.payload["recipient"] == {"firstName": "Ann", "lastName": "Lee", "mobileNumber": "+14155552671"}
        assert "shippingMethod" not in item.payload

    def test_address(self, check):
        item = items_of(check, [base_row("ADDRESS", ZIP="2108", Country="USA")])[0]
        assert item.payload["recipient"]["address"] == {
            "streetLine1": "12 Beacon St", "city": "Boston", "stateOrProvince": "MA", "postalCode": "02108",
            "country": "US"}
        assert item.payload["shippingMethod"] == "usps1stclass"

    def test_bulk_shipment_sends_a_shipping_contact_and_no_recipient(self, check):
        item = items_of(check, [base_row("BULKSHIPMENT", Company="Acme", Mobile="617-555-0100")])[0]
        assert "recipient" not in item.payload
        assert item.payload["quantity"] == 40
        assert item.payload["shipping"] == {
            "companyName": "Acme", "contactName": "Ann Lee", "contactPhoneNumber": "+16175550100",
            "address": {"streetLine1": "12 Beacon St", "city": "Boston", "stateOrProvince": "MA",
                        "postalCode": "02108", "country": "US"}}

    def test_bulk_shipment_in_the_references_spelling(self, check):
        """bulk_shipping = "reference": the reference's bulkShipping, first and last name apart."""
        book = BOOK.sending("reference")
        item = items_of(check, [base_row("BULKSHIPMENT", Company="Acme", Mobile="617-555-0100")], book=book)[0]
        assert "shipping" not in item.payload and "recipient" not in item.payload
        assert item.payload["bulkShipping"] == {
            "companyName": "Acme", "contactFirstName": "Ann", "contactLastName": "Lee",
            "contactMobileNumber": "+16175550100",
            "address": {"streetLine1": "12 Beacon St", "city": "Boston", "stateOrProvince": "MA",
                        "postalCode": "02108", "country": "US"}}

    def test_bulk_digital_sends_neither(self, check):
        item = items_of(check, [base_row("BULKDIGITAL")])[0]
        assert "recipient" not in item.payload and "shipping" not in item.payload
        assert item.value == 25 * 25


class TestBatches:
    def test_batches_are_capped_deterministic_and_keyed_by_members(self, check):
        rows = [base_row("EMAIL", Email=f"p{i}@example.com") for i in range(7)]
        items = items_of(check, rows)
        order = order_fields(CAMPAIGN)
        batches = plan_batches(items, order, 3)
        assert [len(b.members) for b in batches] == [3, 3, 1]
        assert [b.ref for b in batches] == [b.ref for b in plan_batches(list(reversed(items)), order, 3)]
        assert all(re.fullmatch(r"B[0-9a-f]{40}", b.ref) for b in batches)
        assert len({b.ref for b in batches}) == 3

    def test_a_new_generation_is_a_new_id(self, check):
        items = items_of(check, [base_row("EMAIL")])
        order = order_fields(CAMPAIGN)
        first = plan_batches(items, order, 100)[0]
        second = plan_batches(items, order, 100, generation_of=lambda key: 1)[0]
        assert first.member_key == second.member_key and first.ref != second.ref

    def test_order_fields_and_payload(self, check):
        items = items_of(check, [base_row("EMAIL")])
        batch = plan_batches(items, order_fields(CAMPAIGN), 100)[0]
        assert batch.payload == {"externalRefID": batch.ref, "customerIdentifier": "acme-corp",
                                 "accountIdentifier": "acme-rewards", "sender": {"firstName": "Acme"},
                                 "campaign": "Q4", "lineItems": [items[0].payload]}


def test_line_item_ids_are_the_ones_earlier_versions_recorded(check):
    """Ledgers hold IDs made by earlier versions: a row must get the very ID it got then, or it would
    be ordered a second time. These were made by the version of 2026-12-02 (before IDs were hashed
    from polars' bytes); twins, a Reference, accents, a case-changed e-mail and 25.00 among them."""
    from pipeline.stages.plan import line_item_ids
    rows = [base_row("EMAIL"), base_row("EMAIL"), base_row("PHONE", Amount="25.50"),
            base_row("ADDRESS", First_Name="José", Last_Name="Ñúñez"), base_row("BULKDIGITAL"),
            base_row("EMAIL", Reference="HR-7"), base_row("EMAIL", Email="ANN.LEE@example.com", Amount="25.00")]
    ids = line_item_ids(check(rows).frame, Campaign("acme-corp", "acme-rewards", campaign="Q4", path="c.toml"))
    assert ids.to_list() == [
        "L93c4d3d8ccc5e0ab87090e96c1cedf44", "L1e4a12bdd4c2ea8669ad678335d7dc57", "La9341baa5c8623207e1e4d215907aa82",
        "Lcb16bf6f002662c749a7aa8e9b351d5c", "L82ceb418fa446a361e6c62361885794d", "HR-7",
        "L5e105d507f441bd506dcc7fd67cbb1ee"]
