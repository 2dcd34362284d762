"""The normalize stage's steps as one lazy query, collected some rows at a time, with the warnings of
each value a step changed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from pipeline.model import IDX, Severity

__all__ = ["STAGED_ROWS", "Change", "Message", "Stages", "warnings_of"]

Message = Callable[[pl.Expr, pl.Expr], pl.Expr]     # (old value, new value) -> a warning's text
STAGED_ROWS = 250_000     # rows whose steps are collected at a time


@dataclass(frozen=True)
class Change:
    """A field's value before and after one step (columns of the staged frame), and how it is said."""
    field: str
    before: str
    after: str
    rule: str
    message: Message
    cells_only: bool = False      # said only where the user wrote the cell (not a campaign default)


class Stages:
    """The steps as one lazy query: each stage a ``with_columns`` that keeps the values it changes as
    they were before it and after it (new names), so every warning is found afterwards in one pass."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.query, self.changes, self.n, self.height = frame.lazy(), list[Change](), 0, frame.height

    def add(self, steps: list[tuple[str, pl.Expr, str, Message]], cells_only: bool = False) -> None:
        if not steps:
            return
        self.n += 1
        before = [pl.col(f).alias(f"{f}<{self.n}") for f, *_ in steps]
        self.query = self.query.with_columns(*before, *[value.alias(f) for f, value, *_ in steps]).with_columns(
            pl.col(f).alias(f"{f}>{self.n}") for f, *_ in steps)
        self.changes += [Change(f, f"{f}<{self.n}", f"{f}>{self.n}", rule, message, cells_only)
                         for f, _, rule, message in steps]

    def collected(self, fix: Callable[[pl.DataFrame], pl.DataFrame], changes: list[Change], cells: set[str],
                  columns: list[str]) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
        """The steps' ``columns`` (in pieces) and each change's warnings, ``STAGED_ROWS`` rows at a time
        (``fix``: what is done to the staged rows first): the values before and after each step are held
        for those rows only."""
        finals, found = [], []
        for start in range(0, max(self.height, 1), STAGED_ROWS):
            staged = fix(self.query.slice(start, STAGED_ROWS).collect())
            found.append(pl.collect_all([warnings_of(staged, c, has_cell=f"{c.field}#cell" if c.cells_only else None)
                                         for c in changes if c.field in cells]))
            finals.append(staged.select(columns))
        return pl.concat(finals, rechunk=False), [w for k in range(len(found[0])) for w in (f[k] for f in found)]


def warnings_of(staged: pl.DataFrame, change: Change, has_cell: str | None) -> pl.LazyFrame:
    """The warnings of one change: a cell the step changed (not one it emptied)."""
    old, new = pl.col(change.before), pl.col(change.after)
    changed = old.is_not_null() & new.is_not_null() & (old != new)
    if has_cell is not None:
        changed = changed & pl.col(has_cell)
    return staged.lazy().filter(changed).select(
        pl.col(IDX), pl.lit(change.field).alias("field"), pl.lit(change.rule).alias("rule"),
        pl.lit(Severity.WARNING.value).alias("severity"), change.message(old, new).alias("text"))
