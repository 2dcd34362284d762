"""A recipient's keys (``model.recipient_keys``) made for many rows at once, in polars: the rows
whose cells are plain by expressions, the others one by one by ``recipient_keys`` itself."""

from __future__ import annotations

import polars as pl

from pipeline.model import recipient_keys

__all__ = ["recipient_key_pairs", "recipient_keys_of"]


# a cell ``recipient_keys`` writes the same way by lowercasing it: printable ASCII, words one space apart
_PLAIN = r"^[!-~]+(?: [!-~]+)*$"
# the cells ``recipient_keys`` reads
_KEYED = ("deliveryMethod", "email", "mobileNumber", "firstName", "lastName", "streetLine1", "postalCode")


def _cell(frame: pl.DataFrame, name: str) -> pl.Expr:
    """A cell ``recipient_keys`` reads, an empty one as missing (both falsy to ``row.get``)."""
    col = pl.col(name) if name in frame.columns else pl.lit(None, dtype=pl.String)
    return pl.when(col == "").then(None).otherwise(col).alias(name)


def _cells(frame: pl.DataFrame, at: list[int]) -> pl.DataFrame:
    """The cells ``recipient_keys`` reads of the rows at these positions (only those rows copied)."""
    rows = frame.select(c for c in _KEYED if c in frame.columns)[at]
    return rows.select(_cell(rows, name) for name in _KEYED)


def _keyed(frame: pl.DataFrame) -> pl.DataFrame:
    """The keys of the rows whose cells are all plain: whether a row is (``plain``), its e-mail,
    mobile and address keys; made from the cells where they are (no column of them copied)."""
    cell = {name: _cell(frame, name) for name in _KEYED}
    plain = pl.all_horizontal(cell[n].is_null() | cell[n].str.contains(_PLAIN) for n in _KEYED[1:])
    low = {n: cell[n].str.to_lowercase() for n in _KEYED[1:]}
    method = cell["deliveryMethod"]
    person = method.is_null() | ~method.is_in(["BULKDIGITAL", "BULKSHIPMENT"])
    name = pl.concat_str([low["firstName"], low["lastName"]], separator=" ", ignore_nulls=True).fill_null("")
    return frame.select(
        plain.alias("plain"),
        pl.when(person).then(pl.lit("email:") + low["email"]).alias("e"),
        pl.when(person).then(pl.lit("mobile:") + low["mobileNumber"]).alias("m"),
        pl.when(person & (method == "ADDRESS") & cell["streetLine1"].is_not_null()).then(
            pl.concat_str([pl.lit("address:"), name, pl.lit("|"), low["streetLine1"], pl.lit("|"),
                           low["postalCode"].fill_null("")])).alias("a"))


def recipient_keys_of(frame: pl.DataFrame) -> list[tuple[str, ...]]:
    """``recipient_keys`` of every row of ``frame``, the same keys, made in bulk: the rows whose
    cells are all plain (``_PLAIN``, as almost every row is) by polars expressions; the others,
    one by one, by ``recipient_keys`` itself (a tab, a non-ASCII letter: Python's split and casefold)."""
    keyed = _keyed(frame)
    keys = [(() if e is None else (e,)) if m is None and a is None else tuple(k for k in (e, m, a) if k is not None)
            for e, m, a in zip(*(keyed.get_column(c).to_list() for c in "ema"), strict=True)]
    at = keyed.get_column("plain").not_().arg_true().to_list()
    for n, row in zip(at, _cells(frame, at).iter_rows(named=True), strict=True):
        keys[n] = recipient_keys(row)
    return keys


def recipient_key_pairs(frame: pl.DataFrame, where: pl.Series | None = None) -> pl.DataFrame:
    """``recipient_keys`` of the rows of ``frame`` (those ``where`` is true for, or all) as (row position
    ``at``, ``key``) pairs, a pair a key, made as ``recipient_keys_of`` makes them but left in polars."""
    keyed = _keyed(frame).with_row_index("at")
    plain, where = keyed.get_column("plain"), pl.repeat(True, frame.height, eager=True) if where is None else where
    pairs = [keyed.select("at", pl.col(c).alias("key")).filter(plain & where & keyed.get_column(c).is_not_null())
             for c in "ema"]
    if rest := (~plain & where).arg_true().to_list():
        found = [(n, key) for n, row in zip(rest, _cells(frame, rest).iter_rows(named=True), strict=True)
                 for key in recipient_keys(row)]
        pairs.append(pl.DataFrame(found, schema={"at": pl.UInt32, "key": pl.String}, orient="row"))
    return pl.concat(pairs)
