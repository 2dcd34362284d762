"""The recipient guard, rule by rule: who counts as the same recipient, which earlier rewards count."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pipeline.ledger import OrderedTo
from pipeline.model import Status, recipient_of
from pipeline.stages.guard import hold_repeats
from pipeline.stages.plan import LineItem

NOW = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
LABELS = {"lastName": "Last Name", "amount": "Amount"}


def item(recipient: str | None = "email:ann@example.com", *, utid: str = "U1", referenced: bool = False,
         last: str = "Smith", amount: str = "5") -> LineItem:
    return LineItem("Lnew", 0, 2, Decimal(amount), 1, "EMAIL", {"utid": utid}, recipient, referenced,
                    {"lastName": last, "amount": amount})


def earlier(*, utid: str = "u1", campaign: str | None = "Q4", days_ago: int = 1, line: str = "Lold") -> OrderedTo:
    when = (NOW - dt.timedelta(days=days_ago)).isoformat()
    return OrderedTo(line, "email:ann@example.com", Status.COMPLETE, utid, campaign,
                     {"lastName": "Smtih", "amount": "50"}, "B1", 3, when, "v1.csv", None, 2)


def test_the_same_recipient_reward_and_campaign_is_held_whatever_the_amount():
    keep, held = hold_repeats([item()], [earlier()], "Q4", "campaign", LABELS, NOW)
    assert keep == [] and held[0].status == Status.HELD
    assert "Last Name was 'Smtih', now 'Smith'; Amount was '50', now '5'" in held[0].text


@pytest.mark.parametrize("case", [
    dict(items=[item(referenced=True)]),                       # a Reference: a second reward on purpose
    dict(items=[item(recipient=None)]),                         # a bulk line: no recipient
    dict(items=[item(utid="U2")]),                              # another reward
    dict(campaign="Q1"),                                        # another campaign
    dict(campaign=None),                                        # no campaign is a campaign of its own
    dict(window="off"),
    dict(window=7, days_ago=30),                                # outside a window of days
    dict(line="Lnew"),                                          # the same line item: a DUPLICATE, not HELD
])
def test_what_is_not_held(case):
    items = case.get("items", [item()])
    history = [earlier(days_ago=case.get("days_ago", 1), line=case.get("line", "Lold"))]
    keep, held = hold_repeats(items, history, case.get("campaign", "Q4"), case.get("window", "campaign"),
                              LABELS, NOW)
    assert keep == items and held == {}


def test_a_window_of_days_holds_what_falls_in_it():
    _, held = hold_repeats([item()], [earlier(days_ago=3)], "Q4", 7, LABELS, NOW)
    assert held


def test_who_counts_as_the_same_recipient():
    assert recipient_of({"email": " Ann@Example.com ", "deliveryMethod": "EMAIL"}) == "email:ann@example.com"
    assert recipient_of({"mobileNumber": "+14155552671", "deliveryMethod": "PHONE"}) == "mobile:+14155552671"
    mailed = {"firstName": "Ann", "lastName": "Lee", "streetLine1": "12  Beacon St", "postalCode": "02108",
              "deliveryMethod": "ADDRESS"}
    assert recipient_of(mailed) == "address:ann lee|12 beacon st|02108"
    assert recipient_of({"email": "a@b.co", "deliveryMethod": "BULKSHIPMENT"}) is None
    assert recipient_of({"firstName": "Ann", "deliveryMethod": "NONE"}) is None


def test_a_row_that_names_its_recipient_by_one_more_detail_is_still_held():
    """Ordered for a mobile number; the row comes back with an e-mail too (a column a newer version reads,
    such as 'Work Email', or a cell filled in): its line-item ID is new, and its first recipient key is
    now the e-mail, but the person is the same: held, not ordered twice."""
    from pipeline.model import recipient_keys
    before = {"deliveryMethod": "PHONE", "mobileNumber": "+14155552671"}
    now = {**before, "email": "ann@example.com"}
    assert recipient_of(now) == "email:ann@example.com" and "mobile:+14155552671" in recipient_keys(now)
    old = OrderedTo("Lold", recipient_of(before), Status.COMPLETE, "U1", "Q4", {}, "B1", 3, NOW.isoformat(),
                    "v1.csv", None, 2)
    new = LineItem("Lnew", 0, 2, Decimal(5), 1, "PHONE", {"utid": "U1"}, recipient_of(now), False, {},
                   recipient_keys=recipient_keys(now))
    keep, held = hold_repeats([new], [old], "Q4", "campaign", LABELS, NOW)
    assert keep == [] and held[0].status == Status.HELD


def test_of_two_rewards_one_run_ordered_for_the_recipient_the_message_names_the_latest_run_then_the_first_row():
    """The ledger keeps its line items in ID order, not in row order: which earlier reward a held row
    is compared with must not depend on it."""
    def ordered(line: str, run: int, row: int, amount: str) -> OrderedTo:
        return OrderedTo(line, "email:ann@example.com", Status.COMPLETE, "U1", "Q4", {"amount": amount}, "B1", run,
                         NOW.isoformat(), "v1.csv", None, row)
    history = [ordered("La", 3, 9, "70"), ordered("Lb", 3, 4, "40"), ordered("Lc", 2, 2, "20")]
    for shown in (history, history[::-1]):
        _, held = hold_repeats([item()], shown, "Q4", "campaign", LABELS, NOW)
        assert "v1.csv, row 4 (run 3" in held[0].text and "Amount was '40', now '5'" in held[0].text


TRICKY = [None, "", " ", "Ann@Example.com", "  ann@example.com ", "ann\t@example.com", "ANN  LEE", "Straße 5",
          "ǅemal", "ΣΟΦΊΑ", "a\x1cb", "a\u00a0b", "a\u3000b", "\uff26\uff55\uff4c\uff4c", "x\ny", "O'Brien-Smith",
          "+14155552671"]


def test_recipient_keys_in_bulk_are_the_keys_row_by_row():
    """``recipient_keys_of`` (polars for plain cells) gives what ``recipient_keys`` gives each row, and
    ``recipient_key_pairs`` the same keys as (row, key) pairs: the ledger's keys of earlier runs are
    matched against them, so one character of difference would let a reward through twice."""
    import random

    import polars as pl

    from pipeline.model import recipient_keys
    from pipeline.recipients import recipient_key_pairs, recipient_keys_of

    def pairs(frame: pl.DataFrame) -> set[tuple[int, str]]:
        found = recipient_key_pairs(frame)
        assert not found.is_duplicated().any()
        return set(found.iter_rows())
    rng = random.Random(12)
    methods = [None, "", "EMAIL", "PHONE", "ADDRESS", "BULKDIGITAL", "BULKSHIPMENT", "address"]
    cols = ("email", "mobileNumber", "firstName", "lastName", "streetLine1", "postalCode")
    rows = [{"deliveryMethod": rng.choice(methods), **{c: rng.choice(TRICKY) for c in cols}} for _ in range(3000)]
    frame = pl.DataFrame(rows, schema={c: pl.String for c in ("deliveryMethod", *cols)})
    assert recipient_keys_of(frame) == [recipient_keys(r) for r in rows]
    assert pairs(frame) == {(n, key) for n, r in enumerate(rows) for key in recipient_keys(r)}
    # a sheet without some of the columns reads them as empty
    narrow = frame.select("deliveryMethod", "email", "streetLine1")
    assert recipient_keys_of(narrow) == [recipient_keys(r) for r in narrow.iter_rows(named=True)]
    assert pairs(narrow) == {(n, key) for n, r in enumerate(narrow.iter_rows(named=True)) for key in recipient_keys(r)}
    assert recipient_keys_of(frame.head(0)) == [] and pairs(frame.head(0)) == set()
