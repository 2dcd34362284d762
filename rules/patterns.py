"""Regular expressions shared by the normalizer, the checks and their messages."""

from __future__ import annotations

__all__ = ["DATETIME_RE", "DATE_RE", "E164_RE", "SCIENTIFIC_RE", "US_MOBILE_RE"]

SCIENTIFIC_RE = r"^[+-]?[0-9]+(\.[0-9]+)?[eE][+-]?[0-9]+$"
US_MOBILE_RE = r"^\+1[2-9][0-9]{2}[2-9][0-9]{6}$"
E164_RE = r"^\+[1-9][0-9]{6,14}$"
DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DATETIME_RE = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
               r"([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])?)?$")
