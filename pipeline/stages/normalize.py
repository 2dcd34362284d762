"""Normalize: turn the cells people type into the values Tango expects, and say what changed.

Input: a ``Sheet`` (text cells) and the campaign defaults. Output: one text column per Tango field (same
rows, same order) and a frame of warnings, one per value changed. Every step is a polars expression;
``phonenumbers`` is called only for the few mobile numbers the fast path cannot decide.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import phonenumbers
import polars as pl

from pipeline.frames import one_chunk
from pipeline.model import IDX, ROW, SHEET, issue_schema
from pipeline.stages.ingest import Sheet
from pipeline.stages.ingest.names import settle_split
from pipeline.stages.staging import Message, Stages
from rules import RuleBook
from rules.patterns import INVISIBLE_RE, SCIENTIFIC_RE

__all__ = ["Normalized", "normalize"]

KEEP_LINE_BREAKS = {"message"}
# text that reaches Tango as a name, an e-mail or an address: invisible characters taken out (INVISIBLE_RE)
VISIBLE_ONLY = {"firstName", "lastName", "email", "mobileNumber", "companyName", "streetLine1", "streetLine2", "city",
                "stateOrProvince", "postalCode", "country"}


@dataclass(frozen=True)
class Normalized:
    frame: pl.DataFrame      # IDX, ROW, SHEET, one text column per field
    warnings: pl.DataFrame   # issue_schema(), severity "warning"




@dataclass(frozen=True)
class Step:
    field: str
    rule: str
    value: Callable[[pl.Expr], pl.Expr]          # new value from the old
    message: Message


def _clean_space(col: pl.Expr, keep_breaks: bool) -> pl.Expr:
    pattern = r"[ \t\u00a0]+" if keep_breaks else r"\s+"
    if keep_breaks:          # a line break is one character, whichever system wrote it
        col = col.str.replace_all("\r\n", "\n", literal=True).str.replace_all("\r", "\n", literal=True)
    cleaned = col.str.replace_all(pattern, " ").str.strip_chars()
    if keep_breaks:
        cleaned = cleaned.str.replace_all(r" ?\n ?", "\n")
    return pl.when(cleaned.str.len_chars() > 0).then(cleaned)


def _mobile_fast(col: pl.Expr) -> pl.Expr:
    """The common US shapes: (415) 555-2671, 415.555.2671, 1-415-555-2671, +1 415 555 2671."""
    digits = col.str.replace_all(r"[\s().\-/]", "")
    return (
        pl.when(col.str.contains(SCIENTIFIC_RE)).then(col)
        .when(digits.str.contains(r"^[0-9]{10}$")).then(pl.lit("+1") + digits)
        .when(digits.str.contains(r"^1[0-9]{10}$")).then(pl.lit("+") + digits)
        .when(digits.str.contains(r"^\+[0-9]{8,15}$")).then(digits)
        .otherwise(col)
    )


def _mobile_slow(value: str) -> str:
    """For what the fast path left: a valid number in any national shape becomes E.164."""
    try:
        number = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException:
        return value
    if phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return value


def _amount(col: pl.Expr) -> pl.Expr:
    stripped = col.str.replace(r"^(USD|US\$|\$)\s*", "").str.replace(r"\s*(USD)$", "")
    thousands = stripped.str.contains(r"^[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$")
    return pl.when(thousands).then(stripped.str.replace_all(",", "")).otherwise(stripped)


def _method(book: RuleBook) -> Callable[[pl.Expr], pl.Expr]:
    def value(col: pl.Expr) -> pl.Expr:
        method = col.str.to_uppercase().replace(book.method_aliases)
        return pl.when(method.is_in(list(book.methods))).then(method).otherwise(col)
    return value


def _country(book: RuleBook) -> Callable[[pl.Expr], pl.Expr]:
    def value(col: pl.Expr) -> pl.Expr:
        upper = col.str.to_uppercase()
        return upper.replace(book.country_names)
    return value


def _region(book: RuleBook) -> Callable[[pl.Expr], pl.Expr]:
    """ma -> MA; Massachusetts -> MA, Québec -> QC (a state's or province's name, as its code)."""
    def value(col: pl.Expr) -> pl.Expr:
        upper = col.str.to_uppercase()
        named = upper.str.replace_all(r"\s+", " ").replace_strict(book.region_names, default=None,
                                                                   return_dtype=pl.String)
        return (pl.when(col.str.contains(r"^[A-Za-z]{2}$")).then(upper)
                .when(named.is_not_null()).then(named).otherwise(col))
    return value


def _zip_zeros(col: pl.Expr) -> pl.Expr:      # a US ZIP of 3 or 4 digits lost its leading zeros to Excel
    us = pl.col("country") == "US"
    return pl.when(us & col.str.contains(r"^[0-9]{3,4}$")).then(col.str.zfill(5)).otherwise(col)


def _zip_plus4(col: pl.Expr) -> pl.Expr:
    us = pl.col("country") == "US"
    return pl.when(us & col.str.contains(r"^[0-9]{5}-?[0-9]{4}$")).then(col.str.slice(0, 5)).otherwise(col)


def _postal_spaces(col: pl.Expr) -> pl.Expr:
    """Outside the US: H2X 1Y4 -> H2X1Y4 (Tango allows letters and digits only)."""
    other = pl.col("country") != "US"
    grouped = col.str.contains(r"^[0-9A-Za-z]+([ -][0-9A-Za-z]+)+$")
    return pl.when(other & grouped).then(col.str.replace_all(r"[ -]", "").str.to_uppercase()).otherwise(col)


DATE_ORDERS = {"MDY": ("%m/%d/%Y", "month/day/year"), "DMY": ("%d/%m/%Y", "day/month/year")}


def _slash_date(order: str) -> Callable[[pl.Expr], pl.Expr]:
    """12/24/2026 -> 2026-12-24 (the US order Excel exports use), or 24/12/2026 for a campaign whose
    date_order is "DMY"."""
    def value(col: pl.Expr) -> pl.Expr:
        parsed = col.str.to_date(DATE_ORDERS[order][0], strict=False)
        four_digit_year = col.str.contains(r"^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$")
        return pl.when(four_digit_year & parsed.is_not_null()).then(parsed.dt.to_string("%Y-%m-%d")).otherwise(col)
    return value


def _excel_datetime(col: pl.Expr) -> pl.Expr:      # a date-and-time cell reads as '2027-06-30 23:59:00': ISO's T
    return col.str.replace(r"^([0-9]{4}-[0-9]{2}-[0-9]{2}) ([0-9]{2}:[0-9]{2}:[0-9]{2})$", "${1}T$2")


def _shipping(col: pl.Expr) -> pl.Expr:
    return col.str.to_lowercase().str.replace_all(r"[^0-9a-z]", "")


def _changed(label: str, what: str) -> Message:
    def message(old: pl.Expr, new: pl.Expr) -> pl.Expr:
        return pl.format(f"{label}: {what} ('{{}}' became '{{}}').", old, new)
    return message


def _invisible(label: str) -> Message:
    def message(old: pl.Expr, new: pl.Expr) -> pl.Expr:      # the old value is not quoted: it shows reversed
        return pl.format(f"{label}: invisible or text-direction characters removed; it is now '{{}}'.", new)
    return message


def steps(book: RuleBook, labels: dict[str, str]) -> list[Step]:
    lab = labels.__getitem__
    return [
        Step("deliveryMethod", "deliveryMethod.normalized", _method(book),
             _changed(lab("deliveryMethod"), "read as a Tango delivery method")),
        Step("mobileNumber", "mobileNumber.e164", _mobile_fast,
             _changed(lab("mobileNumber"), "written in the international format (+country code)")),
        Step("amount", "amount.number", _amount,
             _changed(lab("amount"), "currency sign and thousands separators removed")),
        Step("country", "country.code", _country(book),
             _changed(lab("country"), "written as a 2-letter country code")),
        Step("stateOrProvince", "stateOrProvince.upper", _region(book),
             _changed(lab("stateOrProvince"), "written as its 2-letter code")),
        Step("postalCode", "postalCode.zeros", _zip_zeros,
             _changed(lab("postalCode"), "leading zeros Excel dropped restored")),
        Step("postalCode", "postalCode.zip5", _zip_plus4,
             _changed(lab("postalCode"), "ZIP+4 cut to the 5-digit ZIP Tango accepts")),
        Step("postalCode", "postalCode.compact", _postal_spaces,
             _changed(lab("postalCode"), "spaces removed (Tango allows letters and digits only)")),
        Step("deliveryDate", "deliveryDate.iso", _slash_date(book.date_order),
             _changed(lab("deliveryDate"), f"read as {DATE_ORDERS[book.date_order][1]}")),
        Step("expirationDate", "expirationDate.iso", _slash_date(book.date_order),
             _changed(lab("expirationDate"), f"read as {DATE_ORDERS[book.date_order][1]}")),
        Step("shippingMethod", "shippingMethod.normalized", _shipping,
             _changed(lab("shippingMethod"), "written as Tango's shipping-method code")),
    ]


# cells whose spaces the cleaning changes: a space at either end, two in a row, any other kind of
# space (a tab, a line break, a no-break space), or nothing at all; a column with none is left as it is
MESSY = r"^$|^\s|\s$|\s\s|[^\S ]"
MESSY_KEEPING_BREAKS = r"^$|^\s|\s$|\r|[\t\u00a0]|  | \n|\n "


def normalize(sheet: Sheet, book: RuleBook, defaults: Mapping[str, str] | None = None) -> Normalized:
    defaults = defaults or {}
    labels = sheet.labels(book)
    cols = {f: sheet.columns_of(f) for f in set(sheet.fields.values()) if f in book.labels}
    frame = sheet.frame.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias(IDX),
        pl.col(ROW),
        pl.col(SHEET),
        # a field each sheet of the upload has a column for: each row's own sheet's cell
        *[(pl.coalesce(cols[f]) if f in cols else pl.lit(None, pl.String)).alias(f) for f in book.fields],
    )
    # which columns hold invisible characters or spaces to clean at all (most files: few or none)
    visible = [f for f in cols if f in VISIBLE_ONLY]
    found = frame.select(
        *[pl.col(f).str.contains(INVISIBLE_RE).any().alias(f"invisible {f}") for f in visible],
        *[pl.col(f).str.contains(MESSY_KEEPING_BREAKS if f in KEEP_LINE_BREAKS else MESSY).any().alias(f"messy {f}")
          for f in cols]).row(0, named=True) if cols else {}
    invisible = [f for f in visible if found[f"invisible {f}"]]
    stages, initial = Stages(frame), frame
    # 0. invisible and text-direction characters (a right-to-left override, a zero-width space)
    stages.add([(f, pl.col(f).str.replace_all(INVISIBLE_RE, ""), "text.invisible", _invisible(labels[f]))
                for f in invisible])
    # 1. whitespace, on the cells as written (taking invisible characters out may leave spaces to clean)
    stages.add([(f, _clean_space(pl.col(f), f in KEEP_LINE_BREAKS), "whitespace",
                 _changed(labels[f], "extra spaces removed")) for f in cols if found[f"messy {f}"] or f in invisible])
    # 2. campaign defaults fill the empty cells (a filled value is not a change of the user's cell), and a
    # date-and-time cell gets ISO 8601's T
    has_cell = [pl.col(f).is_not_null().alias(f"{f}#cell") for f in cols]
    filled = {f: pl.col(f).fill_null(pl.lit(v)) for f, v in defaults.items()}
    present = set(cols) | set(defaults)      # a field with neither is empty on every row: no step changes it
    if "expirationDate" in present:
        filled["expirationDate"] = _excel_datetime(filled.get("expirationDate", pl.col("expirationDate")))
    stages.query = stages.query.with_columns(*has_cell, *[v.alias(f) for f, v in filled.items()])
    # 3. one step per field, each change a warning on the cell the user wrote; the fields' own steps
    # at once, then the postal code's, which depend on the country found in the first
    ordered = [s for s in steps(book, labels) if s.field in present]
    postal = [s for s in ordered if s.field == "postalCode"]
    stages.add([(s.field, s.value(pl.col(s.field)), s.rule, s.message) for s in ordered if s not in postal],
               cells_only=True)
    for step in postal:
        stages.add([(step.field, step.value(pl.col(step.field)), step.rule, step.message)], cells_only=True)
    order = {s.rule: n for n, s in enumerate(ordered)}       # a row's warnings in the steps' order
    changes = sorted(stages.changes, key=lambda c: (c.rule in order, order.get(c.rule, 0)))
    mobile = ["mobileNumber", *(c.after for c in stages.changes if c.field == "mobileNumber")]
    frame, warnings = stages.collected(lambda staged: _mobile_fallback(staged, mobile), changes, set(cols),
                                       [IDX, ROW, SHEET, *book.fields])
    # in one piece, a field no step changed kept as read: a million rows' unchanged cells held once
    frame = one_chunk(frame, reuse=initial, same=set(book.fields) - {c.field for c in stages.changes} - set(filled))
    frame, split = settle_split(frame, sheet, book)      # a whole name split in two, checked on its rows
    issues = pl.concat([*warnings, *([split] if split is not None else [])], how="vertical") \
        if warnings or split is not None else pl.DataFrame(schema=issue_schema())
    return Normalized(frame=frame, warnings=issues)


def _mobile_fallback(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """The mobile numbers the fast path left, in ``columns`` (the field, and its value after its step)."""
    col = pl.col("mobileNumber")
    undecided = frame.filter(col.is_not_null() & ~col.str.contains(r"^\+[0-9]{8,15}$")
                             & ~col.str.contains(SCIENTIFIC_RE))["mobileNumber"].unique()
    if undecided.is_empty():
        return frame
    mapping = {v: _mobile_slow(v) for v in undecided.to_list()}
    return frame.with_columns(pl.col(c).replace(mapping) for c in columns)
