"""Validate: every rule of ``rules/`` on every row, in one pass (``rules.schema.failures``, which
answers as the pandera schema does).

Output: the issues frame (one record per failed rule per row, with the field, the rule id and a
message for HR), each row's status, and the accountIdentifier its Account cell names (``account``;
null: the campaign's default, see ``rules.accounts``). Rules that need to see several rows at once
(duplicates, and an Account cell against the campaign's accounts) and the warnings for data Tango
would refuse on a digital order (an address) are added here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from pipeline.frames import first_of
from pipeline.model import ADDRESS_FIELDS, IDENTITY, IDX, ROW, SHEET, Severity, Status, issue_schema, same_reward
from pipeline.stages.ingest import Sheet
from pipeline.stages.ingest.xlsx_cells import EXCEL_ERRORS
from pipeline.stages.normalize import Normalized
from rules import ACCOUNT, Rule, RuleBook
from rules.kinds import KINDS, Failure, Failures, explain
from rules.schema import failures as rule_failures

__all__ = ["Validated", "validate"]

ERROR, WARNING = Severity.ERROR.value, Severity.WARNING.value


@dataclass(frozen=True)
class Validated:
    frame: pl.DataFrame     # the normalized frame plus "status" (VALID / INVALID)
    issues: pl.DataFrame    # issue_schema(): errors and warnings of every stage so far


def _failures(frame: pl.DataFrame, book: RuleBook, today: dt.date) -> pl.DataFrame:
    return rule_failures(frame.select(book.fields), book, today).select(
        pl.col("index").cast(pl.UInt32).alias(IDX), pl.col("column").alias("field"), pl.col("check").alias("rule"))


class _Row(Mapping[str, "str | None"]):
    """One row of a frame's columns taken out as lists: what a message reads of its row, without a
    dict built for each of the rows that fail."""
    __slots__ = ("at", "columns")

    def __init__(self, columns: dict[str, list[Any]], at: int) -> None:
        self.columns, self.at = columns, at

    def __getitem__(self, key: str) -> Any:
        return self.columns[key][self.at]

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)


def _lists(frame: pl.DataFrame, rows: pl.Series) -> dict[str, list[Any]]:
    return {c: s.to_list() for c, s in frame.select(pl.all().gather(rows)).to_dict().items()}


# what the user wrote, as a message quotes it: its runs of spaces as one, none at either end (as
# Python's str.split sees spaces: Unicode's and the four separator controls)
SPACES = r"[\s\x1c-\x1f]+"


def _error_messages(failures: pl.DataFrame, frame: pl.DataFrame, sheet: Sheet,
                    book: RuleBook, today: dt.date) -> pl.DataFrame:
    """Each failure's message: for the kinds that have one, the message as an expression over all
    the failures of a rule at once; for the others, the kind's message for each failure."""
    if failures.is_empty():
        return pl.DataFrame(schema=issue_schema())
    by_id = {(r.id, r.field): r for r in book.rules}
    many = {key for key, r in by_id.items() if KINDS[r.kind].messages is not None}
    is_many = pl.struct("rule", "field").is_in([{"rule": i, "field": f} for i, f in many]) if many else pl.lit(False)
    numbered = failures.with_row_index("_n")
    texts = [_messages_at_once(numbered.filter(is_many), frame, sheet, book, by_id),
             _messages_one_by_one(numbered.filter(~is_many), frame, sheet, book, today, by_id)]
    text = pl.concat(texts).sort("_n")["text"]
    return failures.with_columns(pl.lit(ERROR).alias("severity"), text.alias("text")).select(list(issue_schema()))


def _raw_columns(sheet: Sheet) -> dict[tuple[str, str], str]:
    """(sheet key, field) -> the sheet's own column for the field: the cell a message quotes is on the row's sheet."""
    return {(p.key, f): c for p in sheet.parts for c, f in p.fields.items()}


def _messages_at_once(failures: pl.DataFrame, frame: pl.DataFrame, sheet: Sheet, book: RuleBook,
                      by_id: dict[tuple[str, str], Rule]) -> pl.DataFrame:
    if failures.is_empty():
        return pl.DataFrame(schema={"_n": pl.UInt32, "text": pl.String})
    labels = sheet.labels(book)
    raw_cols = _raw_columns(sheet)
    texts = {}
    for rule_id, field in failures.select("rule", "field").unique().iter_rows():
        rule = by_id[(rule_id, field)]
        mine = {key: col for (key, f), col in raw_cols.items() if f == field}
        cell = pl.coalesce([pl.when(pl.col(SHEET) == key).then(pl.col(col)) for key, col in mine.items()]) \
            if mine else pl.lit(None, pl.String)
        written = cell.str.replace_all(SPACES, " ").str.strip_chars(" ")
        value = pl.when(written.str.len_chars() > 0).then(written).otherwise(pl.col(field))
        wording = Failures(rule, book, labels[field], value, pl.col("deliveryMethod"), pl.col(SHEET).is_in(list(mine)))
        messages = KINDS[rule.kind].messages
        assert messages is not None
        texts[(rule_id, field)] = messages(wording).alias("text")
    # each failure's row, normalized and as written, taken by its position (a row's IDX), only the
    # columns its message reads: a join would hash the million rows of both frames, and carry them all
    read = {name for text in texts.values() for name in text.meta.root_names()}
    at = failures[IDX]
    taken = [source.select(pl.col(names).gather(at)) for source, names in (
        (frame, sorted(read & set(frame.columns) - {IDX})), (sheet.frame, sorted(read & set(raw_cols.values()))))
        if names]
    rows = pl.concat([failures, *taken], how="horizontal")
    parts = [group.select("_n", texts[(str(rule_id), str(field))])
             for (rule_id, field), group in rows.group_by("rule", "field")]
    return pl.concat(parts)


def _messages_one_by_one(failures: pl.DataFrame, frame: pl.DataFrame, sheet: Sheet, book: RuleBook,
                         today: dt.date, by_id: dict[tuple[str, str], Rule]) -> pl.DataFrame:
    if failures.is_empty():
        return pl.DataFrame(schema={"_n": pl.UInt32, "text": pl.String})
    labels = sheet.labels(book)
    raw_cols = _raw_columns(sheet)
    # the failing rows (a row's IDX is its position in both frames)
    failing = failures[IDX].unique().sort()
    at = {idx: n for n, idx in enumerate(failing.to_list())}
    normalized = _lists(frame, failing)
    raw = _lists(sheet.frame.select(sorted(set(raw_cols.values()))), failing) if raw_cols else {}
    sheets = normalized[SHEET]
    messages = []
    for idx, field, rule_id in failures.select(IDX, "field", "rule").iter_rows():
        n = at[idx]
        col = raw_cols.get((sheets[n], field))
        cell = raw[col][n] if col else None
        value = " ".join(cell.split()) if cell and cell.strip() else normalized[field][n]
        messages.append(explain(Failure(by_id[(rule_id, field)], book, labels[field], value, _Row(normalized, n),
                                        today, has_column=col is not None)))
    return failures.select("_n", pl.Series("text", messages, pl.String))


def _duplicates(frame: pl.DataFrame, labels: dict[str, str]) -> pl.DataFrame:
    """Rows that order the same reward for the same recipient as an earlier row of the upload.

    A row with no recipient at all (BULKDIGITAL) has no identity that tells two identical lines
    apart, and neither could a re-upload: the later one is an error until the rows carry
    different Reference cells, which then identify them for good.
    """
    ref = pl.col("externalRefLineItemID")
    key = [e.alias(f"k{n}") for n, e in enumerate([*same_reward(), ref.fill_null("")])]
    # the first row of each key (and of each reference), by one grouping each; a row's IDX is its position
    firsts = frame.select(IDX, ref.is_not_null().alias("has_ref"), pl.lit(first_of(frame, key)).alias("first"),
                          pl.col(IDX).first().over(ref).alias("first_ref"))
    repeat = firsts.filter(pl.col("first") != pl.col(IDX))
    reused = firsts.filter(pl.col("has_ref") & (pl.col("first_ref") != pl.col(IDX))
                           & ~pl.col(IDX).is_in(repeat[IDX].implode()))
    if repeat.is_empty() and reused.is_empty():
        return pl.DataFrame(schema=issue_schema())
    anonymous = pl.all_horizontal(pl.col(f).is_null() for f in IDENTITY)

    def earlier(found: pl.DataFrame, first: str) -> pl.DataFrame:
        """The rows ``found``, each with the number and sheet of the earlier row (its ``first``)."""
        rows = frame.select(IDX, ROW, SHEET, "externalRefLineItemID", anonymous.alias("anonymous")).join(
            found.select(IDX, first), on=IDX)
        at = rows[first]
        return pl.concat([rows, frame.select(pl.col(ROW).gather(at).alias("_row"),
                                             pl.col(SHEET).gather(at).alias("_sheet"))], how="horizontal")

    def named() -> pl.Expr:
        """The earlier row, named as it can be found: its number (the Row column of a report), and
        its sheet when it is on another one."""
        elsewhere = pl.format(" of sheet '{}'", pl.col("_sheet"))
        return pl.concat_str([pl.lit("row "), pl.col("_row").cast(pl.String),
                              pl.when(pl.col("_sheet") != pl.col(SHEET)).then(elsewhere).otherwise(pl.lit(""))])

    reference = pl.lit(labels["externalRefLineItemID"])
    same = earlier(repeat, "first").select(
        IDX, pl.lit(None, pl.String).alias("field"),
        pl.when(pl.col("anonymous")).then(pl.lit("row.same_as")).otherwise(pl.lit("row.duplicate"))
        .alias("rule"),
        pl.lit(ERROR).alias("severity"),
        pl.when(pl.col("anonymous")).then(pl.format(
            "Same reward, amount and quantity as {}, with no recipient to tell the two apart. If both "
            "are meant, give each row its own {} (any text unique to it); otherwise delete this row.",
            named(), reference))
        .otherwise(pl.format(
            "Duplicate of {}: the same reward for the same recipient. Delete this row, or give "
            "the two rows different {} values if both rewards are meant.",
            named(), reference)).alias("text"))
    again = earlier(reused, "first_ref").select(
        IDX, pl.lit("externalRefLineItemID").alias("field"),
        pl.lit("externalRefLineItemID.unique").alias("rule"), pl.lit(ERROR).alias("severity"),
        pl.format("{} '{}' is already used on {}; each row needs its own reference.",
                  reference, pl.col("externalRefLineItemID"), named()).alias("text"))
    return pl.concat([same, again]).select(list(issue_schema()))


def _digital_extras(frame: pl.DataFrame, book: RuleBook,
                    labels: dict[str, str]) -> pl.DataFrame:
    """A digital row with address cells: Tango would refuse the address, so it is left out."""
    digital = list(book.groups["digital_recipient"])
    parts = []
    for field in (*ADDRESS_FIELDS, "shippingMethod"):
        parts.append(frame.filter(pl.col("deliveryMethod").is_in(digital) & pl.col(field).is_not_null())
                     .select(IDX, pl.lit(field).alias("field"),
                             pl.lit("digital.address_left_out").alias("rule"),
                             pl.lit(WARNING).alias("severity"),
                             pl.format("{} '{}' is left out of the order: {} rewards are not mailed.",
                                       pl.lit(labels[field]), pl.col(field),
                                       pl.col("deliveryMethod")).alias("text")))
    return pl.concat(parts).select(list(issue_schema()))


def _excel_errors(sheet: Sheet, frame: pl.DataFrame, labels: dict[str, str]) -> pl.DataFrame:
    """A cell showing #N/A, #DIV/0! ... is an error whatever the field: the value was never there."""
    parts = []
    for col, field in sheet.fields.items():
        if field not in labels:         # the full name, split into two columns that are checked
            continue
        parts.append(sheet.frame.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias(IDX), pl.col(col).alias("v"))
                     .filter(pl.col("v").is_in(list(EXCEL_ERRORS)))
                     .select(IDX, pl.lit(field).alias("field"), pl.lit("cell.excel_error").alias("rule"),
                             pl.lit(ERROR).alias("severity"),
                             pl.format("{} shows the Excel error {}: fix the formula, or type the value, in "
                                       "the sheet.", pl.lit(labels[field]), pl.col("v")).alias("text")))
    return pl.concat(parts) if parts else pl.DataFrame(schema=issue_schema())


def _reading_notes(sheet: Sheet, frame: pl.DataFrame) -> pl.DataFrame:
    """What ingest found beyond the values (merged cells, formulas, cells typed but empty), on their rows."""
    if not sheet.notes:
        return pl.DataFrame(schema=issue_schema())
    header = dict(zip(sheet.columns, sheet.headers, strict=True))
    notes = pl.DataFrame({ROW: [n.row for n in sheet.notes], SHEET: [n.sheet or "" for n in sheet.notes],
                          "field": [sheet.fields.get(n.column) for n in sheet.notes],
                          "rule": [n.rule for n in sheet.notes],
                          "severity": [ERROR if n.error else WARNING for n in sheet.notes],
                          "text": [f"{header.get(n.column, n.column)}: {n.text}" for n in sheet.notes]},
                         schema={ROW: pl.Int64, SHEET: pl.String, "field": pl.String, "rule": pl.String,
                                 "severity": pl.String, "text": pl.String})
    return frame.select(IDX, ROW, SHEET).join(notes, on=[SHEET, ROW]).select(list(issue_schema()))


def _accounts(sheet: Sheet, frame: pl.DataFrame, book: RuleBook) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The frame with each row's account (null: blank, or no campaign to check it against), and an
    error on each Account cell that names no account of the campaign."""
    cols, table = sheet.columns_of(ACCOUNT), book.accounts
    if table is None or not cols:
        return frame.with_columns(pl.lit(None, pl.String).alias(ACCOUNT)), pl.DataFrame(schema=issue_schema())
    cell = pl.coalesce(cols).str.strip_chars()
    cells = sheet.frame.select(pl.when(cell.str.len_chars() > 0).then(cell).alias("cell"))["cell"]
    written = [c for c in cells.unique().to_list() if c is not None]
    found = {c: table.resolve(c) for c in written}
    label = sheet.header_of(ACCOUNT) or book.account_label
    why = {c: table.refusal(label, c) for c, account in found.items() if account is None}
    resolved = cells.replace_strict(found, default=None, return_dtype=pl.String) if found else cells
    refused = frame.select(IDX, cells.alias("cell")).filter(pl.col("cell").is_in(list(why))).select(
        IDX, pl.lit(ACCOUNT).alias("field"), pl.lit("account.known").alias("rule"), pl.lit(ERROR).alias("severity"),
        pl.col("cell").replace_strict(why, return_dtype=pl.String).alias("text"))
    return frame.with_columns(resolved.alias(ACCOUNT)), refused


def validate(sheet: Sheet, normalized: Normalized, today: dt.date, book: RuleBook) -> Validated:
    frame, refused_accounts = _accounts(sheet, normalized.frame, book)
    labels = sheet.labels(book)
    failures = _failures(frame, book, today)
    excel = _excel_errors(sheet, frame, labels)
    rule_errors = _error_messages(failures, frame, sheet, book, today)
    if not excel.is_empty():      # the Excel error says it all: no second message on that cell
        rule_errors = rule_errors.join(excel.select(IDX, "field"), on=[IDX, "field"], how="anti")
    issues = pl.concat([
        _reading_notes(sheet, frame),
        normalized.warnings,
        excel,
        rule_errors,
        _duplicates(frame, labels),
        _digital_extras(frame, book, labels),
        refused_accounts,
    ], how="vertical").sort(IDX, maintain_order=True)
    bad = issues.filter(pl.col("severity") == ERROR)[IDX].unique()
    status = (pl.when(pl.col(IDX).is_in(bad.implode())).then(pl.lit(Status.INVALID.value))
              .otherwise(pl.lit(Status.VALID.value)))
    return Validated(frame=frame.with_columns(status.alias("status")), issues=issues)
