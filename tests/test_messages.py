"""Messages written for many failures at once (``rules.kinds.Failures``) say exactly what the kind's
message for one failure says, on a corpus of every kind of mistake."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.stages.ingest import read_sheet
from pipeline.stages.normalize import normalize
from pipeline.stages.validate import validate
from rules import kinds
from tests.helpers import BOOK, TODAY

CELLS = ["Ann", " Lee", "  x  ", "José", "a\u00a0b", "", "ma", "ZZ", "Ontario", "02134", "2134", "H2X 1Y4", "9",
         "$1,000.50", "25.005", "-3", "0", "abc", "1e5", "4.15555E+09", "EMAIL", "PHONE", "ADDRESS", "PIGEON",
         "BULKDIGITAL", "BULKSHIPMENT", "(415) 555-2671", "+44 20 7946 0958", "12345", "U761382", "761382",
         "12/24/2026", "2020-01-01", "2027-06-30 23:59:00", "US", "CA", "FR", "usps1stclass", "not-an-email",
         "ann@example.com", "=1+1", "x" * 70, "2", "10", "a|b", "<b>", "line\nbreak", "\x1ctab\x1f"]
HEADER = ["First Name", "Last Name", "Email", "Mobile", "Delivery Method", "UTID", "Amount", "Qty", "Address 1",
          "City", "State", "ZIP", "Country", "Shipping Method", "Delivery Date", "Expiration Date", "Company",
          "Reference"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = random.Random(12)
    path = tmp_path_factory.mktemp("messages") / "mistakes.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for _ in range(2500):
            out.writerow([rng.choice(CELLS) if rng.random() < 0.8 else "" for _ in HEADER])
    return path


def test_messages_at_once_are_the_messages_one_by_one(corpus, monkeypatch):
    sheet = read_sheet(corpus, BOOK)
    normalized = normalize(sheet, BOOK)
    at_once = validate(sheet, normalized, TODAY, BOOK)
    fast = {name for name, k in kinds.KINDS.items() if k.messages is not None}
    rules = at_once.issues.filter(pl.col("severity") == "error")["rule"].unique().to_list()
    covered = {r.kind for r in BOOK.rules if r.id in rules} & fast
    assert len(covered) >= 10, covered          # the corpus fails most kinds that have a message at once
    for name in fast:
        monkeypatch.setitem(kinds.KINDS, name, kinds.Kind(kinds.KINDS[name].check, kinds.KINDS[name].message,
                                                         kinds.KINDS[name].empty_passes, None))
    one_by_one = validate(sheet, normalized, TODAY, BOOK)
    assert_frame_equal(at_once.issues, one_by_one.issues)
    assert_frame_equal(at_once.frame, one_by_one.frame)
