"""The words of messages for HR staff: how a value is quoted, what is wrong with a phone number,
which characters are not allowed, and the ASCII spelling that would pass.

These run only for failing rows, so they may take their time: this is where ``phonenumbers``
says precisely what is wrong with a mobile number.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from phonenumbers import NumberParseException

from rules.patterns import SCIENTIFIC_RE

__all__ = ["MAX_SHOWN", "ascii_suggestion", "chars_not_in", "phone_reason", "quote"]

MAX_SHOWN = 60


def quote(value: str | None) -> str:
    if value is None:
        return "an empty cell"
    shown = value if len(value) <= MAX_SHOWN else value[: MAX_SHOWN - 1] + "…"
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
        # the geocoder: 0.5 s and 100 MB of place names, loaded only for this message
        from phonenumbers import geocoder
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


def chars_not_in(value: str, pattern: str) -> str:
    """The characters of ``value`` that the character-set ``pattern`` does not allow, quoted."""
    allowed = re.compile(pattern.strip("^$").rstrip("*"))
    bad = sorted({ch for ch in value if not allowed.fullmatch(ch)})
    return " ".join(f"'{ch}'" for ch in bad)
