"""Each row's status after a run, as a pure function of the checks, the run's decisions and the
ledger's records of the rows' line items; and the rows as the ledger records them.

A valid row's status is its line item's: PENDING until Tango accepts it (PLANNED in a dry
run), then what Tango says. A line still SENDING is SUBMITTED if its order was accepted (Tango has
not listed the line yet), PENDING otherwise. A row the run decided not to send says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from pipeline.ledger import LineRecord, RowRecord
from pipeline.model import AT_TANGO, IDX, ROW, SHEET, TO_FIX, Decision, Issue, RunRule, Severity, Status, issue_schema
from pipeline.stages.plan import id_column
from pipeline.stages.validate import Validated

__all__ = ["Outcomes", "row_outcomes", "row_records"]

# the rule of an issue that carries the ledger's message for a line, by the line's status
LEDGER_MESSAGE_RULE = {Status.REJECTED: RunRule.TANGO_REFUSED, Status.FAILED: RunRule.TANGO_FAILED,
                       Status.DUPLICATE: RunRule.TANGO_DUPLICATE}
DRY_RUN_NOTE = "Dry run: planned, not sent."
STATUS_OF = {s.value: s for s in Status}        # a row's status by its text, without Enum's call per row


@dataclass(frozen=True)
class Outcomes:
    """What the ledger knows of a file's line items, and how this run treated them."""
    ids: Mapping[int, str]                      # row idx -> line-item id
    decisions: Mapping[int, Decision]           # rows the run did not send, and why
    records: Mapping[str, LineRecord]           # line-item id -> the ledger's record
    accepted_batches: set[str]                  # orders Tango accepted, among those lines are SENDING in
    dry_run: bool = False
    preview: bool = False                       # validate: a row run would send stays VALID

    def state_of(self, record: LineRecord | None) -> Status:
        """The row status a ledger record stands for; a line still SENDING is in flight or unsent."""
        if record is None or record.status == Status.PENDING:     # not sent: a dry run plans it
            return Status.PLANNED if self.dry_run else Status.PENDING
        if record.status == Status.SENDING:
            return Status.SUBMITTED if record.batch_ref in self.accepted_batches else Status.PENDING
        return record.status


def _same_in_run(idx: int, decision: Decision, first: Status) -> tuple[Status, Issue]:
    """Ordered through another row of this run: this row shares that row's fate."""
    # the row it repeats is (or, in a dry run, would be) ordered: this one is not ordered again
    state = Status.DUPLICATE if first in AT_TANGO or first == Status.PLANNED else first
    outcome = "ordered once, not twice" if state == Status.DUPLICATE else f"which is {state}"
    severity = Severity.WARNING if state in (Status.DUPLICATE, Status.PENDING, Status.PLANNED) else Severity.ERROR
    return state, Issue(idx, None, decision.rule, severity, f"{decision.text}, {outcome}.")


def _ordered(record: LineRecord | None, out: Outcomes) -> bool:
    """Tango has this row's line item: what the checks say of the row now does not undo it."""
    return record is not None and not out.dry_run and record.status in AT_TANGO


def _row(idx: int, valid: bool, out: Outcomes, record: LineRecord | None) -> tuple[Status, Issue | None]:
    decision = out.decisions.get(idx)
    if decision is not None and decision.rule == RunRule.SAME_IN_RUN:
        first = out.state_of(record)
        # validate: the row it repeats is one run would send, and so order once
        return _same_in_run(idx, decision, Status.SUBMITTED if out.preview and first not in AT_TANGO else first)
    if decision is not None:
        state = decision.status or out.state_of(record)
        return state, Issue(idx, decision.field, decision.rule, decision.severity, decision.text)
    if not valid and _ordered(record, out):
        return out.state_of(record), Issue(idx, None, RunRule.ORDERED_DESPITE, Severity.WARNING,
                                           "Ordered by an earlier run; the checks made now would refuse it "
                                           "(see the warnings), but it went through.")
    if not valid:
        return Status.INVALID, None
    if out.preview and (record is None or out.state_of(record) not in AT_TANGO):
        return Status.VALID, None            # run would send it (again, if Tango refused it before)
    if out.dry_run or record is None:
        note = Issue(idx, None, RunRule.DRY_RUN, Severity.WARNING, DRY_RUN_NOTE)
        return (Status.PLANNED, note) if out.dry_run else (Status.PENDING, None)
    state = out.state_of(record)
    if not record.message:
        return state, None
    severity = Severity.ERROR if state in TO_FIX else Severity.WARNING
    rule = LEDGER_MESSAGE_RULE.get(state, RunRule.TANGO_DUPLICATE)
    return state, Issue(idx, None, rule, severity, record.message)


def _issues_frame(issues: list[Issue]) -> pl.DataFrame:
    return pl.DataFrame({IDX: [i.idx for i in issues], "field": [i.field for i in issues],
                         "rule": [str(i.rule) for i in issues], "severity": [str(i.severity) for i in issues],
                         "text": [i.text for i in issues]}, schema=issue_schema())


def row_outcomes(checked: Validated, out: Outcomes) -> Validated:
    """The frame with each row's final status and Tango references, and the run's messages.

    ``_row`` decides each row the run decided on or the ledger has a record of; every other row
    is what its checks made it (a valid row: VALID in a preview, PLANNED in a dry run, else
    PENDING), set in bulk."""
    frame = checked.frame
    valid = frame.get_column("status") == Status.VALID.value
    line_ids = id_column(out.ids, frame.height).alias("line_item_id")
    recorded = line_ids.is_in(pl.Series(list(out.records), dtype=pl.String).implode()) if out.records else None
    one_by_one = sorted({*out.decisions, *(recorded.arg_true().to_list() if recorded is not None else ())})
    plain = Status.VALID if out.preview else Status.PLANNED if out.dry_run else Status.PENDING
    status = pl.select(pl.when(valid).then(pl.lit(plain.value)).otherwise(pl.lit(Status.INVALID.value))
                       .alias("status")).to_series()
    issues: list[Issue] = []
    refs: dict[str, list[str | None]] = {"order_id": [], "reference_line_item_id": [], "delivery": []}
    states: list[str] = []
    ordered: list[int] = []         # rows that were ordered: not rows to fix, today's checks only warn
    at = pl.Series(one_by_one, dtype=pl.UInt32)
    for idx, line_id, is_valid in zip(one_by_one, line_ids.gather(at), valid.gather(at), strict=True):
        record = out.records.get(line_id) if line_id else None
        refs["order_id"].append(record.batch_ref if record else None)
        refs["reference_line_item_id"].append(record.reference_line_item_id if record else None)
        refs["delivery"].append(record.delivery_status if record else None)
        state, issue = _row(idx, is_valid, out, record)
        states.append(state.value)
        if issue is not None:
            issues.append(issue)
        decision = out.decisions.get(idx)
        if not is_valid and (decision.rule in (RunRule.ORDERED_DESPITE, RunRule.ORDERED_BEFORE) if decision
                             else _ordered(record, out)):
            ordered.append(idx)
    columns = [line_ids, *(pl.repeat(None, frame.height, dtype=pl.String, eager=True).alias(name) for name in refs)]
    if one_by_one:
        status.scatter(one_by_one, pl.Series(states, dtype=pl.String))
        for column in columns[1:]:
            column.scatter(one_by_one, pl.Series(refs[column.name], dtype=pl.String))
    base = checked.issues
    if ordered:
        base = base.with_columns(pl.when(pl.col(IDX).is_in(ordered) & (pl.col("severity") == Severity.ERROR.value))
                                 .then(pl.lit(Severity.WARNING.value)).otherwise(pl.col("severity")).alias("severity"))
    parts = [base, _issues_frame(issues)]
    if out.dry_run:      # every valid row the run left alone is planned, not sent
        planned = valid.arg_true().cast(pl.UInt32)
        planned = planned.filter(~planned.is_in(pl.Series(one_by_one, dtype=pl.UInt32).implode()))
        parts.append(pl.DataFrame({IDX: planned}).select(
            IDX, pl.lit(None, pl.String).alias("field"), pl.lit(str(RunRule.DRY_RUN)).alias("rule"),
            pl.lit(str(Severity.WARNING)).alias("severity"), pl.lit(DRY_RUN_NOTE).alias("text")))
    frame = frame.with_columns(status, *columns)
    return Validated(frame=frame, issues=pl.concat(parts).sort(IDX, maintain_order=True))


def row_records(final: Validated) -> list[RowRecord]:
    """Every row as the ledger records it: a DUPLICATE says when it was ordered, others their errors."""
    errors = (final.issues.filter(pl.col("severity") == Severity.ERROR.value).group_by(IDX)
              .agg(pl.col("text").str.join("\n")))
    run_notes = (final.issues.filter(pl.col("rule").is_in([str(r) for r in RunRule])).group_by(IDX)
                 .agg(pl.col("text").first().alias("note")))
    joined = (final.frame.select(IDX, ROW, SHEET, "line_item_id", "status")
              .join(errors, on=IDX, how="left").join(run_notes, on=IDX, how="left")
              .with_columns(pl.when(pl.col("status") == Status.DUPLICATE.value).then(pl.col("note"))
                            .otherwise(pl.col("text")).alias("text")))
    return [RowRecord(row, line_id, STATUS_OF[state], text, sheet or None) for row, sheet, line_id, state, text
            in joined.select(ROW, SHEET, "line_item_id", "status", "text").iter_rows()]
