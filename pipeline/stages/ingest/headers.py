"""Which column of a header row means which Tango field: the rule data's aliases, a campaign's
``[columns]``, the report's own columns, and headers that look like a field that decides what is
ordered but are no name this pipeline knows (which stop the file rather than leave its rows to a
campaign default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.errors import InputError
from rules import RuleBook, header_key

if TYPE_CHECKING:
    from pipeline.stages.ingest.sheet import Grid

__all__ = ["Columns", "map_columns"]


@dataclass(frozen=True)
class Columns:
    keep: list[int]              # the input columns kept, by position
    headers: list[str]
    fields: dict[int, str]       # position -> field
    row_column: int | None       # in one of this pipeline's reports: its Row column (original numbers)
    notices: list[str]           # what was done to the columns that the user should know


def map_columns(grid: Grid, header_row: int, header_cells: list[str | None], book: RuleBook) -> Columns:
    """Which input columns to keep, their header texts, and the field each recognized one means."""
    reports = {header_key(c) for c in book.report_columns}
    dropped = reports if grid.ours else set()
    notices: list[str] = []
    keep: list[int] = []
    headers: list[str] = []
    fields: dict[int, str] = {}
    seen: dict[str, tuple[str, str]] = {}
    row_column = None
    meanings = book.meanings(header_cells)
    for i, cell in enumerate(header_cells):
        text = (cell or "").strip()
        key = header_key(text)
        if key in dropped:
            row_column = i if key == "row" else row_column
            continue
        if key in reports and not grid.ours:       # the sheet's own column, not one of our reports'
            notices.append(f"column '{text}' ({grid.letters[i]}) has the name of a column this pipeline writes in "
                           f"its reports; it is kept as '{text} (from sheet)'")
            text = f"{text} (from sheet)"
        meant = meanings[i]
        if meant:
            if meant in seen:
                first, first_letter = seen[meant]
                raise InputError(
                    str(grid.path),
                    f"columns '{first}' ({first_letter}) and '{text}' ({grid.letters[i]}) both mean "
                    f"{book.label(meant)}; delete or rename one of them, or name the one to read in the campaign "
                    f"file: [columns] \"{first}\" = \"{meant}\"", sheet=grid.sheet, row=header_row)
            seen[meant] = (text, grid.letters[i])
            fields[i] = meant
        keep.append(i)
        headers.append(text or f"Column {grid.letters[i]}")
    _lookalikes(grid, header_row, header_cells, set(fields.values()), book)
    return Columns(keep, headers, fields, row_column, notices)


def _lookalikes(grid: Grid, header_row: int, header_cells: list[str | None], mapped: set[str],
                book: RuleBook) -> None:
    """A header such as 'Amount (USD)' that is no alias would leave the rows to a default amount."""
    for i, cell in enumerate(header_cells):
        key = header_key(cell or "")
        if not cell or not key or key in book.aliases:
            continue
        for word, meant in book.lookalikes.items():
            if word in key and meant not in mapped:
                raise InputError(
                    str(grid.path), f"column '{cell.strip()}' ({grid.letters[i]}) looks like {book.labels[meant]} "
                    f"but is not a name this pipeline knows, so it would be ignored and the campaign default "
                    f"used instead; rename it '{book.labels[meant]}', or map it in the campaign file: [columns] "
                    f"\"{cell.strip()}\" = \"{meant}\" (or rename it if it is not that)", sheet=grid.sheet,
                    row=header_row)
