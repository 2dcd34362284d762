"""``first_of`` groups rows, and ``occurrences`` counts them, as polars' own grouping on the keys does,
whatever their hashes do; ``one_chunk`` keeps a frame's values."""

from __future__ import annotations

import random

import polars as pl
import pytest

from pipeline.frames import _shared, first_of, occurrences, one_chunk


def grouped_by_polars(frame: pl.DataFrame, keys: list[pl.Expr]) -> list[int]:
    return frame.with_row_index("i").select(pl.col("i").first().over(pl.struct(keys))).to_series().to_list()


def random_frame(rows: int) -> pl.DataFrame:
    rng = random.Random(7)
    cells = [None, "", "ann", "Ann", "ANN", "bob", "b\x1fob", "b", "ob\x1f"]
    return pl.DataFrame({c: [rng.choice(cells) for _ in range(rows)] for c in "abc"},
                        schema={c: pl.String for c in "abc"})


@pytest.mark.parametrize("hashes", [
    None,                                                                       # its own
    lambda frame, keys: pl.Series([0] * frame.height, dtype=pl.UInt64),          # every hash collides
    lambda frame, keys: pl.Series([n % 3 for n in range(frame.height)], dtype=pl.UInt64),   # unrelated to keys
])
def test_each_row_is_grouped_with_the_first_row_of_the_same_keys(hashes):
    frame = random_frame(2000)
    keys = [pl.col("a").str.to_lowercase(), pl.col("b"), pl.col("c").fill_null("")]
    got = first_of(frame, keys) if hashes is None else first_of(frame, keys, hashes)
    assert got.to_list() == grouped_by_polars(frame, keys)
    assert 1 < got.n_unique() < frame.height         # groups of several rows, and several groups
    assert first_of(frame.head(0), keys).to_list() == []


@pytest.mark.parametrize("hashed", [
    pl.Expr.hash,                                           # its own
    lambda key: key.hash() * 0,                             # every hash collides
    lambda key: key.str.len_bytes().fill_null(0).cast(pl.UInt64) % 2,   # unrelated to the key, mostly
])
def test_each_row_is_counted_among_the_rows_of_its_key_as_polars_counts_them(hashed):
    # the line-item IDs rest on it: the key joined as line_item_ids joins it ("\x1f" between parts)
    frame = random_frame(100_000 + 1500)          # more rows than are hashed at a time
    key = pl.concat_str([pl.col("a").str.to_lowercase().fill_null(""), pl.col("b").fill_null(""),
                         pl.col("c").fill_null("")], separator="\x1f")
    got = occurrences(frame, key, hashed)
    assert got.to_list() == frame.select(pl.int_range(pl.len()).over(key)).to_series().to_list()
    assert got.max() > 100 and got.n_unique() > 1
    assert occurrences(frame.head(0), key).to_list() == []


def test_one_chunk_keeps_every_value_in_one_piece_and_reuses_equal_columns():
    pieces = random_frame(3000)
    frame = pl.concat([pieces.slice(0, 1000), pieces.slice(1000, 1000), pieces.slice(2000)], rechunk=False)
    assert frame.n_chunks() == 3
    reuse = pieces.with_columns(pl.col("b").fill_null("x"))      # "a" and "c" equal, "b" not
    got = one_chunk(frame.clone(), reuse=reuse)
    assert got.n_chunks("all") == [1, 1, 1]
    assert got.equals(pieces)
    assert one_chunk(frame.clone()).equals(pieces)
    # a column the caller names as unchanged is taken from ``reuse`` as it is, not compared
    assert one_chunk(frame.clone(), reuse=reuse, same={"b"}).equals(reuse)
    # columns of one piece among columns of several (as the hostile files' wide sheets are: 10,000
    # columns of a few rows each), kept in their order
    mixed = frame.hstack([pl.Series(f"w{i}", ["v", None, "w"] * 1000) for i in range(2000)])
    assert mixed.n_chunks("all")[:4] == [3, 3, 3, 1]
    got = one_chunk(mixed.clone(), reuse=reuse)
    assert got.columns == mixed.columns and set(got.n_chunks("all")) == {1}
    assert got.equals(mixed.rechunk())


def test_the_hashes_other_rows_share_are_found_as_polars_finds_duplicates():
    rng = random.Random(11)
    for hashes in ([rng.randrange(50) for _ in range(5000)], [rng.randrange(2**64) for _ in range(5000)] + [7, 7],
                   [3] * 10, [1], []):
        series = pl.Series(hashes, dtype=pl.UInt64)
        assert _shared(series).to_list() == series.is_duplicated().arg_true().to_list()
