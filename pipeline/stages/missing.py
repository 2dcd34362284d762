"""A column a rule needs and the sheet does not have: said once for the file (on the console, the
Summary and ``summary.json``), with the sheet's closest header as a suggestion and the exact line
to add under ``[columns]`` in the campaign file, rather than only on every row.
"""

from __future__ import annotations

from difflib import SequenceMatcher

import polars as pl

from pipeline.model import Severity
from pipeline.stages.ingest import Sheet
from rules import RuleBook, header_key

__all__ = ["closest_header", "missing_columns"]

SIMILAR = 0.6        # how alike (0 to 1) a header and a field's name must be to be suggested


def closest_header(field: str, headers: list[str], book: RuleBook) -> str | None:
    """The header most like one of the field's names, if any is alike enough."""
    names = [key for key, f in book.aliases.items() if f == field]
    best, best_score = None, SIMILAR
    for header in headers:
        key = header_key(header)
        if not key:
            continue
        similar = max(SequenceMatcher(None, key, name).ratio() for name in names)
        if similar > best_score:
            best, best_score = header, similar
    return best


def missing_columns(sheet: Sheet, issues: pl.DataFrame, book: RuleBook) -> tuple[str, ...]:
    """One sentence per field some row needs and no column of the sheet holds."""
    required = {r.id for r in book.rules if r.kind == "required"}
    have = set(sheet.fields.values())
    needed = (issues.filter((pl.col("severity") == Severity.ERROR.value) & pl.col("rule").is_in(list(required))
                            & ~pl.col("field").is_in(list(have)))
              .group_by("field", maintain_order=True).len())
    unmapped = [h for c, h in zip(sheet.columns, sheet.headers, strict=True) if c not in sheet.fields]
    out = []
    for field, rows in needed.iter_rows():
        label = book.labels[field]
        need = "1 row needs" if rows == 1 else f"{rows} rows need"
        head = f"the sheet has no {label} column, which {need}"
        near = closest_header(field, unmapped, book)
        if near is not None:
            out.append(f"{head}. If column '{near}' holds it, add this line under [columns] in the campaign "
                       f"file: \"{near}\" = \"{field}\" (or rename the column '{label}')")
        else:
            out.append(f"{head}: add a column named '{label}', or map the column that holds it under [columns] in "
                       f"the campaign file, as in \"Your header\" = \"{field}\"")
    return tuple(out)
