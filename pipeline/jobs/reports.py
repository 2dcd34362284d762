"""A file's report after a run, written from the ledger's statuses; and again, in the same folder,
whenever its rows change status later (orders followed by another run or by ``status``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.config import StatusSettings
from pipeline.errors import InputError
from pipeline.ledger import FileRecord, Ledger
from pipeline.model import ROW, SHEET, Decision, FileState, RunRule, Severity, Status
from pipeline.progress import Progress
from pipeline.stages.check import Checked, check_read
from pipeline.stages.ingest import read_sheet
from pipeline.stages.outcome import Outcomes, row_outcomes
from pipeline.stages.report import new_folder, summarize, where, with_paths, write_reports
from pipeline.stages.validate import Validated
from rules import AccountTable

__all__ = ["outcomes_from", "report_file", "rewrite_after", "rewrite_reports"]


def outcomes_from(ledger: Ledger | None, ids: Mapping[int, str], decisions: Mapping[int, Decision],
                  dry_run: bool = False) -> Outcomes:
    """What the ledger knows now of these rows' line items (nothing, for a dry run)."""
    records = ledger.lines(ids.values()) if ledger is not None and not dry_run else {}
    in_flight = {r.batch_ref for r in records.values() if r.status == Status.SENDING and r.batch_ref}
    accepted = ledger.accepted_among(in_flight) if ledger is not None and in_flight else set()
    return Outcomes(ids, decisions, records, accepted, dry_run)


def report_file(checked: Checked, final: Validated, settings: StatusSettings, progress: Progress, *,
                campaign_path: str | None, folder: Path | None = None) -> dict[str, Any]:
    """Write the file's report (in ``folder`` when it still exists); returns its summary."""
    summary = summarize(checked.sheet, final, started=checked.started, mode="run",
                        campaign_path=campaign_path, target=settings.target.name)
    if folder is None or not folder.is_dir():
        folder = new_folder(settings.output, checked.sheet.path, checked.started)
    with progress.rows("writing report", checked.sheet.frame.height) as tick:
        paths = write_reports(folder, checked.sheet, final, summary, tick)
    written = with_paths(summary, paths)
    counts = {s: n for s, n in summary["status_counts"].items() if n}
    progress.say(f"{checked.path.name}: {summary['rows']} rows: "
                 + (", ".join(f"{n} {s}" for s, n in counts.items()) or "no rows"), event="file_reported",
                 file=checked.sheet.name, rows=summary["rows"], counts=counts, report=written["report"],
                 failures=written["failures"])
    for line in where(paths):
        progress.say(line)
    return {**written, "folder": str(folder)}


def rewrite_after(ledger: Ledger, refs: set[str], settings: StatusSettings, progress: Progress,
                  skip: frozenset[str] = frozenset()) -> int:
    """Files with rows in the orders ``refs`` (followed since) get their report written again."""
    if not refs:
        return 0
    files = [f for f in ledger.files_with_lines(ledger.members_of(refs)) if f.sha256 not in skip]
    return rewrite_reports(ledger, files, settings, progress)


def _rewrite_one(ledger: Ledger, record: FileRecord, settings: StatusSettings, progress: Progress) -> bool:
    path = Path(record.path)
    today = dt.date.fromisoformat(record.run_date)
    started = dt.datetime.now().astimezone()
    # the rules the file was run with: its campaign's bulk-shipping spelling, column names, date order,
    # accounts (a file run before campaigns had them: its Account column was not read, nor is it now)
    accounts = AccountTable(record.campaign["accountIdentifier"], record.campaign["accounts"]) \
        if "accounts" in record.campaign else None
    book = (settings.book.sending(record.campaign.get("bulk_shipping"))
            .mapping(record.campaign.get("columns") or {}).dating(record.campaign.get("date_order"))
            .accounting(accounts))
    try:
        sheet = read_sheet(path, book, record.sheets)
    except InputError as exc:
        progress.say(f"could not update the report of {record.name}: {exc.reason}")
        return False
    if sheet.sha256 != record.sha256:
        progress.say(f"could not update the report of {record.name}: the file at {path} has changed")
        return False
    checked = check_read(sheet, book, today=today, defaults=record.campaign.get("defaults") or {}, started=started)
    rows = ledger.last_rows(record.sha256, record.last_run)
    valid = checked.validated.frame["status"].to_list()
    ids: dict[int, str] = {}
    decisions: dict[int, Decision] = {}
    for idx, (part, row) in enumerate(checked.sheet.frame.select(SHEET, ROW).iter_rows()):
        recorded = rows.get((part, row))
        if recorded is None:
            continue
        if recorded.line_item_id:
            ids[idx] = recorded.line_item_id
        # what the last run decided without Tango (a duplicate, a catalog refusal) stands as it said
        if recorded.status in (Status.DUPLICATE, Status.INVALID, Status.HELD) and recorded.message \
                and valid[idx] != Status.INVALID.value:
            severity = Severity.WARNING if recorded.status == Status.DUPLICATE else Severity.ERROR
            decisions[idx] = Decision(RunRule.EARLIER_RUN, severity, recorded.message, recorded.status)
    final = row_outcomes(checked.validated, outcomes_from(ledger, ids, decisions))
    folder = Path(record.report_folder) if record.report_folder else None
    summary = report_file(checked, final, settings, progress, campaign_path=record.campaign.get("path"),
                          folder=folder)
    pending = summary["status_counts"].get(Status.PENDING.value, 0) > 0
    ledger.file_update(record.sha256, report_folder=summary["folder"],
                       state=FileState.PROCESSING if pending else FileState.DONE)
    return True


def rewrite_reports(ledger: Ledger, files: list[FileRecord], settings: StatusSettings, progress: Progress) -> int:
    """Write again the report of each file, from its last run's rows and the ledger's statuses now."""
    return sum(_rewrite_one(ledger, record, settings, progress) for record in files)
