"""Polars helpers the stages share."""

from __future__ import annotations

from collections.abc import Callable, Collection

import polars as pl

__all__ = ["first_of", "occurrences", "one_chunk"]


def _hashes(frame: pl.DataFrame, keys: list[pl.Expr]) -> pl.Series:
    """One 64-bit hash of ``keys`` a row, by polars' streaming engine: the key columns are made and
    hashed a morsel of rows at a time (a million rows' twelve lowercased identity columns at once
    are some 500 MB; hashed a key at a time, 110 MB and twice the time)."""
    if not keys:
        return pl.Series("b", [0] * frame.height, dtype=pl.UInt64)
    return frame.lazy().select(pl.struct(keys).hash().alias("b")).collect(engine="streaming").to_series().rechunk()


def _shared(hashes: pl.Series) -> pl.Series:
    """The positions of the hashes another row shares, found on the hashes sorted (a hash table of a
    million hashes, as ``is_duplicated`` makes it, is 75 MB; the sorted copy is 8)."""
    ordered = hashes.sort()
    twice = ordered.filter((ordered == ordered.shift(1)) | (ordered == ordered.shift(-1))).unique()
    return hashes.is_in(twice.implode()).arg_true()


def _where_hashes_meet(frame: pl.DataFrame, hashes: pl.Series, alone: pl.Series,
                       exact: Callable[[pl.DataFrame, pl.Series], pl.Series]) -> pl.Series:
    """``alone`` (each row's answer when no other row shares its hash), with ``exact`` (the answer
    made on the keys themselves, given those rows and their positions) for the rows whose hash
    another row shares: two rows of different keys are never taken together, whatever the hashes."""
    shared = _shared(hashes)
    return alone if shared.is_empty() else alone.scatter(shared, exact(frame[shared], shared))


def first_of(frame: pl.DataFrame, keys: list[pl.Expr],
             hashes: Callable[[pl.DataFrame, list[pl.Expr]], pl.Series] = _hashes) -> pl.Series:
    """Each row's group: the position of the first row with the same ``keys`` (as polars gives it by
    ``pl.col(position).first().over(pl.struct(keys))``, but with little memory).

    Rows are grouped by a hash of their keys first; only the rows whose hash another row shares
    are then grouped on the keys themselves (a test gives it hashes that all collide)."""
    return _where_hashes_meet(frame, hashes(frame, keys), pl.int_range(frame.height, dtype=pl.UInt32, eager=True),
                              lambda rows, at: rows.with_columns(at.alias("__at__")).select(
                                  pl.col("__at__").first().over(pl.struct(keys))).to_series())


def occurrences(frame: pl.DataFrame, key: pl.Expr, hashed: Callable[[pl.Expr], pl.Expr] = pl.Expr.hash,
                rows_at_a_time: int = 100_000) -> pl.Series:
    """Each row's place among the rows of its ``key``: 0 for the first, 1 for the second... (as
    ``pl.int_range(pl.len()).over(key)`` gives it). The key is hashed ``rows_at_a_time`` rows at a
    time (a million rows' keys are never held at once) and compared only where hashes meet."""
    hashes = pl.concat([pl.Series("h", [], dtype=pl.UInt64)] + [
        frame.slice(start, rows_at_a_time).select(hashed(key).alias("h")).to_series()
        for start in range(0, frame.height, rows_at_a_time)])
    return _where_hashes_meet(frame, hashes, pl.zeros(frame.height, dtype=pl.Int64, eager=True).alias("n"),
                              lambda rows, _: rows.select(pl.int_range(pl.len()).over(key)).to_series())


def one_chunk(frame: pl.DataFrame, reuse: pl.DataFrame | None = None, same: Collection[str] = ()) -> pl.DataFrame:
    """The frame with each column in one piece, made one column at a time (each column's pieces are
    let go as soon as it is copied); a column equal to ``reuse``'s column of its name becomes that
    column itself, so its values are held once (those named in ``same`` are, without comparing them).

    polars reads a large CSV, and collects a query, in pieces; an operation that mixes such columns
    with a column of one piece copies every column of the frame at once, each time."""
    shared = set(reuse.columns) if reuse is not None else set()
    columns = frame.get_columns()
    for i, pieces in enumerate(frame.n_chunks("all")):
        column = columns[i]
        if pieces > 1 or column.name in shared:     # else it is kept as it is: ``drop_in_place`` costs the
            frame.drop_in_place(column.name)          # frame's width (3.5 s for 10,000 columns one by one)
            if reuse is not None and column.name in shared and (
                    column.name in same or column.equals(reuse[column.name], null_equal=True)):
                column = reuse[column.name]
            columns[i] = column.rechunk()             # the pieces let go once ``column`` moves on
    return pl.DataFrame(columns)
