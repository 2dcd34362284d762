"""A frame's rows as mappings that read its columns only when asked.

A run plans every valid row of an upload, and a 100,000-row upload made into 100,000 dicts of thirty
cells costs seconds and hundreds of megabytes before anything is decided. ``Columns`` turns a column
into a Python list the first time a row asks for it, once for all rows; ``RowFields`` is one row
over them. A preview (``validate``) then reads the few columns its checks need; a run reads the
rest when it builds the payloads of the lines it sends.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import polars as pl

__all__ = ["Columns", "Picked", "RowFields", "as_dict"]


class Columns:
    """A frame's columns, each made a Python list on first use; an absent column reads as empty."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame
        self.names = tuple(frame.columns)
        self._known = frozenset(self.names)
        self.lists: dict[str, list[Any]] = {}
        self._filled: list[tuple[str, list[Any]]] | None = None

    def column(self, name: str) -> list[Any]:
        got = self.lists.get(name)
        if got is None:
            got = self.lists[name] = (self.frame.get_column(name).to_list() if name in self._known
                                      else [None] * self.frame.height)
        return got

    def cell(self, name: str, at: int) -> Any:
        """Row ``at``'s cell of column ``name``; KeyError when the frame has no such column."""
        got = self.lists.get(name)
        if got is None:
            if name not in self._known:
                raise KeyError(name)
            got = self.column(name)
        return got[at]

    def filled(self) -> list[tuple[str, list[Any]]]:
        """Every column with at least one filled cell, by name (made once: a run asks for every row)."""
        if self._filled is None:
            height = self.frame.height
            self._filled = [(name, self.column(name)) for name in self.names
                            if self.frame.get_column(name).null_count() < height]
        return self._filled


class RowFields(Mapping[str, Any]):
    """Row ``at`` of ``columns``: its filled cells (an empty cell, None, is not a key), as the dict
    of them would be; ``filled()`` is that dict."""
    __slots__ = ("_at", "_columns")

    def __init__(self, columns: Columns, at: int) -> None:
        self._columns, self._at = columns, at

    def __getitem__(self, key: str) -> Any:
        value = self._columns.cell(key, self._at)
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        try:
            value = self._columns.cell(key, self._at)
        except KeyError:
            return default
        return default if value is None else value

    def pick(self, keys: tuple[str, ...]) -> dict[str, Any]:
        """``{k: self.get(k) for k in keys}``, read straight from the columns."""
        columns, at = self._columns, self._at
        return {k: columns.column(k)[at] for k in keys}

    def filled(self) -> dict[str, Any]:
        at = self._at
        return {name: value for name, column in self._columns.filled() if (value := column[at]) is not None}

    def __iter__(self) -> Iterator[str]:
        return iter(self.filled())

    def __len__(self) -> int:
        return len(self.filled())

    def __repr__(self) -> str:
        return repr(self.filled())


class Picked(Mapping[str, Any]):
    """The cells ``keys`` of a row, each a key (None where empty), as ``{k: row.get(k) for k in keys}``
    would be; read when asked."""
    __slots__ = ("_keys", "_row")

    def __init__(self, row: Mapping[str, Any], keys: tuple[str, ...]) -> None:
        self._row, self._keys = row, keys

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys:
            raise KeyError(key)
        return self._row.get(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def to_dict(self) -> dict[str, Any]:
        """``dict(self)``, read in one pass."""
        row, keys = self._row, self._keys
        return row.pick(keys) if isinstance(row, RowFields) else {k: row.get(k) for k in keys}

    def __repr__(self) -> str:
        return repr(self.to_dict())


def as_dict(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A mapping as a plain dict (a ``Picked`` one read in one pass)."""
    return mapping.to_dict() if isinstance(mapping, Picked) else dict(mapping)
