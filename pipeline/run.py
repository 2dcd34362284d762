"""The ``run`` job: ingest → normalize → validate → plan → submit → follow → report, for many files.

Order of work, so that no reward is ordered twice and no row is lost:
1. batches an earlier run left ``sending`` are reconciled with Tango;
2. every file is read and checked; rows whose reward does not fit Tango's catalog are INVALID;
   each valid row gets its line-item ID; a row whose ID Tango already accepted (an earlier run, any
   file) or that repeats a row of this run is DUPLICATE;
3. every row is recorded in the ledger; the account's balance must cover the rows to send;
4. the new line items are sent in batches; accepted orders are followed until final or ``--wait``;
5. each file's report is written from the ledger's statuses, and so is the report of every
   earlier file whose rows changed status in this run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.client import TangoClient
from pipeline.config import Campaign, Settings, Target
from pipeline.errors import InputError
from pipeline.ingest import Sheet, read_sheet
from pipeline.ledger import ACCEPTED, F_DONE, F_PROCESSING, SENDING, FileRecord, Ledger, LineRecord
from pipeline.normalize import IDX, ISSUE_SCHEMA, normalize
from pipeline.plan import LineItem, line_item_ids, line_items, order_fields, plan_batches
from pipeline.preflight import Catalog, check_account, load_catalog
from pipeline.progress import Progress
from pipeline.report import TO_FIX, new_folder, summarize, write_reports
from pipeline.submit import Stop, Submitter
from pipeline.validate import Validated, validate

__all__ = ["RunResult", "FileOutcome", "run_files", "make_client", "rewrite_reports", "rewrite_after",
           "EXIT_STOPPED"]

log = logging.getLogger("tango_batch.run")
EXIT_OK, EXIT_ROWS, EXIT_UNREADABLE, EXIT_STOPPED = 0, 1, 2, 3
SIMULATOR_STATE = "simulator-state.json"
SAME_IN_RUN = "same-in-run"      # a note: the row repeats a row of another file of this run
KEEP = "keep"                    # a note: the row was ordered before; it reports its ledger status


@dataclass
class FileWork:
    path: Path
    sheet: Sheet
    validated: Validated
    started: dt.datetime
    ids: dict[int, str] = field(default_factory=dict)        # row idx -> line-item id
    # statuses decided before sending: idx -> (status, severity, message, field)
    notes: dict[int, tuple[str, str, str, str | None]] = field(default_factory=dict)
    items: list[LineItem] = field(default_factory=list)        # to send


@dataclass
class FileOutcome:
    path: str
    sha256: str | None = None
    summary: dict[str, Any] | None = None
    error: str | None = None                # the file could not be read
    same_as: str | None = None              # the same content as another file of this run

    @property
    def pending(self) -> bool:
        return bool(self.summary and self.summary["status_counts"].get("PENDING"))


@dataclass
class RunResult:
    code: int
    run_id: int | None
    outcomes: list[FileOutcome]
    figures: dict[str, Any]

    @property
    def files(self) -> list[dict[str, Any]]:
        return [o.summary for o in self.outcomes if o.summary is not None]


def make_client(target: Target, settings: Settings, ledger: Ledger | None = None,
                run_id: int | None = None, transport: Any = None) -> TangoClient:
    """A client for ``target``; the simulator runs in-process, its state kept beside the reports."""
    if transport is None and target.simulated:
        from pipeline.simulator import Simulator, SimulatorTransport
        settings.output.mkdir(parents=True, exist_ok=True)
        transport = SimulatorTransport(Simulator(settings.output / SIMULATOR_STATE))

    def on_response(method: str, path: str, status: int | None, request_id: str | None, outcome: str) -> None:
        log.info("%s %s -> %s %s (X-REQUEST-ID %s)", method, path, status or "-", outcome, request_id or "-")
        if ledger is not None:
            ledger.log_http(run_id, method, path, status, request_id, outcome)

    return TangoClient(target.base_url, target.auth, transport=transport, post_rate=settings.post_rate,
                       on_response=on_response)


def _check(path: Path, settings: Settings) -> FileWork:
    started = dt.datetime.now().astimezone()
    sheet = read_sheet(path, settings.sheet)
    defaults = settings.campaign.defaults if settings.campaign else {}
    return FileWork(path, sheet, validate(sheet, normalize(sheet, defaults), settings.today), started)


def _catalog_check(work: FileWork, catalog: Catalog) -> None:
    """Rows about to be sent whose reward does not fit the catalog become INVALID, with the reason.

    Only rows about to be sent: a row already ordered keeps its status whatever the catalog says now.
    """
    verdicts: dict[tuple[str, str], tuple[str, str] | None] = {}
    keep = []
    for item in work.items:
        key = (item.payload["utid"], str(item.amount))
        if key not in verdicts:
            verdicts[key] = catalog.problem(*key)
        if verdicts[key]:
            column, why = verdicts[key]
            work.notes[item.idx] = ("INVALID", "error", why, column)
        else:
            keep.append(item)
    work.items = keep


def _earlier(record: LineRecord, ledger: Ledger) -> str:
    run = ledger.run_info(record.accepted_run or record.first_run) or {}
    when = (run.get("started_at") or "")[:10]
    return (f"Already ordered by run {record.accepted_run or record.first_run} on {when} "
            f"(order {record.batch_ref}, {record.status}): not sent again.")


def _continuing(work: FileWork, row: int, line_id: str, ledger: Ledger) -> bool:
    """This very row of this very file was being ordered by a run that stopped before its end.

    Then this run continues that one and the row shows its real state; once a run has finished
    and reported the row, the same file uploaded again is a duplicate.
    """
    last = ledger.last_run_for_row(work.sheet.sha256, row, line_id)
    return last is not None and (last["exit_code"] is None or last["exit_code"] == EXIT_STOPPED)


def _plan_file(work: FileWork, campaign: Campaign, ledger: Ledger, seen: dict[str, str]) -> None:
    """Line-item IDs for the valid rows; DUPLICATE for those already ordered or already in this run."""
    items = line_items(work.validated.frame, campaign)
    known = ledger.lines(i.id for i in items)
    for item in items:
        work.ids[item.idx] = item.id
        record = known.get(item.id)
        if record is not None and record.status == SENDING:
            continue       # in an order Tango accepted but has not listed this line of yet: in flight
        if record is not None and record.status in ACCEPTED:
            if not _continuing(work, item.row, item.id, ledger):   # continuing: its real status is reported
                work.notes[item.idx] = ("DUPLICATE", "warning", _earlier(record, ledger), None)
        elif item.id in seen:
            work.notes[item.idx] = (SAME_IN_RUN, "warning", f"Same reward as {seen[item.id]} in this run",
                                    None)
        else:
            seen[item.id] = f"{work.path.name} row {item.row}"
            work.items.append(item)
    _already_ordered_but_invalid_now(work, campaign, ledger)


def _already_ordered_but_invalid_now(work: FileWork, campaign: Campaign, ledger: Ledger) -> None:
    """A row Tango accepted earlier keeps that status even if today's checks refuse it.

    The delivery date is checked against the day of the run: a row ordered on Monday with a date
    ten days out fails the seven-day rule on Friday, but it was ordered all the same.
    """
    frame = work.validated.frame
    invalid = frame.filter(pl.col("status") == "INVALID").select(IDX, "__row__")
    if invalid.is_empty():
        return
    ids = line_item_ids(frame, campaign)
    candidates = {idx: (row, ids[idx]) for idx, row in invalid.iter_rows()}
    known = ledger.lines(lid for _, lid in candidates.values())
    for idx, (row, line_id) in candidates.items():
        record = known.get(line_id)
        if record is None or record.status not in ACCEPTED:
            continue
        work.ids[idx] = line_id
        if _continuing(work, row, line_id, ledger):
            work.notes[idx] = (KEEP, "warning", "Ordered by an earlier run of this file; today's checks "
                               "would refuse it (see the warnings), but it went through.", None)
        else:
            work.notes[idx] = ("DUPLICATE", "warning", _earlier(record, ledger), None)


def _final(work: FileWork, ledger: Ledger | None, dry_run: bool) -> Validated:
    """The frame with each row's final status and Tango references, and the run's messages."""
    frame = work.validated.frame
    records = ledger.lines(work.ids.values()) if ledger is not None else {}
    in_flight = {r.batch_ref for r in records.values() if r.status == SENDING}
    accepted = ledger.accepted_among(in_flight) if ledger is not None and in_flight else set()

    def state_of(record: LineRecord | None) -> str:
        """The row status a ledger record stands for; a line still SENDING is in flight or unsent."""
        if record is None or dry_run:
            return "PENDING"
        if record.status == SENDING:
            return "SUBMITTED" if record.batch_ref in accepted else "PENDING"
        return record.status

    valid_rows = (frame["status"] == "VALID").to_list()
    status, line_ids, orders, refs, issues = [], [], [], [], []
    for idx, valid in zip(frame[IDX].to_list(), valid_rows, strict=True):
        line_id = work.ids.get(idx)
        record = records.get(line_id) if line_id else None
        line_ids.append(line_id)
        orders.append(record.batch_ref if record else None)
        refs.append(record.reference_line_item_id if record else None)
        if idx in work.notes and work.notes[idx][0] == SAME_IN_RUN:
            # ordered through another row of this run: this row shares that row's fate
            first = state_of(record)
            state = "DUPLICATE" if first in ACCEPTED else first
            status.append(state)
            outcome = "ordered once, not twice" if state == "DUPLICATE" else f"which is {state}"
            issues.append((idx, None, "warning" if state in ("DUPLICATE", "PENDING") else "error",
                           f"{work.notes[idx][2]}, {outcome}."))
        elif idx in work.notes:
            state, severity, message, column = work.notes[idx]
            if state == KEEP:
                state = state_of(record)
            status.append(state)
            issues.append((idx, column, severity, message))
        elif not valid:
            status.append("INVALID")
        elif dry_run or record is None:
            status.append("PENDING")
            if dry_run:
                issues.append((idx, None, "warning", "Dry run: planned, not sent."))
        else:
            state = state_of(record)
            status.append(state)
            if record.message:
                issues.append((idx, None, "warning" if state == "DUPLICATE" else "error", record.message))
    extra = pl.DataFrame({IDX: [i[0] for i in issues], "field": [i[1] for i in issues],
                          "rule": ["submit"] * len(issues), "severity": [i[2] for i in issues],
                          "text": [i[3] for i in issues]}, schema=ISSUE_SCHEMA)
    # a row that was ordered is not a row to fix: what today's checks say of it is only a warning
    ordered = [i for i in work.notes if work.notes[i][0] in (KEEP, "DUPLICATE") and not valid_rows[i]]
    base = work.validated.issues
    if ordered:
        base = base.with_columns(pl.when(pl.col(IDX).is_in(ordered) & (pl.col("severity") == "error"))
                                 .then(pl.lit("warning")).otherwise(pl.col("severity")).alias("severity"))
    frame = frame.with_columns(pl.Series("status", status, pl.String),
                               pl.Series("line_item_id", line_ids, pl.String),
                               pl.Series("order_id", orders, pl.String),
                               pl.Series("reference_line_item_id", refs, pl.String))
    return Validated(frame=frame, issues=pl.concat([base, extra]).sort(IDX, maintain_order=True))


def _report(work: FileWork, final: Validated, settings: Settings, target: Target, progress: Progress,
            folder: Path | None = None, campaign_path: str | None = None) -> dict[str, Any]:
    summary = summarize(work.sheet, final, started=work.started, mode="run",
                        campaign_path=campaign_path or (settings.campaign.path if settings.campaign else None),
                        target=target.name)
    if folder is None or not folder.is_dir():
        folder = new_folder(settings.output, work.sheet.path, work.started)
    with progress.rows("writing report", work.sheet.frame.height) as tick:
        paths = write_reports(folder, work.sheet, final, summary, tick)
    counts = ", ".join(f"{n} {s}" for s, n in summary["status_counts"].items() if n)
    progress.say(f"{work.path.name}: {summary['rows']} rows: {counts or 'no rows'}")
    progress.say(f"  report: {paths['report']}")
    return {**summary, "report": str(paths["report"]), "failures": str(paths["failures"]),
            "folder": str(folder)}


def _dry_run(works: list[FileWork], settings: Settings, ledger: Ledger, progress: Progress) -> Path:
    """The planned batches and their exact JSON payloads, written out; nothing is sent."""
    assert settings.campaign is not None
    items = [i for w in works for i in w.items]
    batches = plan_batches(items, order_fields(settings.campaign), settings.batch_size, ledger.generation)
    folder = new_folder(settings.output, Path("dry-run"), dt.datetime.now())
    (folder / "batches").mkdir()
    plan = []
    for batch in batches:
        (folder / "batches" / f"{batch.ref}.json").write_text(json.dumps(batch.payload, indent=2) + "\n")
        plan.append({"externalRefID": batch.ref, "generation": batch.generation,
                     "lineItems": len(batch.members), "amount": float(batch.value),
                     "members": [m.id for m in batch.members]})
    (folder / "plan.json").write_text(json.dumps({"batches": plan}, indent=2) + "\n")
    progress.say(f"dry run: {len(batches)} batches of {len(items)} line items written to {folder}")
    return folder


def _record(ledger: Ledger, run_id: int, work: FileWork, final: Validated) -> None:
    texts = (final.issues.filter(pl.col("severity") == "error").group_by(IDX)
             .agg(pl.col("text").str.join("\n")))
    duplicates = final.issues.filter(pl.col("rule") == "submit").group_by(IDX).agg(pl.col("text").first()
                                                                                   .alias("note"))
    joined = (final.frame.select(IDX, "__row__", "line_item_id", "status")
              .join(texts, on=IDX, how="left").join(duplicates, on=IDX, how="left")
              .with_columns(pl.when(pl.col("status") == "DUPLICATE").then(pl.col("note"))
                            .otherwise(pl.col("text")).alias("text")))
    ledger.record_rows(run_id, work.sheet.sha256, work.path.name, work.sheet.sheet,
                       joined.select("__row__", "line_item_id", "status", "text").iter_rows())


def _campaign_record(campaign: Campaign) -> dict[str, Any]:
    return dataclasses.asdict(campaign)


IDENTITY_KEYS = ("customerIdentifier", "accountIdentifier", "campaign")


def _campaign_changed(record: FileRecord | None, campaign: Campaign) -> str | None:
    """A file still being worked on must be continued with the campaign it was started with.

    Customer, account and campaign are part of every line-item ID: with another value, the rows
    already ordered would get new IDs and be ordered a second time.
    """
    if record is None or record.state != F_PROCESSING:
        return None
    for key in IDENTITY_KEYS:
        before, now = record.campaign.get(key), getattr(campaign, key)
        if before != now:
            return (f"this file was started with {key} = {before!r} and is now run with {now!r}. "
                    f"Continue it with the campaign file it was started with ({record.campaign.get('path')}): "
                    "with another value, rows already ordered would be ordered again")
    return None


class _Run:
    """The state of one ``run``: what the steps of ``run_files`` share."""

    def __init__(self, settings: Settings, progress: Progress, client: TangoClient | None,
                 reuse_folders: bool) -> None:
        assert settings.target is not None and settings.campaign is not None
        self.settings, self.progress, self.reuse = settings, progress, reuse_folders
        self.target, self.campaign = settings.target, settings.campaign
        self.ledger = Ledger(settings.ledger, self.target.namespace)
        self.run_id = 0 if settings.dry_run else self.ledger.start_run("run")
        self.own_client = client is None
        self.client = client or make_client(self.target, settings, self.ledger, self.run_id or None)
        self.submitter = Submitter(self.client, self.ledger, self.run_id, settings.batch_size, say=progress.say)
        self.code, self.stopped, self.can_follow = EXIT_OK, None, True
        # orders whose rows may change status in this run: their files' reports are written again
        self.unfinished = {b.external_ref_id for b in self.ledger.batches(unfinished=True)}
        self.unfinished |= {b.external_ref_id for b in self.ledger.batches(states=["sending"])}

    def stop(self, exc: Stop) -> None:
        if self.stopped is None:
            self.stopped, self.can_follow = str(exc), exc.can_follow

    def close(self) -> None:
        if self.own_client:
            self.client.close()
        self.ledger.close()


def run_files(paths: list[str], settings: Settings, progress: Progress,
              client: TangoClient | None = None, *, reuse_folders: bool = False) -> RunResult:
    """The whole ``run`` command; returns its exit code and what happened to each file.

    ``reuse_folders``: a file worked on before gets its report rewritten in the same folder (the
    nightly job's behaviour), rather than a new folder per run.
    """
    run = _Run(settings, progress, client, reuse_folders)
    try:
        progress.say(f"target: {run.target.describe()}")
        if not settings.dry_run:
            try:
                run.submitter.reconcile()
            except Stop as exc:
                run.stop(exc)
        outcomes, works = _check_all(run, paths)
        if settings.dry_run:
            _dry_run(works, settings, run.ledger, progress)
        else:
            _send(run, works)
        for outcome, work in zip([o for o in outcomes if o.error is None and o.same_as is None], works,
                                 strict=True):
            outcome.summary = _finish_file(run, work)
            if any(outcome.summary["status_counts"].get(s) for s in TO_FIX):
                run.code = max(run.code, EXIT_ROWS)
        if not settings.dry_run:
            _rewrite_changed(run, {w.sheet.sha256 for w in works})
        if run.stopped:
            progress.say(f"run stopped early: {run.stopped}")
            progress.say("everything is recorded: run the same command again to continue")
            run.code = max(run.code, EXIT_STOPPED)
        figures = {**run.submitter.figures.__dict__, "retries": run.client.retries}
        if not settings.dry_run:
            run.ledger.finish_run(run.run_id, run.code, run.stopped)
        return RunResult(run.code, run.run_id or None, outcomes, figures)
    finally:
        run.close()


def _check_all(run: _Run, paths: list[str]) -> tuple[list[FileOutcome], list[FileWork]]:
    """Read, check and plan every file; the pre-flight catalog check runs here."""
    outcomes, works = [], []
    seen: dict[str, str] = {}
    catalog: Catalog | None = None
    for path in paths:
        outcome = FileOutcome(path)
        outcomes.append(outcome)
        try:
            work = _check(Path(path), run.settings)
        except InputError as exc:
            run.progress.say(f"error: {exc}")
            outcome.error = exc.reason
            run.code = max(run.code, EXIT_UNREADABLE)
            continue
        except Exception as exc:  # noqa: BLE001 - one file must not stop the night for the others
            log.error("internal error while reading %s: %s: %s", path, type(exc).__name__, exc)
            log.debug("details", exc_info=True)     # --debug: the traceback, for the engineer
            outcome.error = (f"the pipeline failed to read it ({type(exc).__name__}); the engineer on call "
                             "has the details in the log")
            run.progress.say(f"error: {Path(path).name}: {outcome.error}")
            run.code = max(run.code, EXIT_UNREADABLE)
            continue
        outcome.sha256 = work.sheet.sha256
        changed = _campaign_changed(run.ledger.file(outcome.sha256), run.campaign)
        if changed:
            run.progress.say(f"error: {work.path.name}: {changed}")
            outcome.error = changed
            run.code = max(run.code, EXIT_UNREADABLE)
            continue
        twin = next((o for o in outcomes[:-1] if o.sha256 == outcome.sha256 and o.same_as is None), None)
        if twin is not None:
            outcome.same_as = twin.path
            run.progress.say(f"{work.path.name}: the same content as {Path(twin.path).name}, which this run "
                             "processes: not run twice")
            continue
        _plan_file(work, run.campaign, run.ledger, seen)
        if work.items and run.stopped is None:
            if catalog is None:
                try:
                    catalog = load_catalog(run.client, run.settings.output, run.target.namespace)
                except Stop as exc:
                    run.stop(exc)
            if catalog is not None:
                _catalog_check(work, catalog)
        works.append(work)
        run.progress.say(f"{work.path.name}: {work.sheet.frame.height} rows checked, {len(work.items)} to send")
    return outcomes, works


def _send(run: _Run, works: list[FileWork]) -> None:
    """Record, pre-flight the account, submit, follow."""
    for work in works:
        run.ledger.file_seen(run.run_id, work.sheet.sha256, work.path.name, str(work.path.resolve()),
                             run.settings.today.isoformat(), work.sheet.sheet, _campaign_record(run.campaign))
        run.ledger.add_pending(run.run_id, ((i.id, str(i.amount), i.quantity, i.delivery_method)
                                            for i in work.items))
        _record(run.ledger, run.run_id, work, _final(work, run.ledger, False))
    items = [i for w in works for i in w.items]
    if items and run.stopped is None:
        try:
            total = sum((i.value for i in items), Decimal(0))
            check_account(run.client, run.campaign.accountIdentifier, total)
            run.submitter.submit(items, order_fields(run.campaign))
        except Stop as exc:
            run.stop(exc)
    if run.can_follow and run.settings.wait > 0:
        left = run.submitter.follow(run.settings.wait)
        if left:
            run.progress.say(f"{left} orders not final yet: the next run or 'tango-batch status' picks them up")


def _finish_file(run: _Run, work: FileWork) -> dict[str, Any]:
    dry = run.settings.dry_run
    final = _final(work, None if dry else run.ledger, dry)
    folder = None
    if not dry:
        _record(run.ledger, run.run_id, work, final)
        known = run.ledger.file(work.sheet.sha256)
        if run.reuse and known and known.report_folder and Path(known.report_folder).is_dir():
            folder = Path(known.report_folder)
        else:
            # the folder is on record before anything is written in it: a run killed while
            # writing leaves no second, stale report folder behind
            folder = new_folder(run.settings.output, work.sheet.path, work.started)
            run.ledger.file_update(work.sheet.sha256, report_folder=str(folder))
    summary = _report(work, final, run.settings, run.target, run.progress, folder)
    if not dry:
        pending = summary["status_counts"].get("PENDING", 0) > 0
        run.ledger.file_update(work.sheet.sha256, state=F_PROCESSING if pending else F_DONE,
                               report_folder=summary["folder"])
    return summary


def _rewrite_changed(run: _Run, skip: set[str]) -> None:
    rewrite_after(run.ledger, run.unfinished, run.settings, run.progress, skip)


def rewrite_after(ledger: Ledger, refs: set[str], settings: Settings, progress: Progress,
                  skip: set[str] = frozenset()) -> int:
    """Files with rows in the orders ``refs`` (followed since) get their report written again."""
    if not refs:
        return 0
    files = [f for f in ledger.files_with_lines(ledger.members_of(refs)) if f.sha256 not in skip]
    return rewrite_reports(ledger, files, settings, progress)


def rewrite_reports(ledger: Ledger, files: list[FileRecord], settings: Settings, progress: Progress) -> int:
    """Write again the report of each file, from its last run's rows and the ledger's statuses now."""
    assert settings.target is not None
    done = 0
    for record in files:
        path = Path(record.path)
        try:
            sheet = read_sheet(path, record.sheet)
        except InputError as exc:
            progress.say(f"could not update the report of {record.name}: {exc.reason}")
            continue
        if sheet.sha256 != record.sha256:
            progress.say(f"could not update the report of {record.name}: the file at {path} has changed")
            continue
        campaign = record.campaign
        today = dt.date.fromisoformat(record.run_date)
        validated = validate(sheet, normalize(sheet, campaign.get("defaults") or {}), today)
        work = FileWork(path, sheet, validated, dt.datetime.now().astimezone())
        rows = ledger.last_rows(record.sha256, record.last_run)
        for idx, row in sheet.frame.select(pl.int_range(pl.len()).alias("i"), "__row__").iter_rows():
            line_id, status, message = rows.get(row, (None, None, None))
            if line_id:
                work.ids[idx] = line_id
            if status in ("DUPLICATE", "INVALID") and message and not validated.frame["status"][idx] == "INVALID":
                work.notes[idx] = (status, "warning" if status == "DUPLICATE" else "error", message, None)
        final = _final(work, ledger, False)
        folder = Path(record.report_folder) if record.report_folder else None
        settings_then = dataclasses.replace(settings, today=today)
        summary = _report(work, final, settings_then, settings.target, progress, folder,
                          campaign_path=campaign.get("path"))
        pending = summary["status_counts"].get("PENDING", 0) > 0
        ledger.file_update(record.sha256, report_folder=summary["folder"],
                           state=F_PROCESSING if pending else F_DONE)
        done += 1
    return done
