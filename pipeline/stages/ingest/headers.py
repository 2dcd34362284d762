"""Which column of a header row means which Tango field: the rule data's aliases, a campaign's
``[columns]``, the report's own columns, and headers that look like a field that decides what is
ordered but are no name this pipeline knows (which stop the file rather than leave its rows to a
campaign default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.errors import InputError
from rules import FULL_NAME, RuleBook, header_key

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
    row_column = None
    meanings = _settled(grid, header_row, header_cells, book, notices)
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
            fields[i] = meant
        keep.append(i)
        headers.append(text or f"Column {grid.letters[i]}")
    _lookalikes(grid, header_row, header_cells, set(fields.values()), book)
    return Columns(keep, headers, fields, row_column, notices)


def _settled(grid: Grid, header_row: int, header_cells: list[str | None], book: RuleBook,
             notices: list[str]) -> list[str | None]:
    """The field each header means, one column per field: a campaign's choice, else an alias over a
    name of an HR system ("Email" over "Work Email", the other kept as an ordinary column, said); a
    full name only where the sheet has no first or last name. Two columns left for one field stop the
    file, saying how to choose."""
    meanings = book.meanings(header_cells)
    keys = [header_key(c or "") for c in header_cells]
    if {"firstName", "lastName"} & set(meanings):        # the name is in its own columns: nothing to split
        meanings = [None if m == FULL_NAME else m for m in meanings]
    for meant in dict.fromkeys(m for m in meanings if m):
        at = [i for i, m in enumerate(meanings) if m == meant]
        if len(at) == 1:
            continue
        strong = [i for i in at if keys[i] in book.chosen or keys[i] not in book.weak]
        if len(strong) != 1:
            first, second = (strong if len(strong) > 1 else at)[:2]
            one, other = _text(header_cells[first]), _text(header_cells[second])
            raise InputError(
                str(grid.path),
                f"columns '{one}' ({grid.letters[first]}) and '{other}' ({grid.letters[second]}) both mean "
                f"{book.label(meant)}; delete or rename one of them, or name the one to read in the campaign file: "
                f"[columns] \"{one}\" = \"{meant}\"", sheet=grid.sheet, row=header_row)
        for i in at:
            if i != strong[0]:
                meanings[i] = None
                notices.append(f"column '{_text(header_cells[i])}' ({grid.letters[i]}) also looks like "
                               f"{book.label(meant)}; '{_text(header_cells[strong[0]])}' "
                               f"({grid.letters[strong[0]]}) is read, the other kept as it is (to read it instead, "
                               f"name it in the campaign file: [columns] \"{_text(header_cells[i])}\" = \"{meant}\")")
    return meanings


def _text(cell: str | None) -> str:
    return (cell or "").strip()


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
