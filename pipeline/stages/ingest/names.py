"""A sheet with one column for the whole name ("Employee Name", "Full Name") and none for the first
or the last name: the name is split into both, in two columns added beside it, with a warning on
each row so that a person checks the split ("Lee, Ann" and "Ann Lee" both give Ann / Lee; "Maria
van der Berg" gives Maria / van der Berg). The added columns appear in the report, so a row whose
split is wrong is fixed there and uploaded again, when the sheet has the two columns and nothing is
split.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipeline.model import ROW
from rules import FULL_NAME, RuleBook

__all__ = ["Split", "split_name", "split_names"]

SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"})   # stay with the last name


def split_name(text: str, particles: frozenset[str]) -> tuple[str | None, str | None]:
    """(first, last) of a whole name; a single word is a first name only."""
    name = " ".join(text.split())
    if "," in name:                              # "Lee, Ann": the last name first
        last, _, first = (p.strip() for p in name.partition(","))
        if first and last and "," not in first:
            return first, last
        name = " ".join(p for p in (first, last) if p)
    words = name.split(" ") if name else []
    if not words:
        return None, None
    if len(words) == 1:
        return words[0], None
    end = len(words) - 1
    if end > 1 and words[end].casefold() in SUFFIXES:
        end -= 1
    start = next((i for i in range(1, end) if words[i].casefold() in particles), end)
    return " ".join(words[:start]), " ".join(words[start:])


@dataclass(frozen=True)
class Split:
    """The two columns added: their frame names and headers, and the warning of each row."""
    frame: pl.DataFrame
    columns: tuple[str, str]
    headers: tuple[str, str]
    warnings: list[tuple[int, str]]       # (row number, text), said on the first-name column
    after: str                            # the full-name column, which they follow


def split_names(data: pl.DataFrame, fields: dict[str, str], headers: dict[str, str], book: RuleBook,
                names: tuple[str, str]) -> Split | None:
    """The frame with first and last name columns (``names``) split from its full-name column, when
    it has one and neither of the other two."""
    have = set(fields.values())
    if FULL_NAME not in have or have & {"firstName", "lastName"}:
        return None
    column = next(c for c, f in fields.items() if f == FULL_NAME)
    values = data[column].drop_nulls().unique().to_list()
    parts = {v: split_name(v, book.particles) for v in values}
    first_label, last_label = book.labels["firstName"], book.labels["lastName"]
    frame = data.with_columns(
        pl.col(column).replace_strict({v: f for v, (f, _) in parts.items()}, default=None,
                                      return_dtype=pl.String).alias(names[0]),
        pl.col(column).replace_strict({v: last for v, (_, last) in parts.items()}, default=None,
                                      return_dtype=pl.String).alias(names[1]))
    said = headers[column]
    warnings = []
    for row, whole in frame.select(ROW, column).filter(pl.col(column).is_not_null()).iter_rows():
        first, last = parts[whole]
        if first is None:
            continue
        got = f"'{first}' and " + (f"{last_label} '{last}'" if last else f"no {last_label}")
        warnings.append((row, f"{got} split from {said} '{' '.join(whole.split())}'; check both (or give the "
                              f"sheet {first_label} and {last_label} columns)."))
    return Split(frame, names, (first_label, last_label), warnings, column)
