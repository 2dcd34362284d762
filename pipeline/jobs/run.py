"""The ``run`` job: check → plan → dedupe → preflight → submit → follow → report, for many files.

Order of work, so that no reward is ordered twice and no row is lost:
1. batches an earlier run left ``sending`` are reconciled with Tango;
2. every file is read and checked; each valid row gets its line-item ID; a row whose ID Tango
   already has, or that repeats a row of this run, is not sent (``stages.dedupe``); rows whose
   reward does not fit Tango's catalog are INVALID (``stages.preflight``);
3. every row is recorded in the ledger; each account's balance must cover its rows to send (a row
   orders from the account its Account cell names, else the campaign's; see ``rules.accounts``);
4. the new line items are sent in batches, each of one account, all through the run's one client
   (one set of credentials, so one pace: see ``pipeline.tango.pacing``); accepted orders are
   followed until final or ``--wait``;
5. each file's report is written from the ledger's statuses, and so is the report of every
   earlier file whose rows changed status in this run.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import RunSettings
from pipeline.environment import os_error_in, unwritable
from pipeline.errors import InputError, LedgerUnusable, Locked, Shortfall, Stop, bugs
from pipeline.jobs.approvals import gate, record_done, record_sent
from pipeline.jobs.ledger import check_against_tango
from pipeline.jobs.reports import outcomes_from, report_file, rewrite_after
from pipeline.jobs.results import FileOutcome, RunResult
from pipeline.jobs.verdict import decide
from pipeline.ledger import FileRecord, Ledger
from pipeline.lock import scope
from pipeline.masking import shown
from pipeline.model import TO_FIX, BatchState, ExitCode, FileState, Status
from pipeline.progress import Progress
from pipeline.stages.check import Checked, check_file
from pipeline.stages.dedupe import FilePlan, Seen, campaign_changed
from pipeline.stages.outcome import row_outcomes, row_records
from pipeline.stages.plan import BatchPlan, order_fields
from pipeline.stages.preflight import Catalog, check_accounts, load_catalog
from pipeline.stages.report import new_folder, write_dry_run
from pipeline.stages.submit import Submitter
from pipeline.stages.validate import Validated
from pipeline.tango import TangoClient
from pipeline.tango.connect import client_for

__all__ = ["run_files"]

log = logging.getLogger("tango_batch.run")


@dataclass
class FileWork:
    """One checked file and what the run decided for its rows."""
    checked: Checked
    plan: FilePlan

    @property
    def sha256(self) -> str:
        return self.checked.sheet.sha256


class _Run:
    """The state of one ``run``: what the steps of ``run_files`` share."""

    def __init__(self, settings: RunSettings, progress: Progress, client: TangoClient | None) -> None:
        self.settings, self.progress = settings, progress
        self.ledger = Ledger(settings.ledger, settings.target.namespace, scope(settings))
        self.run_id = 0 if settings.dry_run else self.ledger.start_run(settings.by)     # "run" or "nightly"
        self.own_client = client is None
        self.client = client or client_for(settings, self.ledger, self.run_id or None)
        sent = settings.book.bulk_shipping
        self.submitter = Submitter(self.client, self.ledger, self.run_id, say=progress.say,
                                   physical=settings.book.groups["shipped"],
                                   hints=[(f.object, sent.hint) for f in settings.book.shipping_forms.values()])
        self.plan = BatchPlan(order_fields(settings.campaign), settings.batch_size, self.ledger.generation)
        self.code = ExitCode.OK
        self.stopped: str | None = None         # why sending stopped, once it has
        self.short: Shortfall | None = None     # the account the pre-flight found short of funds, if it did
        self.can_follow = True                  # Tango still answers: accepted orders can be followed
        self.catalog: Catalog | None = None
        self.seen = Seen()                      # line-item id -> "file row N", for the rows this run sends
        self.deliveries = False                 # follow the deliveries of physical rewards too
        # orders whose rows may change status in this run: their files' reports are written again
        self.unfinished = {b.external_ref_id for b in self.ledger.batches(unfinished=True)}
        self.unfinished |= {b.external_ref_id for b in self.ledger.batches(states=[BatchState.SENDING])}

    def attempt(self, step: Callable[[], Any]) -> None:
        """Run ``step``; a ``Stop`` ends the sending, not the run: every file still gets its report."""
        try:
            step()
        except Stop as exc:
            if self.stopped is None:
                self.stopped, self.can_follow, self.short = str(exc), exc.can_follow, exc.short

    def worse(self, code: ExitCode) -> None:
        self.code = max(self.code, code)

    def close(self) -> None:
        if self.own_client:
            self.client.close()
        self.ledger.close()


def run_files(paths: list[str], settings: RunSettings, progress: Progress,
              client: TangoClient | None = None, *, reuse_folders: bool = False,
              deliveries: bool = False) -> RunResult:
    """The whole ``run`` command; returns its exit code and what happened to each file.

    ``reuse_folders``: a file worked on before gets its report rewritten in the same folder (the
    nightly job's behaviour), rather than a new folder per run. ``deliveries``: one pass over the
    physical rewards not yet delivered (the nightly job's too).
    """
    run = _Run(settings, progress, client)
    run.deliveries = deliveries
    try:
        progress.say(f"target: {settings.target.describe()}")
        if not settings.dry_run:
            run.attempt(run.submitter.reconcile)
        outcomes = [FileOutcome(path) for path in paths]
        works = [w for n, o in enumerate(outcomes) if (w := _check(run, o, outcomes[:n])) is not None]
        if settings.dry_run:
            items = [i for w in works for i in w.plan.items]
            batches = run.plan.batches(items)
            folder = write_dry_run(settings.output, batches)
            progress.say(f"dry run: {len(batches)} batches of {len(items)} line items written to {folder}")
        else:
            _send(run, works)
        _finish_all(run, [o for o in outcomes if o.error is None and o.same_as is None], works, reuse_folders)
        if not settings.dry_run:
            rewrite_after(run.ledger, run.unfinished, settings, progress, frozenset(w.sha256 for w in works))
        if run.stopped:
            progress.say(f"run stopped early: {run.stopped}")
            progress.say("everything is recorded: run the same command again to continue")
            run.worse(ExitCode.STOPPED)
        if not settings.dry_run:
            run.ledger.finish_run(run.run_id, run.code, run.stopped)
        figures = {**dataclasses.asdict(run.submitter.figures), "retries": run.client.retries}
        return RunResult(run.code, run.run_id or None, outcomes, figures, run.stopped, run.short)
    finally:
        run.close()


def _read(run: _Run, outcome: FileOutcome) -> Checked | None:
    settings = run.settings
    try:
        return check_file(outcome.path, settings.book, today=settings.today, sheet=settings.sheets,
                          defaults=settings.defaults)
    except InputError as exc:
        run.progress.say(f"error: {exc}")
        outcome.error = exc.reason
    except bugs() as exc:
        outcome.error = _bug(outcome.path, "reading", exc, "the pipeline failed to read it")
        run.progress.say(f"error: {Path(outcome.path).name}: {outcome.error}")
    run.worse(ExitCode.UNREADABLE)
    return None


def _bug(path: str, doing: str, exc: BaseException, said: str) -> str:
    """A bug met while ``doing`` a file: logged for the engineer (the traceback with --debug), and
    what the console, the report or the inbox note says of it."""
    log.error("internal error while %s %s: %s: %s", doing, path, type(exc).__name__, exc)
    log.debug("details", exc_info=True)
    return f"{said} ({type(exc).__name__}); the engineer on call has the details in the log"


def _catalog(run: _Run) -> Catalog | None:
    """The catalog, fetched (or read from its cache) once per run; None when the run has stopped."""
    if run.catalog is None and run.stopped is None:
        def fetch() -> None:
            run.catalog = load_catalog(run.client, run.settings.ledger, run.settings.target.namespace)
        run.attempt(fetch)
    return run.catalog


def _check(run: _Run, outcome: FileOutcome, earlier: list[FileOutcome]) -> FileWork | None:
    """Read, check and plan one file; the pre-flight catalog check runs here."""
    checked = _read(run, outcome)
    if checked is None:
        return None
    name, outcome.sha256 = checked.sheet.name, checked.sheet.sha256
    if len(checked.sheet.parts) > 1 or checked.sheet.skipped or checked.sheet.notices:
        for line in checked.sheet.reading():
            run.progress.say(line)
    changed = campaign_changed(run.ledger.file(outcome.sha256), run.settings.campaign)
    if changed:
        run.progress.say(f"error: {name}: {changed}")
        outcome.error = changed
        run.worse(ExitCode.UNREADABLE)
        return None
    twin = next((o for o in earlier if o.sha256 == outcome.sha256 and o.same_as is None), None)
    if twin is not None:
        outcome.same_as = twin.path
        run.progress.say(f"{name}: the same content as {Path(twin.path).name}, which this run processes: "
                         "not run twice")
        return None
    plan = decide(checked, run.ledger, run.settings.campaign, run.settings.book, run.seen,
                  lambda: _catalog(run) if run.stopped is None else None)
    run.progress.say(f"{name}: {checked.sheet.frame.height} rows checked, {len(plan.items)} to send",
                     event="file_checked", file=name, rows=checked.sheet.frame.height, lines=len(plan.items))
    return FileWork(checked, plan)


def _final(run: _Run, work: FileWork) -> Validated:
    ledger = None if run.settings.dry_run else run.ledger
    outcomes = outcomes_from(ledger, work.plan.ids, work.plan.decisions, run.settings.dry_run)
    return row_outcomes(work.checked.validated, outcomes)


def _record(run: _Run, work: FileWork, final: Validated) -> None:
    sheet = work.checked.sheet
    run.ledger.record_rows(run.run_id, sheet.sha256, sheet.name, row_records(final))


def _send(run: _Run, works: list[FileWork]) -> None:
    """Record, pre-flight the account, submit, follow."""
    settings = run.settings
    for work in works:
        sheet = work.checked.sheet
        run.ledger.file_seen(run.run_id, sheet.sha256, sheet.name, shown(str(sheet.path.resolve())),
                             settings.today.isoformat(), FileRecord.sheets_text(sheet.sheets),
                             dataclasses.asdict(dataclasses.replace(settings.campaign, notify=None)))
        run.ledger.add_pending(run.run_id, work.plan.items, settings.campaign.campaign)
        _record(run, work, _final(run, work))
    allowed, total = gate(run.ledger, [(w.sha256, w.checked.sheet.name, w.plan.items) for w in works], settings,
                          run.progress.say, run.run_id)
    items = [i for w in works if w.sha256 in allowed for i in w.plan.items]
    if items and run.stopped is None:
        def send() -> None:
            cap = settings.campaign.max_run_amount
            if cap is not None and total > cap:
                raise Stop(f"the rows to send total ${total:,.2f}, above the campaign's max_run_amount of "
                           f"${cap:,.2f}: nothing was sent. Check the files; if the total is meant, raise "
                           "max_run_amount in the campaign file and run again", can_follow=True)
            check_against_tango(run.client, run.ledger, settings)
            campaign = settings.campaign
            check_accounts(run.client, items, campaign.accountIdentifier, campaign.account_table.names_of)
            try:
                run.submitter.submit(items, run.plan)
            finally:        # the history says "sent" of the files whose orders went out, and of no other
                record_sent(run.ledger, {w.sha256: w.plan.items for w in works if w.sha256 in allowed}, settings,
                            run.run_id)
        run.attempt(send)
    if run.can_follow and settings.wait > 0:
        left = run.submitter.follower.follow(settings.wait)
        if left:
            run.progress.say(f"{left} orders not final yet: the next run or 'tango-batch status' picks them up")
    if run.can_follow and run.deliveries:
        run.unfinished |= run.submitter.follower.follow_deliveries(settings.delivery_days)


def _finish_all(run: _Run, outcomes: list[FileOutcome], works: list[FileWork], reuse_folders: bool) -> None:
    """Each file's report; one that cannot be written (a bug) does not keep the others from theirs."""
    for outcome, work in zip(outcomes, works, strict=True):
        try:
            outcome.summary = _finish(run, work, reuse_folders)
        except (Locked, LedgerUnusable):
            raise
        except bugs() as exc:
            if (cause := os_error_in(exc)) is not None:     # the output folder is full or read-only
                stopped = unwritable(cause, run.settings.output)
                outcome.unreported = f"its rows are recorded, but its report could not be written: {stopped}"
                run.progress.say(f"error: {shown(Path(outcome.path).name)}: {outcome.unreported}")
                run.worse(ExitCode.STOPPED)
                continue
            outcome.unreported = _bug(outcome.path, "writing the report of", exc,
                                      "its rows are recorded, but its report could not be written")
            run.progress.say(f"error: {Path(outcome.path).name}: {outcome.unreported}")
            run.worse(ExitCode.INTERNAL)
            continue
        if any(outcome.summary["status_counts"].get(s.value) for s in TO_FIX):
            run.worse(ExitCode.ROWS_TO_FIX)


def _finish(run: _Run, work: FileWork, reuse_folders: bool) -> dict[str, Any]:
    """The file's final statuses recorded, and its report written."""
    final = _final(run, work)
    folder = None
    if not run.settings.dry_run:
        _record(run, work, final)
        known = run.ledger.file(work.sha256)
        if reuse_folders and known and known.report_folder and Path(known.report_folder).is_dir():
            folder = Path(known.report_folder)
        else:
            # the folder is on record before anything is written in it: a run killed while
            # writing leaves no second, stale report folder behind
            folder = new_folder(run.settings.output, work.checked.sheet.path, work.checked.started)
            run.ledger.file_update(work.sha256, report_folder=str(folder))
    summary = report_file(work.checked, final, run.settings, run.progress,
                          campaign_path=run.settings.campaign.path, folder=folder)
    if not run.settings.dry_run:
        pending = summary["status_counts"].get(Status.PENDING.value, 0) > 0
        record_done(run.ledger, work.sha256, bool(known and known.state == FileState.DONE), not pending)
        run.ledger.file_update(work.sha256, state=FileState.PROCESSING if pending else FileState.DONE,
                               report_folder=summary["folder"])
    return summary
