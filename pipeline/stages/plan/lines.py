"""The rows a plan may send, kept as positions in the validated frame, not as line items.

The verdict on a file (``stages.dedupe``, ``stages.guard``, ``stages.preflight``) is made on
columns: a rule that must look at a row one by one is given line items only for the rows it may
bear on (``only``, ``items``), and a run makes the line items of the rows it sends. A preview of a
million-row file (``validate``) makes none.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

import polars as pl

from pipeline.config import Campaign
from pipeline.model import IDX, Status
from pipeline.recipients import recipient_key_pairs
from pipeline.stages.plan.items import LineItem, line_items
from rules import RuleBook

__all__ = ["Lines", "RowIds", "id_column"]


@dataclass(frozen=True)
class Lines:
    """Valid rows of ``frame`` (their positions, ascending), with the file's line-item IDs."""
    frame: pl.DataFrame      # the validated frame: a row's IDX is its position in it
    ids: pl.Series           # every row's line-item ID (``line_item_ids``)
    rows: pl.Series          # the positions of these lines
    campaign: Campaign
    book: RuleBook

    @classmethod
    def valid(cls, frame: pl.DataFrame, ids: pl.Series, campaign: Campaign, book: RuleBook) -> Lines:
        rows = (frame.get_column("status") == Status.VALID.value).arg_true().cast(pl.UInt32)
        return cls(frame, ids, rows, campaign, book)

    def __len__(self) -> int:
        return self.rows.len()

    def keep(self, mask: pl.Series) -> Lines:
        """The lines where ``mask`` (one value a line, in order) is true."""
        return replace(self, rows=self.rows.filter(mask))

    def only(self, rows: Iterable[int]) -> Lines:
        """These lines among ``rows`` (positions); the others are left out."""
        return self.keep(self.rows.is_in(pl.Series(list(rows), dtype=pl.UInt32).implode()))

    def without(self, rows: Iterable[int]) -> Lines:
        left = pl.Series(list(rows), dtype=pl.UInt32)
        return self if left.is_empty() else self.keep(~self.rows.is_in(left.implode()))

    def column(self, name: str) -> pl.Series:
        """A column of the frame, a value a line."""
        return self.frame.get_column(name).gather(self.rows)

    def line_ids(self) -> pl.Series:
        return self.ids.gather(self.rows)

    def recipient_keys(self) -> pl.DataFrame:
        """Every way each line names its recipient (``model.recipient_keys``), as (``at``: the line's
        row position, ``key``) pairs; none for a line with its own Reference (a reward meant on
        purpose, never held)."""
        # the lines' rows marked where they are, not copied out of the frame
        lines = pl.repeat(False, self.frame.height, eager=True).scatter(self.rows, True)
        pairs = recipient_key_pairs(self.frame, lines & self.frame.get_column("externalRefLineItemID").is_null())
        return pairs.with_columns(self.frame.get_column(IDX).gather(pairs.get_column("at")).alias("at"))

    def items(self) -> list[LineItem]:
        """The lines as line items, in row order."""
        whole = len(self) == self.frame.height
        return line_items(self.frame if whole else self.frame[self.rows], self.campaign, self.book,
                          self.ids if whole else self.line_ids())


class RowIds(Mapping[int, str]):
    """Row position -> line-item ID for a file's rows: the valid rows' IDs as one column, and the
    rows the plan gives another ID (a row ordered before under an older ID, an invalid row ordered
    before) beside it. A mapping for a row at a time; ``column`` for all of them."""

    def __init__(self, ids: pl.Series, valid: pl.Series) -> None:
        self._base = pl.select(pl.when(valid).then(ids).otherwise(None).alias(ids.name)).to_series()
        self._set: dict[int, str] = {}
        self._list: list[str | None] | None = None     # the column as Python values, once a row is asked for

    def _ids(self) -> list[str | None]:
        if self._list is None:
            self._list = self._base.to_list()
        return self._list

    def __setitem__(self, idx: int, line_id: str) -> None:
        self._set[idx] = line_id

    def __getitem__(self, idx: int) -> str:
        found = self._set.get(idx)
        if found is None and 0 <= idx < self._base.len():
            found = self._ids()[idx]
        if found is None:
            raise KeyError(idx)
        return found

    def __iter__(self) -> Iterator[int]:
        return iter(sorted({*(i for i, v in enumerate(self._ids()) if v is not None), *self._set}))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def column(self) -> pl.Series:
        """Each row's line-item ID (null for a row that has none)."""
        if not self._set:
            return self._base
        return self._base.clone().scatter(list(self._set), pl.Series(list(self._set.values()), dtype=pl.String))


def id_column(ids: Mapping[int, str], height: int) -> pl.Series:
    """Each of ``height`` rows' line-item ID from any mapping of them (null where there is none)."""
    if isinstance(ids, RowIds):
        return ids.column()
    return pl.Series("line_item_id", [ids.get(i) for i in range(height)], dtype=pl.String)
