"""Validate: every rule of ``rules/`` on every row, through the pandera schema, collected lazily.

Output: the issues frame (one record per failed rule per row, with the field, the rule id and a
message for HR) and each row's status. Rules that need to see several rows at once (duplicates)
and the warnings for data Tango would refuse on a digital order (an address) are added here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandera.errors
import polars as pl

from pipeline.model import ADDRESS_FIELDS, IDENTITY, IDX, ROW, SHEET, Severity, Status, issue_schema, same_reward
from pipeline.stages.ingest import Sheet
from pipeline.stages.ingest.xlsx_cells import EXCEL_ERRORS
from pipeline.stages.normalize import Normalized
from rules import RuleBook
from rules.kinds import Failure, explain
from rules.schema import build_schema

__all__ = ["Validated", "validate"]

ERROR, WARNING = Severity.ERROR.value, Severity.WARNING.value


@dataclass(frozen=True)
class Validated:
    frame: pl.DataFrame     # the normalized frame plus "status" (VALID / INVALID)
    issues: pl.DataFrame    # issue_schema(): errors and warnings of every stage so far


def _failures(frame: pl.DataFrame, book: RuleBook, today: dt.date) -> pl.DataFrame:
    schema = build_schema(book, today)
    try:
        schema.validate(frame.select(book.fields), lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases: pl.DataFrame = exc.failure_cases
        return cases.select(pl.col("index").cast(pl.UInt32).alias(IDX),
                            pl.col("column").alias("field"), pl.col("check").alias("rule"))
    return pl.DataFrame(schema={IDX: pl.UInt32, "field": pl.String, "rule": pl.String})


def _error_messages(failures: pl.DataFrame, frame: pl.DataFrame, sheet: Sheet,
                    book: RuleBook, today: dt.date) -> pl.DataFrame:
    if failures.is_empty():
        return pl.DataFrame(schema=issue_schema())
    labels = sheet.labels(book)
    by_id = {(r.id, r.field): r for r in book.rules}
    # each sheet's own column for a field: the cell a row's message quotes is on its own sheet
    raw_cols = {(p.key, f): c for p in sheet.parts for c, f in p.fields.items()}
    rows = frame.join(failures.select(IDX).unique(), on=IDX).to_dicts()
    normalized = {r[IDX]: r for r in rows}
    raw_frame = sheet.frame.with_row_index(IDX).join(failures.select(IDX).unique(), on=IDX)
    raw = {r[IDX]: r for r in raw_frame.to_dicts()}
    messages = []
    for idx, field, rule_id in failures.iter_rows():
        rule = by_id[(rule_id, field)]
        row = normalized[idx]
        col = raw_cols.get((row[SHEET], field))
        cell = raw[idx].get(col) if col else None
        value = " ".join(cell.split()) if cell and cell.strip() else row.get(field)
        messages.append(explain(Failure(rule, book, labels[field], value, row, today, has_column=col is not None)))
    return failures.with_columns(pl.lit(ERROR).alias("severity"),
                                 pl.Series("text", messages, pl.String)).select(list(issue_schema()))


def _duplicates(frame: pl.DataFrame, labels: dict[str, str]) -> pl.DataFrame:
    """Rows that order the same reward for the same recipient as an earlier row of the upload.

    A row with no recipient at all (BULKDIGITAL) has no identity that tells two identical lines
    apart, and neither could a re-upload: the later one is an error until the rows carry
    different Reference cells, which then identify them for good.
    """
    ref = pl.col("externalRefLineItemID").fill_null("")
    key = pl.concat_str([*same_reward(), ref], separator="\x1f")
    anonymous = pl.all_horizontal(pl.col(f).is_null() for f in IDENTITY)
    # the earlier row, named as it can be found: its number (the Row column of a report), and its
    # sheet when it is on another one (worked out in two steps: polars panics on the nested form)
    firsts = frame.select(IDX, ROW, SHEET, "externalRefLineItemID", anonymous.alias("anonymous"),
                          pl.col(IDX).first().over(key).alias("first"),
                          pl.col(IDX).first().over("externalRefLineItemID").alias("first_ref"),
                          pl.col(ROW).first().over(key).alias("row_a"),
                          pl.col(SHEET).first().over(key).alias("sheet_a"),
                          pl.col(ROW).first().over("externalRefLineItemID").alias("row_b"),
                          pl.col(SHEET).first().over("externalRefLineItemID").alias("sheet_b"))

    def place(row: str, sheet: str) -> pl.Expr:
        elsewhere = pl.format(" of sheet '{}'", pl.col(sheet))
        return pl.concat_str([pl.lit("row "), pl.col(row).cast(pl.String),
                              pl.when(pl.col(sheet) != pl.col(SHEET)).then(elsewhere).otherwise(pl.lit(""))])
    marked = firsts.with_columns(place("row_a", "sheet_a").alias("first_row"),
                                 place("row_b", "sheet_b").alias("first_ref_row"))
    repeat = marked.filter(pl.col("first") != pl.col(IDX))
    reference = pl.lit(labels["externalRefLineItemID"])
    same = repeat.select(
        IDX, pl.lit(None, pl.String).alias("field"),
        pl.when(pl.col("anonymous")).then(pl.lit("row.same_as")).otherwise(pl.lit("row.duplicate"))
        .alias("rule"),
        pl.lit(ERROR).alias("severity"),
        pl.when(pl.col("anonymous")).then(pl.format(
            "Same reward, amount and quantity as {}, with no recipient to tell the two apart. If both "
            "are meant, give each row its own {} (any text unique to it); otherwise delete this row.",
            pl.col("first_row"), reference))
        .otherwise(pl.format(
            "Duplicate of {}: the same reward for the same recipient. Delete this row, or give "
            "the two rows different {} values if both rewards are meant.",
            pl.col("first_row"), reference)).alias("text"))
    reused = marked.filter(pl.col("externalRefLineItemID").is_not_null()
                           & (pl.col("first_ref") != pl.col(IDX))
                           & ~pl.col(IDX).is_in(repeat[IDX].implode())).select(
        IDX, pl.lit("externalRefLineItemID").alias("field"),
        pl.lit("externalRefLineItemID.unique").alias("rule"), pl.lit(ERROR).alias("severity"),
        pl.format("{} '{}' is already used on {}; each row needs its own reference.",
                  reference, pl.col("externalRefLineItemID"), pl.col("first_ref_row")).alias("text"))
    return pl.concat([same, reused]).select(list(issue_schema()))


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


def validate(sheet: Sheet, normalized: Normalized, today: dt.date, book: RuleBook) -> Validated:
    frame = normalized.frame
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
    ], how="vertical").sort(IDX, maintain_order=True)
    bad = issues.filter(pl.col("severity") == ERROR)[IDX].unique()
    status = (pl.when(pl.col(IDX).is_in(bad.implode())).then(pl.lit(Status.INVALID.value))
              .otherwise(pl.lit(Status.VALID.value)))
    return Validated(frame=frame.with_columns(status.alias("status")), issues=issues)
