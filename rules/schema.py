"""The pandera schema (polars backend) that enforces every rule of ``rules/data/tango.toml``.

Each rule becomes one named check on its field's column. A check answers, per row, "is this row
fine as far as this rule goes": rows whose delivery method the rule does not apply to pass, empty
cells pass every rule but ``required``. Validation is lazy, so every failure of every row is
collected in one pass and comes back as pandera's ``failure_cases`` frame (column, check, index).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData

from rules import Rule, RuleBook

__all__ = ["DATE_RE", "DATETIME_RE", "SCIENTIFIC_RE", "US_MOBILE_RE", "E164_RE", "build_schema",
           "rule_expr"]

METHOD = pl.col("deliveryMethod")
SCIENTIFIC_RE = r"^[+-]?[0-9]+(\.[0-9]+)?[eE][+-]?[0-9]+$"
US_MOBILE_RE = r"^\+1[2-9][0-9]{2}[2-9][0-9]{6}$"
E164_RE = r"^\+[1-9][0-9]{6,14}$"
AMOUNT_RE = r"^[0-9]+(\.[0-9]+)?$"
DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DATETIME_RE = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
               r"([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])?)?$")


def _is_date(col: pl.Expr) -> pl.Expr:
    return col.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False).is_not_null()


def _amount_ok(col: pl.Expr, rule: Rule, book: RuleBook) -> pl.Expr:
    decimals = rule.params.get("max_decimals", 2)
    shape = rf"^[0-9]+(\.[0-9]{{1,{decimals}}})?$"
    return col.str.contains(shape) & (col.cast(pl.Float64, strict=False) > 0)


def _whole_ok(col: pl.Expr, rule: Rule, book: RuleBook) -> pl.Expr:
    return col.str.contains(r"^[0-9]+$") & (col.cast(pl.Int64, strict=False) >= rule.params["min"])


def _bulk_quantity_ok(col: pl.Expr, rule: Rule, book: RuleBook) -> pl.Expr:
    bulk = [m for m, spec in book.methods.items() if spec["bulk_quantity"]]
    return (col.cast(pl.Int64, strict=False) <= 1) | METHOD.is_in(bulk)


def _future_date_ok(today: dt.date) -> Callable[[pl.Expr, Rule, RuleBook], pl.Expr]:
    def check(col: pl.Expr, rule: Rule, book: RuleBook) -> pl.Expr:
        first = today + dt.timedelta(days=rule.params["days"])
        parsed = col.str.to_date("%Y-%m-%d", strict=False)
        return col.str.contains(DATE_RE) & (parsed >= pl.lit(first))
    return check


def _region_ok(col: pl.Expr, rule: Rule, book: RuleBook) -> pl.Expr:
    country = pl.col("country")
    return (
        pl.when(country == "US").then(col.is_in(sorted(book.us_states)))
        .when(country == "CA").then(col.is_in(sorted(book.ca_provinces)))
        .otherwise(col.str.len_chars() <= rule.params["max_international"])
    )


def _postal_ok(col: pl.Expr, rule: Rule, book: RuleBook) -> pl.Expr:
    return (
        pl.when(pl.col("country") == "US").then(col.str.contains(r"^[0-9]{5}$"))
        .otherwise(col.str.contains(r"^[0-9A-Za-z]{5,10}$"))
    )


def _mobile_ok(pattern: str) -> Callable[[pl.Expr, Rule, RuleBook], pl.Expr]:
    # A number in scientific notation is reported by its own rule, once.
    def check(col: pl.Expr, rule: Rule, book: RuleBook) -> pl.Expr:
        return col.str.contains(pattern) | col.str.contains(SCIENTIFIC_RE)
    return check


def _pair_ok(col: pl.Expr, rule: Rule, book: RuleBook) -> pl.Expr:
    full = pl.concat_str([col, pl.col(rule.params["other"])], separator=" ", ignore_nulls=True)
    return full.str.len_chars() <= rule.params["max"]


def _kinds(today: dt.date) -> dict[str, Callable[[pl.Expr, Rule, RuleBook], pl.Expr]]:
    return {
        "required": lambda c, r, b: c.is_not_null(),
        "forbidden": lambda c, r, b: c.is_null(),
        "max_length": lambda c, r, b: c.str.len_chars() <= r.params["max"],
        "charset": lambda c, r, b: c.str.contains(b.charsets[r.params["charset"]]["pattern"]),
        "no_chars": lambda c, r, b: ~c.str.contains(f"[{re.escape(r.params['chars'])}]"),
        "pattern": lambda c, r, b: c.str.contains(r.params["pattern"]),
        "one_of": lambda c, r, b: c.is_in(list(b.value_list(r.params["values"]))),
        "not_scientific": lambda c, r, b: ~c.str.contains(SCIENTIFIC_RE),
        "date_or_datetime": lambda c, r, b: c.str.contains(DATETIME_RE) & _is_date(c),
        "amount": _amount_ok,
        "whole_number": _whole_ok,
        "bulk_quantity": _bulk_quantity_ok,
        "future_date": _future_date_ok(today),
        "region": _region_ok,
        "postal": _postal_ok,
        "mobile": _mobile_ok(US_MOBILE_RE),
        "phone": _mobile_ok(E164_RE),
        "pair_max_length": _pair_ok,
    }


def rule_expr(rule: Rule, book: RuleBook, today: dt.date) -> pl.Expr:
    """True for every row that satisfies ``rule`` (or that the rule does not apply to)."""
    col = pl.col(rule.field)
    ok = _kinds(today)[rule.kind](col, rule, book)
    if rule.kind not in ("required", "forbidden"):
        ok = col.is_null() | ok     # an empty cell breaks no rule but "required"
    if rule.methods is not None:
        ok = ~METHOD.is_in(list(rule.methods)).fill_null(False) | ok
    return ok.fill_null(True)


def _check(rule: Rule, book: RuleBook, today: dt.date) -> pa.Check:
    expr = rule_expr(rule, book, today)

    def run(data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(expr.alias(data.key))

    return pa.Check(run, name=rule.id, error=rule.id)


def build_schema(book: RuleBook, today: dt.date) -> pa.DataFrameSchema:
    """One nullable text column per line-item field, each carrying the checks of its rules."""
    columns = {
        name: pa.Column(pl.String, checks=[_check(r, book, today) for r in book.rules_for(name)],
                        nullable=True, required=True)
        for name in book.fields
    }
    return pa.DataFrameSchema(columns, name="tango line items", strict=False)
