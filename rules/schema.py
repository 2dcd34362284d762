"""The pandera schema (polars backend) that enforces every rule of ``rules/data/tango.toml``, and
the same rules in one pass of polars (``failures``), which the validate stage uses.

Each rule becomes one named check on its field's column, built from its kind's check in
``rules.kinds``: rows whose delivery method the rule does not apply to pass, and empty cells pass
every kind but ``required`` and ``forbidden``. Validation is lazy, so every failure of every row is
collected and comes back as pandera's ``failure_cases`` frame (column, check, index).

Every check is one polars expression (``rule_expr``). pandera's polars backend collects each check
on its own, and its results again for its failure cases: about 400 collects for the book's 67 rules.
``failures`` evaluates the same expressions in one ``select``, which polars runs in parallel, and
answers what pandera's ``failure_cases`` answers, in its order (tests/test_rules.py holds the two to
the same answer, every rule failing at least once): 0.04-0.06 s against 0.16-0.22 s at 100,000 rows,
0.42 s against 0.62 s at a million, and pandera is not imported to validate a sheet.
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

__all__ = ["build_schema", "failures", "rule_expr"]


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


def failures(frame: pl.DataFrame, book: RuleBook, today: dt.date) -> pl.DataFrame:
    """Each failed rule of each row, as pandera's ``failure_cases`` gives it: the row's position
    (``index``), its field (``column``) and the rule's id (``check``), by field, rule and row."""
    checks = [(name, rule) for name in book.fields for rule in book.rules_for(name)]
    if not checks:
        return pl.DataFrame(schema={"index": pl.UInt32, "column": pl.String, "check": pl.String})
    passed = [rule_expr(rule, book, today).alias(str(k)) for k, (_, rule) in enumerate(checks)]
    failing = (frame.lazy().select(passed).with_row_index("index")
               .filter(~pl.all_horizontal(pl.exclude("index"))).collect())   # the rows that fail any
    # each check's failing rows, check after check (as an unpivot orders them), its field and id as
    # constants: an unpivot would name the check on each of rows x checks lines (100 MB at a million)
    return pl.concat([failing.lazy().filter(~pl.col(str(k))).select(
        "index", pl.lit(name, pl.String).alias("column"), pl.lit(rule.id, pl.String).alias("check"))
        for k, (name, rule) in enumerate(checks)]).collect()
