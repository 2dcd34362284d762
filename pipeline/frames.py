"""Polars helpers the stages share."""

from __future__ import annotations

from collections.abc import Callable, Collection

import polars as pl

__all__ = ["first_of", "one_chunk"]


def _hashes(frame: pl.DataFrame, keys: list[pl.Expr]) -> pl.Series:
    """One 64-bit hash of ``keys`` a row, made one key at a time: a key column lives only while it
    is hashed (a million rows' twelve lowercased identity columns at once are some 500 MB)."""
    combined: pl.Series | None = None
    for key in keys:
        part = frame.select(key.hash().alias("b")).to_series()
        combined = part if combined is None else pl.select(
            pl.struct(combined.alias("a"), part).hash()).to_series()
    return combined if combined is not None else pl.Series("b", [0] * frame.height, dtype=pl.UInt64)


def first_of(frame: pl.DataFrame, keys: list[pl.Expr],
             hashes: Callable[[pl.DataFrame, list[pl.Expr]], pl.Series] = _hashes) -> pl.Series:
    """Each row's group: the position of the first row with the same ``keys`` (as polars gives it by
    ``pl.col(position).first().over(pl.struct(keys))``, but with little memory).

    Rows are grouped by a hash of their keys first; only the rows whose hash another row shares
    are then grouped on the keys themselves, so two rows of different keys are never one group,
    whatever the hashes (a test gives it hashes that all collide)."""
    hashed = pl.DataFrame({"h": hashes(frame, keys)}).with_row_index("at")
    first = hashed.get_column("at")
    shared = hashed.filter(pl.col("h").is_duplicated()).get_column("at")
    if shared.is_empty():
        return first
    exact = frame[shared].with_columns(shared.alias("__at__")).select(
        pl.col("__at__").first().over(pl.struct(keys))).to_series()
    return first.scatter(shared, exact)


def one_chunk(frame: pl.DataFrame, reuse: pl.DataFrame | None = None, same: Collection[str] = ()) -> pl.DataFrame:
    """The frame with each column in one piece, made one column at a time (each column's pieces are
    let go as soon as it is copied); a column equal to ``reuse``'s column of its name becomes that
    column itself, so its values are held once (those named in ``same`` are, without comparing them).

    polars reads a large CSV, and collects a query, in pieces; an operation that mixes such columns
    with a column of one piece copies every column of the frame at once, each time."""
    columns = []
    for name in list(frame.columns):
        column = frame.drop_in_place(name)
        if reuse is not None and name in reuse.columns and (
                name in same or column.equals(reuse[name], null_equal=True)):
            column = reuse[name]
        columns.append(column.rechunk())
    return pl.DataFrame(columns)
