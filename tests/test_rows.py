"""A frame's rows as lazy mappings (pipeline/rows.py): each reads as the dict of its filled cells
would, which is what the planner used to build, cell for cell."""

from __future__ import annotations

import polars as pl
import pytest

from pipeline.rows import Columns, Picked, RowFields, as_dict

FRAME = pl.DataFrame({
    "email": ["a@example.com", None, "c@example.com"],
    "firstName": ["Ann", "Bo", None],
    "notes": [None, None, None],            # a column no row filled
    "amount": [1, 2, None],
})


def expected(at: int) -> dict[str, object]:
    return {k: v for k, v in FRAME.row(at, named=True).items() if v is not None}


@pytest.mark.parametrize("at", range(FRAME.height))
def test_a_row_reads_as_the_dict_of_its_filled_cells(at: int) -> None:
    row = RowFields(Columns(FRAME), at)
    assert dict(row) == expected(at)
    assert row.filled() == expected(at)
    assert len(row) == len(expected(at))
    assert list(row) == list(expected(at))          # the frame's column order
    for name in [*FRAME.columns, "nowhere"]:
        assert (name in row) == (name in expected(at))
        assert row.get(name, "dflt") == expected(at).get(name, "dflt")
        if name not in expected(at):
            with pytest.raises(KeyError):
                row[name]


def test_rows_share_their_columns_and_asking_in_any_order_gives_the_same() -> None:
    columns = Columns(FRAME)
    rows = [RowFields(columns, at) for at in range(FRAME.height)]
    assert rows[2].get("firstName") is None and rows[1]["firstName"] == "Bo"
    assert [r.filled() for r in rows] == [expected(at) for at in range(FRAME.height)]
    assert "notes" not in columns.lists or columns.lists["notes"] == [None] * FRAME.height


@pytest.mark.parametrize("at", range(FRAME.height))
def test_picked_cells_are_keys_even_when_empty_or_absent(at: int) -> None:
    keys = ("email", "notes", "phone")              # "phone" is not a column of the frame
    for row in (RowFields(Columns(FRAME), at), expected(at)):
        picked = Picked(row, keys)
        want = {k: expected(at).get(k) for k in keys}
        assert dict(picked) == want
        assert picked.to_dict() == want
        assert as_dict(picked) == want
        assert list(picked) == list(keys) and len(picked) == 3
        with pytest.raises(KeyError):
            picked["firstName"]
    assert as_dict({"x": 1}) == {"x": 1}
