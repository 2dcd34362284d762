"""The verdict on a file is made in bulk: it must decide every row as the per-row rules of
``stages.dedupe`` and the catalog would, one row at a time, whatever the ledger and the run's earlier files know."""

from __future__ import annotations

import random

import polars as pl
import pytest

from pipeline.ledger import LineRecord
from pipeline.model import IDX, ROW, SHEET, Status
from pipeline.stages import dedupe
from pipeline.stages.dedupe import FilePlan, LedgerView, Seen, plan_rows
from pipeline.stages.plan import Lines, RowIds, line_item_ids
from pipeline.stages.preflight import Catalog, catalog_check
from tests.helpers import BOOK, CAMPAIGN, base_row

STATES = [Status.SENDING, Status.SUBMITTED, Status.COMPLETE, Status.REJECTED, Status.FAILED, Status.PENDING]


def rows(rng: random.Random, n: int) -> list[dict]:
    out = []
    for i in range(n):
        kind = rng.random()
        if kind < 0.1:      # an invalid row
            out.append(base_row("EMAIL", First_Name=f"P{i}", Email="not an e-mail"))
        elif kind < 0.2:    # a row and its twin further down: the same reward twice, by occurrence
            out.append(base_row("EMAIL", First_Name="Twin", Email="twin@example.com"))
        elif kind < 0.3:    # a Reference given twice in the file: one ID for two rows
            out.append(base_row("PHONE", Reference=f"HR-{i % 3}"))
        else:
            out.append(base_row(rng.choice(["EMAIL", "PHONE", "NONE", "BULKDIGITAL"]), First_Name=f"P{i}",
                                Email=f"p{i}@example.com"))
    return out


def record(line_id: str, status: Status, run: int) -> LineRecord:
    return LineRecord(line_id, status, f"B{run}", None, None, "25", 1, run, run if status != Status.PENDING else None)


def a_view(rng: random.Random, frame, ids) -> LedgerView:
    """What a ledger might know of these rows: lines in every state, rows ordered under an older ID,
    runs that stopped early."""
    records, ordered, interrupted = {}, {}, set()
    for idx, sheet, row, line_id in zip(frame[IDX], frame[SHEET], frame[ROW], ids, strict=True):
        roll = rng.random()
        if roll < 0.25:
            records[line_id] = record(line_id, rng.choice(STATES), rng.randint(1, 3))
        elif roll < 0.35:   # this very row, ordered by an older version under another ID
            older = f"Lolder{idx}"
            records[older] = record(older, rng.choice(STATES[:3]), 1)
            ordered[(sheet, row)] = older
        elif roll < 0.4:
            ordered[(sheet, row)] = line_id
            records.setdefault(line_id, record(line_id, Status.COMPLETE, 2))
        if rng.random() < 0.2:
            interrupted.add((sheet, row, ordered.get((sheet, row), line_id)))
    return LedgerView(records, interrupted, {1: "2026-05-01T10:00", 2: "2026-05-02T10:00", 3: ""}, ordered)


def one_by_one(frame, ids, view: LedgerView, earlier: dict[str, str]) -> tuple[FilePlan, list[int], dict[str, str]]:
    """The per-row rules over every row, as the plan was made before it decided in bulk."""
    lines = Lines.valid(frame, ids, CAMPAIGN, BOOK)
    plan = FilePlan(RowIds(ids, frame["status"] == Status.VALID.value), lines)
    seen = dict(earlier)
    sent = dedupe._valid_rows(lines.items(), view, plan, seen, "upload.csv", False)
    invalid = {idx: (sheet, row, ids[idx]) for idx, sheet, row, status in frame.select(IDX, SHEET, ROW, "status")
               .iter_rows() if status == Status.INVALID.value}
    dedupe._refused_today(invalid, view, plan)
    return plan, sent, seen


@pytest.mark.parametrize("seed", range(6))
def test_the_bulk_plan_decides_every_row_as_the_per_row_rules_do(check, seed):
    rng = random.Random(seed)
    sheet = rows(rng, 120)
    first = check(sheet).frame
    # a Reference that is the ID another row is given: two valid rows of one ID
    hashed = first.filter((pl.col("status") == "VALID") & pl.col("externalRefLineItemID").is_null())
    taken = line_item_ids(first, CAMPAIGN)[int(hashed[IDX][0])]
    frame = check([*sheet, base_row("NONE", Reference=taken)]).frame
    ids = line_item_ids(frame, CAMPAIGN)
    view = a_view(rng, frame, ids)
    earlier_file = {line_id: f"first.csv row {n}" for n, line_id in enumerate(ids) if rng.random() < 0.1}
    seen = Seen()
    for line_id, where in earlier_file.items():
        seen.add(line_id, where)

    plan = plan_rows(frame, ids, view, CAMPAIGN, BOOK, seen, "upload.csv")
    expected, sent, seen_after = one_by_one(frame, ids, view, earlier_file)

    assert plan.decisions == expected.decisions
    assert plan.sending.rows.to_list() == sent
    assert [i.idx for i in plan.items] == sent
    assert dict(plan.ids) == dict(expected.ids)
    assert plan.ids.column().to_list() == [expected.ids.get(i) for i in range(frame.height)]
    assert seen.where(ids) == seen_after      # and the next file of the run knows where each row sent is
    # the cases are all there: rows sent, duplicates, repeats of this file and of the earlier one
    assert sent and plan.decisions and ids.filter(frame["status"] == "VALID").is_duplicated().any()


def test_a_second_file_of_the_run_repeating_rows_sent_in_bulk_is_told_where_they_are(check):
    frame = check([base_row("EMAIL", First_Name=f"P{i}", Email=f"p{i}@example.com") for i in range(5)]).frame
    ids = line_item_ids(frame, CAMPAIGN)
    seen, empty = Seen(), LedgerView({}, set(), {})
    first = plan_rows(frame, ids, empty, CAMPAIGN, BOOK, seen, "first.csv")
    again = plan_rows(frame, ids, empty, CAMPAIGN, BOOK, seen, "second.csv")
    assert len(first.sending) == 5 and not first.decisions
    assert len(again.sending) == 0
    assert [d.text for d in again.decisions.values()] == [
        f"Same reward as first.csv row {row} in this run" for row in frame[ROW]]


def test_the_catalog_refuses_each_line_as_it_would_one_by_one(check):
    catalog = Catalog({"brands": [{"items": [
        {"utid": "U761382", "rewardName": "Visa", "valueType": "VARIABLE_VALUE", "minValue": 5, "maxValue": 100},
        {"utid": "U000002", "rewardName": "Coffee", "valueType": "FIXED_VALUE", "faceValue": 10},
        {"utid": "U000003", "rewardName": "Gone", "status": "inactive"}]}]})
    amounts, utids = ["25", "150", "10", "10.00", "3", "99.99"], ["U761382", "u761382", "U000002", "U000003", "U404"]
    sheet = [base_row("EMAIL", First_Name=f"P{i}", Email=f"p{i}@example.com", UTID=utids[i % 5],
                      Amount=amounts[i % 6]) for i in range(60)]
    frame = check(sheet).frame
    lines = Lines.valid(frame, line_item_ids(frame, CAMPAIGN), CAMPAIGN, BOOK)
    kept, refused = catalog_check(lines, catalog)
    expected = {item.idx: catalog.problem(item.utid, str(item.amount)) for item in lines.items()}
    assert {idx: (d.field, d.text) for idx, d in refused.items()} == {i: p for i, p in expected.items() if p}
    assert kept.rows.to_list() == [i for i, p in expected.items() if p is None]
    assert {d.status for d in refused.values()} == {Status.INVALID} and len(refused) >= 30 and len(kept) >= 10
