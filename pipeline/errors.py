"""The errors the pipeline raises for whole files and for the command line.

Row-level problems are not exceptions: they are records in the issues frame (see
``pipeline.validate``). These exceptions are for what stops a whole file or the whole command.
"""

from __future__ import annotations

__all__ = ["InputError", "UsageError"]


class UsageError(Exception):
    """A wrong command line or campaign file: nothing is read, exit 64."""


class InputError(Exception):
    """A file that cannot be read as a sheet of recipients: the file is skipped, exit 2.

    The message names the file and, where known, the sheet, row and column.
    """

    def __init__(self, file: str, reason: str, *, sheet: str | None = None,
                 row: int | None = None, column: str | None = None) -> None:
        self.file, self.reason, self.sheet, self.row, self.column = file, reason, sheet, row, column
        where = [file]
        if sheet:
            where.append(f"sheet '{sheet}'")
        if row:
            where.append(f"row {row}")
        if column:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {reason}")
