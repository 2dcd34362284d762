"""The pandera schema (polars backend) that enforces every rule of ``rules/data/tango.toml``.

Each rule becomes one named check on its field's column, built from its kind's check in
``rules.kinds``: rows whose delivery method the rule does not apply to pass, and empty cells pass
every kind but ``required`` and ``forbidden``. Validation is lazy, so every failure of every row is
collected in one pass and comes back as pandera's ``failure_cases`` frame (column, check, index).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import polars as pl

from rules import Rule, RuleBook
from rules.kinds import KINDS, METHOD

if TYPE_CHECKING:     # pandera.polars takes 0.1 s to import: only once a schema is built
    import pandera.polars as pa
    from pandera.api.polars.types import PolarsData

__all__ = ["build_schema", "rule_expr"]


def rule_expr(rule: Rule, book: RuleBook, today: dt.date) -> pl.Expr:
    """True for every row that satisfies ``rule`` (or that the rule does not apply to)."""
    col = pl.col(rule.field)
    kind = KINDS[rule.kind]
    ok = kind.check(col, rule, book, today)
    if kind.empty_passes:
        ok = col.is_null() | ok
    if rule.methods is not None:
        ok = ~METHOD.is_in(list(rule.methods)).fill_null(False) | ok
    return ok.fill_null(True)


def _check(rule: Rule, book: RuleBook, today: dt.date) -> pa.Check:
    import pandera.polars as pa
    expr = rule_expr(rule, book, today)

    def run(data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(expr.alias(data.key))

    return pa.Check(run, name=rule.id, error=rule.id)


def build_schema(book: RuleBook, today: dt.date) -> pa.DataFrameSchema:
    """One nullable text column per line-item field, each carrying the checks of its rules."""
    import pandera.polars as pa
    columns = {
        name: pa.Column(pl.String, checks=[_check(r, book, today) for r in book.rules_for(name)],
                        nullable=True, required=True)
        for name in book.fields
    }
    return pa.DataFrameSchema(columns, name="tango line items", strict=False)
