"""``first_of`` groups rows as polars' own grouping on the keys does, whatever its hashes do."""

from __future__ import annotations

import random

import polars as pl
import pytest

from pipeline.frames import first_of


def grouped_by_polars(frame: pl.DataFrame, keys: list[pl.Expr]) -> list[int]:
    return frame.with_row_index("i").select(pl.col("i").first().over(pl.struct(keys))).to_series().to_list()


@pytest.mark.parametrize("hashes", [
    None,                                                                       # its own
    lambda frame, keys: pl.Series([0] * frame.height, dtype=pl.UInt64),          # every hash collides
    lambda frame, keys: pl.Series([n % 3 for n in range(frame.height)], dtype=pl.UInt64),   # unrelated to keys
])
def test_each_row_is_grouped_with_the_first_row_of_the_same_keys(hashes):
    rng = random.Random(7)
    cells = [None, "", "ann", "Ann", "ANN", "bob", "b\x1fob", "b", "ob\x1f"]
    frame = pl.DataFrame({c: [rng.choice(cells) for _ in range(2000)] for c in "abc"},
                         schema={c: pl.String for c in "abc"})
    keys = [pl.col("a").str.to_lowercase(), pl.col("b"), pl.col("c").fill_null("")]
    got = first_of(frame, keys) if hashes is None else first_of(frame, keys, hashes)
    assert got.to_list() == grouped_by_polars(frame, keys)
    assert 1 < got.n_unique() < frame.height         # groups of several rows, and several groups
    assert first_of(frame.head(0), keys).to_list() == []
