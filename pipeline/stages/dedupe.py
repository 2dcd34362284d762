"""Never twice: which valid rows a run may send, given what the ledger knows.

Each valid row gets its line-item ID (see ``stages.plan``). A row whose ID Tango already has
(an earlier run, any file) is DUPLICATE, unless the run that recorded this very row of this very
file stopped before its end: this run continues that one, and the row shows its real state. A row
that repeats a row of another file of this run shares that row's fate. A row today's checks refuse
keeps the status it was ordered with, if it was.

``plan_file`` reads what bears on a file from the ledger once (``ledger_view``), then decides from
that alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import polars as pl

from pipeline.config import Campaign
from pipeline.ledger import FileRecord, Ledger, LineRecord
from pipeline.model import AT_TANGO, IDX, ROW, SHEET, Decision, FileState, RunRule, Severity, Status
from pipeline.stages.plan import LineItem, Lines, RowIds, line_item_ids
from rules import RuleBook

__all__ = ["FilePlan", "LedgerView", "Seen", "campaign_changed", "ledger_view", "plan_file", "plan_rows"]

# the campaign values that are part of every line-item ID
IDENTITY_KEYS = ("customerIdentifier", "accountIdentifier", "campaign")


@dataclass(frozen=True)
class LedgerView:
    """What the ledger knows that bears on one file's rows."""
    records: dict[str, LineRecord]              # line-item id -> its record
    interrupted: set[tuple[str, int, str]]      # (sheet, row, line-item id) whose last run stopped early
    run_dates: dict[int, str]                   # run id -> when it started
    # (sheet, row) -> the line item this very row of this very file was ordered under (or is in flight as)
    ordered_rows: dict[tuple[str, int], str] = field(default_factory=dict)


class Seen:
    """The rows a run sends, by line-item ID, across its files: where each is ("file row N", with its
    sheet when the file has several). A file's rows are kept as columns, not a dict entry each."""

    def __init__(self) -> None:
        self._files: list[tuple[pl.DataFrame, str, bool]] = []     # (id, sheet, row), file name, several sheets
        self._one: dict[str, str] = {}                               # rows looked at one by one

    def where(self, ids: pl.Series) -> dict[str, str]:
        """Those of ``ids`` an earlier row of the run sends, and where that row is."""
        found = {i: self._one[i] for i in self._one.keys() & set(ids.to_list())} if self._one else {}
        asked = pl.DataFrame({"id": ids})
        for rows, name, several in self._files:
            for line_id, sheet, row in rows.join(asked, on="id", how="semi").iter_rows():
                found.setdefault(line_id, _where(name, several, sheet, row))
        return found

    def add(self, line_id: str, where: str) -> None:
        self._one.setdefault(line_id, where)

    def add_rows(self, lines: Lines, file_name: str, several: bool) -> None:
        rows = pl.DataFrame({"id": lines.line_ids(), SHEET: lines.column(SHEET), ROW: lines.column(ROW)})
        self._files.append((rows, file_name, several))


def _where(file_name: str, several: bool, sheet: str, row: int) -> str:
    return f"{file_name}" + (f", sheet '{sheet}'," if several else "") + f" row {row}"


@dataclass
class FilePlan:
    ids: RowIds                                                   # row idx -> line-item id
    sending: Lines                                                # the rows to send
    decisions: dict[int, Decision] = field(default_factory=dict)  # rows not sent, and why
    records: dict[str, LineRecord] = field(default_factory=dict)  # what the ledger knew of the rows' lines
    _items: tuple[Lines, list[LineItem]] | None = field(default=None, repr=False)

    @property
    def items(self) -> list[LineItem]:
        """The rows to send as line items (made once for the ``sending`` they are made of)."""
        if self._items is None or self._items[0] is not self.sending:
            self._items = (self.sending, self.sending.items())
        return self._items[1]


def ledger_view(ledger: Ledger, sha256: str, ids: Iterable[str]) -> LedgerView:
    ordered_rows = ledger.rows_ordered(sha256)
    records = ledger.lines([*ids, *ordered_rows.values()])
    runs = {r.accepted_run or r.first_run for r in records.values() if r.status in AT_TANGO}
    return LedgerView(records, ledger.interrupted_rows(sha256) if records else set(), ledger.run_dates(runs),
                      ordered_rows)


def _same_row(item: LineItem, view: LedgerView, plan: FilePlan) -> bool:
    """A row of this very file (same content) already ordered under another line-item ID: a newer
    version of the pipeline reads the row a little differently (an invisible character taken out),
    so its ID changed; the reward is the one already ordered. Never sent again."""
    earlier = view.ordered_rows.get((item.sheet, item.row))
    if earlier is None or earlier == item.id or item.id in view.records:
        return False
    record = view.records[earlier]
    plan.ids[item.idx] = earlier
    if record.status != Status.SENDING and (item.sheet, item.row, earlier) not in view.interrupted:
        plan.decisions[item.idx] = _earlier(record, view)
    return True


def _earlier(record: LineRecord, view: LedgerView) -> Decision:
    run = record.accepted_run or record.first_run
    when = view.run_dates.get(run, "")[:10]
    return Decision(RunRule.ORDERED_BEFORE, Severity.WARNING,
                    f"Already ordered by run {run} on {when} (order {record.batch_ref}, {record.status}): "
                    "not sent again.", Status.DUPLICATE)


def _valid_rows(items: list[LineItem], view: LedgerView, plan: FilePlan, seen: dict[str, str],
                file_name: str, several: bool) -> list[int]:
    """The rows of ``items`` to send (their positions); a decision for the others. ``seen``: where the
    run's rows of these IDs are, given the rows sent here."""
    sent = []
    for item in items:
        if _same_row(item, view, plan):
            continue
        record = view.records.get(item.id)
        if record is not None and record.status == Status.SENDING:
            continue       # in an order Tango accepted but has not listed this line of yet: in flight
        if record is not None and record.status in AT_TANGO:
            if (item.sheet, item.row, item.id) not in view.interrupted:   # continuing: its real status is reported
                plan.decisions[item.idx] = _earlier(record, view)
        elif item.id in seen:
            plan.decisions[item.idx] = Decision(RunRule.SAME_IN_RUN, Severity.WARNING,
                                                f"Same reward as {seen[item.id]} in this run")
        else:
            seen[item.id] = _where(file_name, several, item.sheet, item.row)
            sent.append(item.idx)
    return sent


def _refused_today(invalid: dict[int, tuple[str, int, str]], view: LedgerView, plan: FilePlan) -> None:
    """A row Tango accepted earlier keeps that status even if today's checks refuse it.

    The delivery date is checked against the day of the run: a row ordered on Monday with a date
    ten days out fails the seven-day rule on Friday, but it was ordered all the same.
    """
    for idx, (sheet, row, line_id) in invalid.items():
        if line_id not in view.records:             # ordered by an earlier version under another ID?
            line_id = view.ordered_rows.get((sheet, row), line_id)
        record = view.records.get(line_id)
        if record is None or record.status not in AT_TANGO:
            continue
        plan.ids[idx] = line_id
        if (sheet, row, line_id) in view.interrupted:
            plan.decisions[idx] = Decision(
                RunRule.ORDERED_DESPITE, Severity.WARNING, "Ordered by an earlier run of this file; today's "
                "checks would refuse it (see the warnings), but it went through.")
        else:
            plan.decisions[idx] = _earlier(record, view)


def plan_file(frame: pl.DataFrame, sha256: str, file_name: str, campaign: Campaign, book: RuleBook,
              ledger: Ledger, seen: Seen) -> FilePlan:
    """Line-item IDs for a checked file's rows, what to send, and why the others are not sent.

    ``seen``: the rows this run sends, updated with this file's. The rules above look at a row one
    by one only where one may bear on it (its ID known to the ledger or to the run, repeated in the
    file, or the row ordered before); every other valid row is sent, decided in bulk.
    """
    ids = line_item_ids(frame, campaign)
    status = frame.get_column("status")
    known = ids.filter((status == Status.VALID.value) | (status == Status.INVALID.value)).to_list()
    return plan_rows(frame, ids, ledger_view(ledger, sha256, known), campaign, book, seen, file_name)


def plan_rows(frame: pl.DataFrame, ids: pl.Series, view: LedgerView, campaign: Campaign, book: RuleBook,
              seen: Seen, file_name: str) -> FilePlan:
    """``plan_file`` once the ledger is read: ``ids`` are the frame's line-item IDs."""
    status = frame.get_column("status")
    lines = Lines.valid(frame, ids, campaign, book)
    line_ids = lines.line_ids()
    invalid = frame.select(IDX, SHEET, ROW, ids.alias("id")).filter(status == Status.INVALID.value)
    plan = FilePlan(RowIds(ids, status == Status.VALID.value), lines, records=view.records)
    several = frame.get_column(SHEET).n_unique() > 1
    earlier = seen.where(line_ids)
    known = pl.Series([*view.records, *earlier], dtype=pl.String)
    looked_at = line_ids.is_in(known.implode()) | line_ids.is_duplicated()
    if view.ordered_rows:
        looked_at |= pl.Series([(sheet, row) in view.ordered_rows for sheet, row in
                                zip(lines.column(SHEET).to_list(), lines.column(ROW).to_list(), strict=True)],
                               dtype=pl.Boolean)
    if looked_at.any():
        one_by_one = lines.keep(looked_at)
        here = dict(earlier)
        sent = _valid_rows(one_by_one.items(), view, plan, here, file_name, several)
        plan.sending = lines.without(set(one_by_one.rows.to_list()) - set(sent))
        for line_id in here.keys() - earlier.keys():
            seen.add(line_id, here[line_id])
    seen.add_rows(lines.keep(~looked_at), file_name, several)
    if view.records or view.ordered_rows:
        _refused_today({idx: (sheet, row, line_id) for idx, sheet, row, line_id in invalid.iter_rows()}, view, plan)
    return plan


def campaign_changed(record: FileRecord | None, campaign: Campaign) -> str | None:
    """A file still being worked on must be continued with the campaign it was started with.

    Customer, account and campaign are part of every line-item ID: with another value, the rows
    already ordered would get new IDs and be ordered a second time.
    """
    if record is None or record.state != FileState.PROCESSING:
        return None
    for key in IDENTITY_KEYS:
        before, now = record.campaign.get(key), getattr(campaign, key)
        if before != now:
            return (f"this file was started with {key} = {before!r} and is now run with {now!r}. "
                    f"Continue it with the campaign file it was started with ({record.campaign.get('path')}): "
                    "with another value, rows already ordered would be ordered again")
    return None
