"""The ``run`` job: ingest → normalize → validate → plan → submit → follow → report, for many files.

Order of work, so that no reward is ordered twice and no row is lost:
1. batches an earlier run left ``sending`` are reconciled with Tango;
2. every file is read and checked; each valid row gets its line-item ID; a row whose ID Tango
   already accepted (any earlier run, any file) or that repeats a row of this run is DUPLICATE;
3. every row is recorded in the ledger, then the new line items are sent in batches;
4. accepted orders are followed until final or ``--wait`` runs out;
5. each file's report is written from the ledger's statuses.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.client import TangoClient
from pipeline.config import Settings, Target
from pipeline.errors import InputError
from pipeline.ingest import Sheet, read_sheet
from pipeline.ledger import ACCEPTED, Ledger, LineRecord
from pipeline.normalize import IDX, ISSUE_SCHEMA, normalize
from pipeline.plan import LineItem, line_items, order_fields, plan_batches
from pipeline.progress import Progress
from pipeline.report import new_folder, summarize, write_reports
from pipeline.submit import Stop, Submitter
from pipeline.validate import Validated, validate

__all__ = ["RunResult", "run_files", "make_client", "EXIT_STOPPED"]

log = logging.getLogger("tango_batch.run")
EXIT_OK, EXIT_ROWS, EXIT_UNREADABLE, EXIT_STOPPED = 0, 1, 2, 3
SIMULATOR_STATE = "simulator-state.json"


@dataclass
class FileWork:
    path: Path
    sheet: Sheet
    validated: Validated
    started: dt.datetime
    ids: dict[int, str] = field(default_factory=dict)              # row idx -> line-item id
    notes: dict[int, tuple[str, str]] = field(default_factory=dict)  # idx -> (status, message) decided early
    items: list[LineItem] = field(default_factory=list)              # to send


@dataclass
class RunResult:
    code: int
    run_id: int | None
    files: list[dict[str, Any]]
    figures: dict[str, Any]


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


def _earlier(record: LineRecord, ledger: Ledger) -> str:
    run = ledger.run_info(record.accepted_run or record.first_run) or {}
    when = (run.get("started_at") or "")[:10]
    return (f"Already ordered by run {record.accepted_run or record.first_run} on {when} "
            f"(order {record.batch_ref}, {record.status}): not sent again.")


def _continuing(work: FileWork, item: LineItem, ledger: Ledger) -> bool:
    """This very row of this very file was being ordered by a run that stopped before its end.

    Then this run continues that one and the row shows its real state; once a run has finished
    and reported the row, the same file uploaded again is a duplicate.
    """
    last = ledger.last_run_for_row(work.sheet.sha256, item.row, item.id)
    return last is not None and (last["exit_code"] is None or last["exit_code"] == EXIT_STOPPED)


def _plan_file(work: FileWork, settings: Settings, ledger: Ledger, seen: dict[str, str]) -> None:
    """Line-item IDs for the valid rows; DUPLICATE for those already ordered or already in this run."""
    assert settings.campaign is not None
    items = line_items(work.validated.frame, settings.campaign)
    known = ledger.lines(i.id for i in items)
    for item in items:
        work.ids[item.idx] = item.id
        record = known.get(item.id)
        if record is not None and record.status in ACCEPTED:
            if not _continuing(work, item, ledger):   # continuing: its real status is reported
                work.notes[item.idx] = ("DUPLICATE", _earlier(record, ledger))
        elif item.id in seen:
            work.notes[item.idx] = ("DUPLICATE", f"Same reward as {seen[item.id]} in this run: "
                                                 "ordered once, not twice.")
        else:
            seen[item.id] = f"{work.path.name} row {item.row}"
            work.items.append(item)


def _final(work: FileWork, ledger: Ledger | None, dry_run: bool) -> Validated:
    """The frame with each row's final status and Tango references, and the run's messages."""
    frame = work.validated.frame
    records = ledger.lines(work.ids.values()) if ledger is not None else {}
    status, line_ids, orders, refs, issues = [], [], [], [], []
    for idx, valid in zip(frame[IDX].to_list(), (frame["status"] == "VALID").to_list(), strict=True):
        line_id = work.ids.get(idx)
        record = records.get(line_id) if line_id else None
        line_ids.append(line_id)
        orders.append(record.batch_ref if record else None)
        refs.append(record.reference_line_item_id if record else None)
        if not valid:
            status.append("INVALID")
        elif idx in work.notes:
            state, message = work.notes[idx]
            status.append(state)
            issues.append((idx, "warning", message))
        elif dry_run or record is None:
            status.append("PENDING")
            if dry_run:
                issues.append((idx, "warning", "Dry run: planned, not sent."))
        else:
            state = "PENDING" if record.status == "SENDING" else record.status
            status.append(state)
            if record.message:
                issues.append((idx, "warning" if state == "DUPLICATE" else "error", record.message))
    extra = pl.DataFrame({IDX: [i for i, _, _ in issues], "field": [None] * len(issues),
                          "rule": ["submit"] * len(issues), "severity": [s for _, s, _ in issues],
                          "text": [t for _, _, t in issues]}, schema=ISSUE_SCHEMA)
    frame = frame.with_columns(pl.Series("status", status, pl.String),
                               pl.Series("line_item_id", line_ids, pl.String),
                               pl.Series("order_id", orders, pl.String),
                               pl.Series("reference_line_item_id", refs, pl.String))
    return Validated(frame=frame, issues=pl.concat([work.validated.issues, extra]).sort(IDX, maintain_order=True))


def _report(work: FileWork, final: Validated, settings: Settings, target: Target,
            progress: Progress) -> dict[str, Any]:
    campaign_path = settings.campaign.path if settings.campaign else None
    summary = summarize(work.sheet, final, started=work.started, mode="run", campaign_path=campaign_path,
                        target=target.name)
    folder = new_folder(settings.output, work.sheet.path, work.started)
    with progress.rows("writing report", work.sheet.frame.height) as tick:
        paths = write_reports(folder, work.sheet, final, summary, tick)
    counts = ", ".join(f"{n} {s}" for s, n in summary["status_counts"].items() if n)
    progress.say(f"{work.path.name}: {summary['rows']} rows: {counts or 'no rows'}")
    progress.say(f"  report: {paths['report']}")
    return {**summary, "report": str(paths["report"]), "failures": str(paths["failures"])}


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


def run_files(paths: list[str], settings: Settings, progress: Progress,
              client: TangoClient | None = None) -> RunResult:
    """The whole ``run`` command; returns its exit code and what it did."""
    assert settings.target is not None and settings.campaign is not None
    target = settings.target
    ledger = Ledger(settings.ledger, target.namespace)
    own_client = client is None
    code = EXIT_OK
    try:
        run_id = None if settings.dry_run else ledger.start_run("run")
        progress.say(f"target: {target.describe()}")
        client = client or make_client(target, settings, ledger, run_id)
        submitter = Submitter(client, ledger, run_id or 0, settings.batch_size, say=progress.say)
        stopped: str | None = None
        if not settings.dry_run:
            try:
                submitter.reconcile()
            except Stop as exc:
                stopped = str(exc)

        works: list[FileWork] = []
        seen: dict[str, str] = {}
        for path in paths:
            try:
                work = _check(Path(path), settings)
            except InputError as exc:
                progress.say(f"error: {exc}")
                code = max(code, EXIT_UNREADABLE)
                continue
            _plan_file(work, settings, ledger, seen)
            works.append(work)
            progress.say(f"{work.path.name}: {work.sheet.frame.height} rows checked, "
                         f"{len(work.items)} to send")

        if settings.dry_run:
            _dry_run(works, settings, ledger, progress)
        else:
            for work in works:
                ledger.add_pending(run_id, ((i.id, str(i.amount), i.quantity, i.delivery_method)
                                            for i in work.items))
                _record(ledger, run_id, work, _final(work, ledger, False))
            can_follow = stopped is None
            if stopped is None:
                try:
                    submitter.submit([i for w in works for i in w.items], order_fields(settings.campaign))
                except Stop as exc:
                    stopped, can_follow = str(exc), exc.can_follow
            if can_follow and settings.wait > 0:
                left = submitter.follow(settings.wait)
                if left:
                    progress.say(f"{left} orders not final yet: the next run or 'tango-batch status' "
                                 "picks them up")

        files = []
        for work in works:
            final = _final(work, None if settings.dry_run else ledger, settings.dry_run)
            if not settings.dry_run:
                _record(ledger, run_id, work, final)
            files.append(_report(work, final, settings, target, progress))
            if any(files[-1]["status_counts"].get(s) for s in ("INVALID", "REJECTED", "FAILED")):
                code = max(code, EXIT_ROWS)
        if stopped:
            progress.say(f"run stopped early: {stopped}")
            progress.say("everything is recorded: run the same command again to continue")
            code = max(code, EXIT_STOPPED)
        figures = {**submitter.figures.__dict__, "retries": client.retries}
        if run_id is not None:
            ledger.finish_run(run_id, code, stopped)
        return RunResult(code, run_id, files, figures)
    finally:
        if own_client and client is not None:
            client.close()
        ledger.close()


def _record(ledger: Ledger, run_id: int, work: FileWork, final: Validated) -> None:
    texts = (final.issues.filter(pl.col("severity") == "error").group_by(IDX)
             .agg(pl.col("text").str.join("\n")))
    joined = final.frame.select(IDX, "__row__", "line_item_id", "status").join(texts, on=IDX, how="left")
    ledger.record_rows(run_id, work.sheet.sha256, work.path.name, work.sheet.sheet,
                       joined.select("__row__", "line_item_id", "status", "text").iter_rows())
