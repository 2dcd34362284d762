"""Regular expressions shared by the normalizer, the checks and their messages."""

from __future__ import annotations

__all__ = ["DATETIME_RE", "DATE_RE", "E164_RE", "FORMULA_START_RE", "INVISIBLE_RE", "SCIENTIFIC_RE", "US_MOBILE_RE"]

SCIENTIFIC_RE = r"^[+-]?[0-9]+(\.[0-9]+)?[eE][+-]?[0-9]+$"
US_MOBILE_RE = r"^\+1[2-9][0-9]{2}[2-9][0-9]{6}$"
E164_RE = r"^\+[1-9][0-9]{6,14}$"
DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DATETIME_RE = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
               r"([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])?)?$")
# Characters no one sees that change what a text says or how it shows: bidi embeddings and
# overrides (U+202A-U+202E), bidi isolates (U+2066-U+2069), zero-width space (U+200B), word joiner
# (U+2060) and zero-width no-break space / BOM (U+FEFF). U+200C and U+200D (zero-width non-joiner and
# joiner) are not among them: Persian and Indic names need them.
INVISIBLE_RE = "[\u202a-\u202e\u2066-\u2069\u200b\u2060\ufeff]"
# A text a spreadsheet would take for a formula (=, +, -, @), or that starts with a control character
FORMULA_START_RE = "^[=+\\-@\u0000-\u001f\u007f]"
