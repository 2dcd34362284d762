"""A sheet with one column for the whole name ("Employee Name", "Full Name") and none for the first
or the last name: the name is split into both, in two columns added beside it, with a warning on
each row so that a person checks the split ("Lee, Ann" and "Ann Lee" both give Ann / Lee; "Maria
van der Berg" gives Maria / van der Berg). The added columns appear in the report, so a row whose
split is wrong is fixed there and uploaded again, when the sheet has the two columns and nothing is
split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from pipeline.model import IDX, SHEET, Severity, issue_schema
from rules import FULL_NAME, RuleBook

if TYPE_CHECKING:
    from pipeline.stages.ingest.sheet import Sheet

__all__ = ["Split", "settle_split", "split_name", "split_names"]

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
    """The two columns added: their frame names and headers."""
    frame: pl.DataFrame
    columns: tuple[str, str]
    headers: tuple[str, str]
    after: str                            # the full-name column, which they follow


def split_names(data: pl.DataFrame, fields: dict[str, str], book: RuleBook, names: tuple[str, str]) -> Split | None:
    """The frame with first and last name columns (``names``) split from its full-name column, when
    it has one and neither of the other two."""
    have = set(fields.values())
    if FULL_NAME not in have or have & {"firstName", "lastName"}:
        return None
    column = next(c for c, f in fields.items() if f == FULL_NAME)
    parts = {v: split_name(v, book.particles) for v in data[column].drop_nulls().unique().to_list()}
    frame = data.with_columns(
        pl.col(column).replace_strict({v: f for v, (f, _) in parts.items()}, default=None,
                                      return_dtype=pl.String).alias(names[0]),
        pl.col(column).replace_strict({v: last for v, (_, last) in parts.items()}, default=None,
                                      return_dtype=pl.String).alias(names[1]))
    return Split(frame, names, (book.labels["firstName"], book.labels["lastName"]), column)


def settle_split(frame: pl.DataFrame, sheet: Sheet, book: RuleBook) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """The normalized rows with a split name left off the lines that have no recipient (BULKDIGITAL,
    BULKSHIPMENT: there the "Name" column names something else), and a warning on every row that
    keeps one, to check it."""
    parts = [p for p in sheet.parts if p.split]
    if not parts:
        return frame, None
    no_recipient = [m for m, spec in book.methods.items() if spec["recipient"] == "not allowed"]
    blank = pl.col(SHEET).is_in([p.key for p in parts]) & pl.col("deliveryMethod").is_in(no_recipient)
    frame = frame.with_columns(pl.when(blank).then(None).otherwise(pl.col(f)).alias(f)
                               for f in ("firstName", "lastName"))
    first, last = book.labels["firstName"], book.labels["lastName"]
    warnings = []
    for part in parts:
        column = next(c for c, f in part.fields.items() if f == FULL_NAME)
        said = part.headers[part.columns.index(column)]
        whole = sheet.frame[column].str.replace_all(r"\s+", " ").str.strip_chars()
        split = pl.col("lastName").is_not_null()
        warnings.append(frame.with_columns(whole.alias("_whole")).filter(
            (pl.col(SHEET) == part.key) & pl.col("firstName").is_not_null()).select(
            IDX, pl.lit("firstName").alias("field"), pl.lit("name.split").alias("rule"),
            pl.lit(Severity.WARNING.value).alias("severity"),
            pl.format(f"{first}: '{{}}' and {{}} split from {said} '{{}}'; check both (or give the sheet {first} "
                      f"and {last} columns).", pl.col("firstName"),
                      pl.when(split).then(pl.format(f"{last} '{{}}'", pl.col("lastName")))
                      .otherwise(pl.lit(f"no {last}")), pl.col("_whole")).alias("text")))
    return frame, pl.concat(warnings).select(list(issue_schema()))
