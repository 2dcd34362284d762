"""Every rule kind of ``data/tango.toml``: its check and its message, side by side, in one registry.

A check answers, per row, "is this row fine as far as this rule goes" as a polars expression on the
rule's column (rows the rule does not apply to, and empty cells for every kind but ``required``
and ``forbidden``, are let through by ``rules.schema``). A message words one failure for HR: the
field as the sheet names it, the value as the user wrote it, and how to fix it.

A new kind is one ``@kind`` block here (and its rows in ``data/tango.toml``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import polars as pl

from rules import Rule, RuleBook
from rules.patterns import DATE_RE, DATETIME_RE, E164_RE, FORMULA_START_RE, SCIENTIFIC_RE, US_MOBILE_RE
from rules.wording import MAX_SHOWN, ascii_suggestion, chars_not_in, phone_reason, quote

__all__ = ["KINDS", "Failure", "Failures", "Kind", "explain"]

METHOD = pl.col("deliveryMethod")


@dataclass(frozen=True)
class Failure:
    """One rule failing on one row, with what its message needs."""
    rule: Rule
    book: RuleBook
    label: str                              # the field as the sheet (or the rule data) names it
    value: str | None                       # the cell as the user wrote it
    row: Mapping[str, str | None]           # the row's normalized values
    today: dt.date
    has_column: bool = True                 # False: the sheet has no column for the field

    @property
    def p(self) -> dict[str, Any]:
        return self.rule.params

    @property
    def got(self) -> str:
        return quote(self.value)

    @property
    def method(self) -> str | None:
        return self.row.get("deliveryMethod")

    @property
    def on(self) -> str:
        """' for EMAIL delivery' when the rule applies to some delivery methods only."""
        return f" for {self.method} delivery" if self.rule.methods is not None and self.method else ""

    @property
    def fix(self) -> str:
        return f" {self.rule.fix}" if self.rule.fix else ""


@dataclass(frozen=True)
class Failures:
    """One rule failing on many rows at once, for a message written as a polars expression: the
    same words as the kind's message for one ``Failure``, built for every row in one pass (a test
    compares the two). Its expressions are evaluated on the failing rows."""
    rule: Rule
    book: RuleBook
    label: str
    value: pl.Expr                          # the cell as the user wrote it (null: empty)
    method: pl.Expr                         # the row's delivery method
    has_column: pl.Expr                     # whether the row's sheet has a column for the field

    @property
    def p(self) -> dict[str, Any]:
        return self.rule.params

    @property
    def got(self) -> pl.Expr:
        v = self.value
        shown = pl.when(v.str.len_chars() <= MAX_SHOWN).then(v).otherwise(v.str.slice(0, MAX_SHOWN - 1) + "…")
        return pl.when(v.is_null()).then(pl.lit("an empty cell")).otherwise(pl.concat_str([pl.lit("'"), shown,
                                                                                            pl.lit("'")]))

    @property
    def on(self) -> pl.Expr:
        if self.rule.methods is None:
            return pl.lit("")
        return pl.when(self.method.is_not_null()).then(pl.concat_str([pl.lit(" for "), self.method,
                                                                        pl.lit(" delivery")])).otherwise(pl.lit(""))

    @property
    def fix(self) -> str:
        return f" {self.rule.fix}" if self.rule.fix else ""

    def say(self, *parts: str | pl.Expr) -> pl.Expr:
        """The parts, text as it is and expressions as they evaluate, one after the other."""
        return pl.concat_str([pl.lit(p) if isinstance(p, str) else p for p in parts])


Check = Callable[[pl.Expr, Rule, RuleBook, dt.date], pl.Expr]
Message = Callable[[Failure], str]
Messages = Callable[[Failures], pl.Expr]


@dataclass(frozen=True)
class Kind:
    check: Check
    message: Message
    empty_passes: bool = True               # an empty cell breaks no rule of this kind
    messages: Messages | None = None        # the message as an expression, for many rows at once


KINDS: dict[str, Kind] = {}


def kind(name: str, check: Check, *, empty_passes: bool = True,
         messages: Messages | None = None) -> Callable[[Message], Message]:
    """Register ``check`` and the decorated message (and, for the kinds that fail most, the same
    message as an expression: ``messages``) as the rule kind ``name``."""
    def register(message: Message) -> Message:
        KINDS[name] = Kind(check, message, empty_passes, messages)
        return message
    return register


def explain(failure: Failure) -> str:
    """The message for a failed rule, in words for HR."""
    return KINDS[failure.rule.kind].message(failure)


def _param(rule: Rule, key: str) -> int:
    return int(rule.params[key])


def _required_all(f: Failures) -> pl.Expr:
    without = (f"{f.label} is required", f.on, f", and the sheet has no {f.label} column (nor a campaign default): "
               "the Summary says how to add or map one.")
    return pl.when(f.has_column).then(f.say(f"{f.label} is required", f.on, f"; the cell is empty.{f.fix}")) \
        .otherwise(f.say(*without))


@kind("required", lambda c, r, b, t: c.is_not_null(), empty_passes=False, messages=_required_all)
def _required(f: Failure) -> str:
    if not f.has_column:
        return (f"{f.label} is required{f.on}, and the sheet has no {f.label} column (nor a campaign "
                f"default): the Summary says how to add or map one.")
    return f"{f.label} is required{f.on}; the cell is empty.{f.fix}"


@kind("forbidden", lambda c, r, b, t: c.is_null(), empty_passes=False,
      messages=lambda f: f.say(f"{f.label} must be empty", f.on, "; got ", f.got, f".{f.fix}"))
def _forbidden(f: Failure) -> str:
    return f"{f.label} must be empty{f.on}; got {f.got}.{f.fix}"


@kind("max_length", lambda c, r, b, t: c.str.len_chars() <= r.params["max"])
def _max_length(f: Failure) -> str:
    n = len(f.row.get(f.rule.field) or f.value or "")
    return f"{f.label} may have at most {f.p['max']} characters{f.on}; got {f.got} ({n} characters).{f.fix}"


@kind("charset", lambda c, r, b, t: c.str.contains(b.charsets[r.params["charset"]]["pattern"]))
def _charset(f: Failure) -> str:
    charset = f.book.charsets[f.p["charset"]]
    suggestion = ascii_suggestion(f.value or "", charset["pattern"])
    hint = f" Write '{suggestion}' instead." if suggestion else " Remove or replace them."
    return (f"{f.label} may contain only {charset['describe']}{f.on}; got {f.got} "
            f"(not allowed: {chars_not_in(f.value or '', charset['pattern'])}).{hint}")


@kind("no_chars", lambda c, r, b, t: ~c.str.contains(f"[{re.escape(r.params['chars'])}]"))
def _no_chars(f: Failure) -> str:
    shown = " ".join(f.p["chars"])
    return f"{f.label} must not contain {shown}{f.on}; got {f.got}.{f.fix}"


def _expected(f: Failure) -> str:
    return f"{f.label} must be {f.p['expect']}; got {f.got}.{f.fix}"


def _expected_all(f: Failures) -> pl.Expr:
    return f.say(f"{f.label} must be {f.p['expect']}; got ", f.got, f".{f.fix}")


kind("pattern", lambda c, r, b, t: c.str.contains(r.params["pattern"]), messages=_expected_all)(_expected)
kind("one_of", lambda c, r, b, t: c.is_in(list(b.value_list(r.params["values"]))), messages=_expected_all)(_expected)


def _amount_ok(col: pl.Expr, rule: Rule, book: RuleBook, today: dt.date) -> pl.Expr:
    decimals = rule.params.get("max_decimals", 2)
    shape = rf"^[0-9]+(\.[0-9]{{1,{decimals}}})?$"
    return col.str.contains(shape) & (col.cast(pl.Float64, strict=False) > 0)


def _amount_all(f: Failures) -> pl.Expr:
    decimals = int(f.rule.params.get("max_decimals", 2))
    text = f.value.fill_null("")
    return (pl.when(~text.str.contains(r"^-?[0-9]+(\.[0-9]+)?$"))
            .then(f.say(f"{f.label} must be a number of dollars such as 25 or 25.50; got ", f.got, "."))
            .when(text.str.contains(rf"\.[0-9]{{{decimals + 1},}}$"))
            .then(f.say(f"{f.label} has more than {decimals} decimals; got ", f.got, ". Round it to whole cents."))
            .otherwise(f.say(f"{f.label} must be more than 0; got ", f.got, ".")))


@kind("amount", _amount_ok, messages=_amount_all)
def _amount(f: Failure) -> str:
    decimals = int(f.rule.params.get("max_decimals", 2))
    text = f.value or ""
    if not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text):
        return f"{f.label} must be a number of dollars such as 25 or 25.50; got {f.got}."
    if "." in text and len(text.split(".")[1]) > decimals:
        return f"{f.label} has more than {decimals} decimals; got {f.got}. Round it to whole cents."
    return f"{f.label} must be more than 0; got {f.got}."


def _row_total_ok(col: pl.Expr, rule: Rule, book: RuleBook, today: dt.date) -> pl.Expr:
    total = col.cast(pl.Float64, strict=False) * pl.col("quantity").cast(pl.Float64, strict=False).fill_null(1.0)
    return total.is_finite() & (total <= float(book.max_row_amount))


@kind("row_total", _row_total_ok)
def _row_total(f: Failure) -> str:
    quantity = f.row.get("quantity") or "1"
    try:
        total = f"${Decimal(f.row.get(f.rule.field) or '0') * Decimal(quantity):,.2f}"
    except InvalidOperation:
        total = "not a number"
    shown = quote(f.value) if f.value is None or len(f.value) <= 20 else f"a number of {len(f.value)} digits"
    return (f"{f.label} × quantity is {total} (amount {shown}, quantity {quantity}), above the most one row may "
            f"order: ${f.book.max_row_amount:,.2f}.{f.fix}")


@kind("whole_number", lambda c, r, b, t: c.str.contains(r"^[0-9]+$")
      & (c.cast(pl.Int64, strict=False) >= r.params["min"]),
      messages=lambda f: f.say(f"{f.label} must be a whole number of {f.p['min']} or more; got ", f.got, f".{f.fix}"))
def _whole_number(f: Failure) -> str:
    return f"{f.label} must be a whole number of {f.p['min']} or more; got {f.got}.{f.fix}"


def _bulk_quantity_ok(col: pl.Expr, rule: Rule, book: RuleBook, today: dt.date) -> pl.Expr:
    bulk = [m for m, spec in book.methods.items() if spec["bulk_quantity"]]
    return (col.cast(pl.Int64, strict=False) <= 1) | METHOD.is_in(bulk)


@kind("bulk_quantity", _bulk_quantity_ok, messages=lambda f: f.say(
    f"{f.label} can be more than 1 only for BULKDIGITAL or BULKSHIPMENT; got ", f.got, f.on, f".{f.fix}"))
def _bulk_quantity(f: Failure) -> str:
    return f"{f.label} can be more than 1 only for BULKDIGITAL or BULKSHIPMENT; got {f.got}{f.on}.{f.fix}"


def _future_date_ok(col: pl.Expr, rule: Rule, book: RuleBook, today: dt.date) -> pl.Expr:
    first = today + dt.timedelta(days=_param(rule, "days"))
    parsed = col.str.to_date("%Y-%m-%d", strict=False)
    return col.str.contains(DATE_RE) & (parsed >= pl.lit(first))


@kind("future_date", _future_date_ok)
def _future_date(f: Failure) -> str:
    days = _param(f.rule, "days")
    try:
        date = dt.date.fromisoformat(f.row.get(f.rule.field) or "")
    except ValueError:
        return f"{f.label} must be a date such as {f.today + dt.timedelta(days=30)}; got {f.got}."
    first = f.today + dt.timedelta(days=days)
    return (f"{f.label} must be at least {days} days after the upload date ({f.today}), that is "
            f"{first} or later; got {date}.{f.fix}")


def _is_date(col: pl.Expr) -> pl.Expr:
    return col.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False).is_not_null()


@kind("date_or_datetime", lambda c, r, b, t: c.str.contains(DATETIME_RE) & _is_date(c),
      messages=lambda f: f.say(f"{f.label} must be a date or a date and time; got ", f.got, f".{f.fix}"))
def _date_or_datetime(f: Failure) -> str:
    return f"{f.label} must be a date or a date and time; got {f.got}.{f.fix}"


def _region_ok(col: pl.Expr, rule: Rule, book: RuleBook, today: dt.date) -> pl.Expr:
    country = pl.col("country")
    return (
        pl.when(country == "US").then(col.is_in(sorted(book.us_states)))
        .when(country == "CA").then(col.is_in(sorted(book.ca_provinces)))
        .otherwise(col.str.len_chars() <= rule.params["max_international"])
    )


def _region_all(f: Failures) -> pl.Expr:
    country = pl.col("country")
    return (pl.when(country == "US")
            .then(f.say(f"{f.label} must be a US state or territory code such as CA, NY or DC; got ", f.got, "."))
            .when(country == "CA")
            .then(f.say(f"{f.label} must be a Canadian province code such as ON, QC or BC; got ", f.got, "."))
            .otherwise(f.say(f"{f.label} may have at most {f.p['max_international']} characters for an address "
                             "outside the US and Canada; got ", f.got, ".")))


@kind("region", _region_ok, messages=_region_all)
def _region(f: Failure) -> str:
    country = f.row.get("country")
    if country == "US":
        return f"{f.label} must be a US state or territory code such as CA, NY or DC; got {f.got}."
    if country == "CA":
        return f"{f.label} must be a Canadian province code such as ON, QC or BC; got {f.got}."
    return (f"{f.label} may have at most {f.p['max_international']} characters for an address outside "
            f"the US and Canada; got {f.got}.")


def _postal_ok(col: pl.Expr, rule: Rule, book: RuleBook, today: dt.date) -> pl.Expr:
    return (
        pl.when(pl.col("country") == "US").then(col.str.contains(r"^[0-9]{5}$"))
        .otherwise(col.str.contains(r"^[0-9A-Za-z]{5,10}$"))
    )


@kind("postal", _postal_ok, messages=lambda f: pl.when(pl.col("country") == "US").then(
    f.say(f"{f.label} must be a 5-digit US ZIP code such as 02134; got ", f.got, ".")).otherwise(
    f.say(f"{f.label} must be 5 to 10 letters and digits; got ", f.got, ".")))
def _postal(f: Failure) -> str:
    if f.row.get("country") == "US":
        return f"{f.label} must be a 5-digit US ZIP code such as 02134; got {f.got}."
    return f"{f.label} must be 5 to 10 letters and digits; got {f.got}."


@kind("no_formula_start", lambda c, r, b, t: ~c.str.contains(FORMULA_START_RE))
def _no_formula_start(f: Failure) -> str:
    first = (f.value or "")[:1]
    if first.isprintable():
        return (f"{f.label} must not start with {first}: a spreadsheet opening it would take it for a formula; "
                f"got {f.got}.{f.fix}")
    return f"{f.label} must not start with an invisible control character (U+{ord(first):04X}).{f.fix}"


@kind("not_scientific", lambda c, r, b, t: ~c.str.contains(SCIENTIFIC_RE), messages=lambda f: f.say(
    f"{f.label} ", f.got, f" is in scientific notation, so digits were lost.{f.fix}"))
def _not_scientific(f: Failure) -> str:
    return f"{f.label} {f.got} is in scientific notation, so digits were lost.{f.fix}"


# A number in scientific notation is reported by its own rule, once.
@kind("mobile", lambda c, r, b, t: c.str.contains(US_MOBILE_RE) | c.str.contains(SCIENTIFIC_RE))
def _mobile(f: Failure) -> str:
    return (f"{f.label} must be a US mobile number such as +1 415 555 2671; got {f.got} "
            f"({phone_reason(f.value or '')}).{f.fix}")


def _phone_all(f: Failures) -> pl.Expr:
    whose = pl.when(f.method == "BULKSHIPMENT").then(pl.lit(" (the shipping contact's phone)")).otherwise(pl.lit(""))
    return f.say(f.label, whose, " must be a phone number with its country code, such as +1 415 555 2671; got ",
                 f.got, f".{f.fix}")


@kind("phone", lambda c, r, b, t: c.str.contains(E164_RE) | c.str.contains(SCIENTIFIC_RE), messages=_phone_all)
def _phone(f: Failure) -> str:
    whose = " (the shipping contact's phone)" if f.method == "BULKSHIPMENT" else ""
    return (f"{f.label}{whose} must be a phone number with its country code, such as "
            f"+1 415 555 2671; got {f.got}.{f.fix}")


def _pair_ok(col: pl.Expr, rule: Rule, book: RuleBook, today: dt.date) -> pl.Expr:
    full = pl.concat_str([col, pl.col(rule.params["other"])], separator=" ", ignore_nulls=True)
    return full.str.len_chars() <= _param(rule, "max")


@kind("pair_max_length", _pair_ok)
def _pair_max_length(f: Failure) -> str:
    other = f.p["other"]
    full = " ".join(v for v in (f.row.get(f.rule.field), f.row.get(other)) if v)
    return f"{f.p['name']} may have at most {f.p['max']} characters; got '{full}' ({len(full)}).{f.fix}"
