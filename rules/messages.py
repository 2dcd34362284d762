"""Messages for HR staff: the field, the value, the rule and how to fix it.

``explain`` words one failed rule for one row. It runs only for failing rows, so it may take its
time: this is where ``phonenumbers`` says precisely what is wrong with a mobile number.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import phonenumbers
from phonenumbers import NumberParseException, geocoder

from rules import Rule, RuleBook
from rules.schema import SCIENTIFIC_RE

__all__ = ["explain", "ascii_suggestion", "phone_reason", "quote"]

_MAX_SHOWN = 60


def quote(value: str | None) -> str:
    if value is None:
        return "an empty cell"
    shown = value if len(value) <= _MAX_SHOWN else value[: _MAX_SHOWN - 1] + "…"
    return f"'{shown}'"


def ascii_suggestion(value: str, pattern: str) -> str | None:
    """'José' -> 'Jose' when dropping accents is all it takes to satisfy ``pattern``."""
    folded = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    folded = re.sub(r"\s+", " ", folded).strip()
    if folded and folded != value and re.fullmatch(pattern.strip("^$"), folded):
        return folded
    return None


def phone_reason(value: str) -> str:
    """Why ``value`` is not a US mobile number, in a few words."""
    digits = re.sub(r"\D", "", value)
    if re.fullmatch(SCIENTIFIC_RE, value):
        return "it is in scientific notation, so digits were lost"
    try:
        number = phonenumbers.parse(value, "US")
    except NumberParseException:
        return "it is not a phone number"
    if number.country_code != 1:
        region = phonenumbers.region_code_for_number(number)
        where = geocoder.country_name_for_number(number, "en") or region or "a non-US"
        return f"it is a {where} number (+{number.country_code}); Tango texts US numbers only"
    national = str(number.national_number)
    if len(national) < 10:
        return f"it has {len(digits)} digits; a US number has 10 plus the area code's 1"
    if len(national) > 10:
        return "it has too many digits"
    if not phonenumbers.is_valid_number(number):
        return f"{national[:3]} {national[3:6]} {national[6:]} is not a valid US number"
    return "it is not written as +1 and 10 digits"


def _chars_not_in(value: str, pattern: str) -> str:
    allowed = re.compile(pattern.strip("^$").rstrip("*"))
    bad = sorted({ch for ch in value if not allowed.fullmatch(ch)})
    return " ".join(f"'{ch}'" for ch in bad)


def explain(rule: Rule, book: RuleBook, *, label: str, value: str | None, method: str | None,
            row: dict[str, str | None], today: dt.date, has_column: bool = True) -> str:
    """The message for ``rule`` failing on one row; ``value`` is the cell as the user wrote it."""
    p = rule.params
    on = f" for {method} delivery" if rule.methods is not None and method else ""
    fix = f" {rule.fix}" if rule.fix else ""
    got = quote(value)
    kind = rule.kind
    if kind == "required":
        if not has_column:
            return (f"{label} is required{on}, and the sheet has no {label} column (nor a campaign "
                    f"default). Add the column, or rename the one that holds it to '{label}'.")
        return f"{label} is required{on}; the cell is empty.{fix}"
    if kind == "forbidden":
        return f"{label} must be empty{on}; got {got}.{fix}"
    if kind == "max_length":
        n = len(row.get(rule.field) or value or "")
        return f"{label} may have at most {p['max']} characters{on}; got {got} ({n} characters).{fix}"
    if kind == "charset":
        charset = book.charsets[p["charset"]]
        suggestion = ascii_suggestion(value or "", charset["pattern"])
        hint = f" Write '{suggestion}' instead." if suggestion else " Remove or replace them."
        return (f"{label} may contain only {charset['describe']}{on}; got {got} "
                f"(not allowed: {_chars_not_in(value or '', charset['pattern'])}).{hint}")
    if kind == "no_chars":
        shown = " ".join(p["chars"])
        return f"{label} must not contain {shown}{on}; got {got}.{fix}"
    if kind in ("pattern", "one_of"):
        return f"{label} must be {p['expect']}; got {got}.{fix}"
    if kind == "amount":
        return _amount_message(label, value, p.get("max_decimals", 2))
    if kind == "whole_number":
        return f"{label} must be a whole number of {p['min']} or more; got {got}.{fix}"
    if kind == "bulk_quantity":
        return f"{label} can be more than 1 only for BULKDIGITAL or BULKSHIPMENT; got {got}{on}.{fix}"
    if kind == "future_date":
        return _date_message(label, value, row.get(rule.field), p["days"], today, fix)
    if kind == "date_or_datetime":
        return f"{label} must be a date or a date and time; got {got}.{fix}"
    if kind == "region":
        return _region_message(label, got, row.get("country"), p["max_international"])
    if kind == "postal":
        if row.get("country") == "US":
            return f"{label} must be a 5-digit US ZIP code such as 02134; got {got}."
        return f"{label} must be 5 to 10 letters and digits; got {got}."
    if kind == "not_scientific":
        return f"{label} {got} is in scientific notation, so digits were lost.{fix}"
    if kind == "mobile":
        return (f"{label} must be a US mobile number such as +1 415 555 2671; got {got} "
                f"({phone_reason(value or '')}).{fix}")
    if kind == "phone":
        whose = " (the shipping contact's phone)" if method == "BULKSHIPMENT" else ""
        return (f"{label}{whose} must be a phone number with its country code, such as "
                f"+1 415 555 2671; got {got}.{fix}")
    if kind == "pair_max_length":
        full = " ".join(v for v in (row.get(rule.field), row.get(p["other"])) if v)
        return f"{p['name']} may have at most {p['max']} characters; got '{full}' ({len(full)}).{fix}"
    raise ValueError(f"no message for rule kind {kind!r}")


def _amount_message(label: str, value: str | None, decimals: int) -> str:
    got = quote(value)
    text = value or ""
    if not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text):
        return f"{label} must be a number of dollars such as 25 or 25.50; got {got}."
    if "." in text and len(text.split(".")[1]) > decimals:
        return f"{label} has more than {decimals} decimals; got {got}. Round it to whole cents."
    return f"{label} must be more than 0; got {got}."


def _date_message(label: str, value: str | None, normalized: str | None, days: int,
                  today: dt.date, fix: str) -> str:
    got = quote(value)
    try:
        date = dt.date.fromisoformat(normalized or "")
    except ValueError:
        return f"{label} must be a date such as {today + dt.timedelta(days=30)}; got {got}."
    first = today + dt.timedelta(days=days)
    return (f"{label} must be at least {days} days after the upload date ({today}), that is "
            f"{first} or later; got {date}.{fix}")


def _region_message(label: str, got: str, country: str | None, limit: int) -> str:
    if country == "US":
        return f"{label} must be a US state or territory code such as CA, NY or DC; got {got}."
    if country == "CA":
        return f"{label} must be a Canadian province code such as ON, QC or BC; got {got}."
    return f"{label} may have at most {limit} characters for an address outside the US and Canada; got {got}."
