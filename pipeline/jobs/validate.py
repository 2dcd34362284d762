"""The ``validate`` job: check each file and write its report; nothing is sent, the ledger is not written.

With a campaign file, the report gives ``run``'s verdict (``jobs.verdict``): the target's catalog
(from its cache, else fetched; said plainly when it cannot be had) and the ledger's DUPLICATE and
HELD, the ledger opened read only. The Summary says which checks were made.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import tempfile
import traceback
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.config import CheckSettings
from pipeline.environment import os_error_in, unwritable
from pipeline.errors import InputError, LedgerUnusable, Locked, Stop, bugs
from pipeline.model import TO_FIX, ExitCode, Status
from pipeline.progress import Progress
from pipeline.stages.check import Checked, check_read
from pipeline.stages.ingest import read_sheet
from pipeline.stages.report import new_folder, summarize, where, with_paths, write_reports
from pipeline.stages.validate import Validated
from pipeline.state import OLD_LEDGER_NAME, Where, beside
from pipeline.target import Target

if TYPE_CHECKING:     # run's verdict (the ledger, the catalog): only validate --config needs them
    from pipeline.ledger import Ledger
    from pipeline.stages.preflight import Catalog

__all__ = ["FileResult", "Preview", "catalog_for", "validate_file", "validate_files"]


@dataclass(frozen=True)
class FileResult:
    file: str
    folder: Path
    paths: dict[str, Path]
    summary: dict[str, Any]
    validated: Validated

    @property
    def to_fix(self) -> int:
        """INVALID and HELD rows: a person must look at them before run."""
        return sum(int(n) for s, n in self.summary["status_counts"].items() if Status(s) in TO_FIX)


class Preview:
    """run's verdict without sending anything: the ledger read only, the catalog fetched (or read
    from its cache) once, and the rows of the files already checked, for the files of one validate."""

    def __init__(self, settings: CheckSettings) -> None:
        assert settings.target is not None and settings.ledger is not None and settings.campaign is not None
        self.settings, self.target, self.ledger_path = settings, settings.target, settings.ledger
        self.campaign = settings.campaign
        self.ledger, self.old_ledger = _ledger_as_run_sees_it(settings.ledger, settings.output, settings.target)
        from pipeline.stages.dedupe import Seen
        self.seen = Seen()
        self._catalog: Catalog | None = None
        self.catalog_note: str | None = None          # how the catalog was had, or why not

    def catalog(self) -> Catalog | None:
        if self._catalog is None and self.catalog_note is None:
            try:
                self._catalog = catalog_for(self.target, self.ledger_path, self.settings.rate)
                when = dt.datetime.fromtimestamp(self._catalog.fetched_at or 0).astimezone()
                self.catalog_note = (f"each reward and amount against the catalog of {self.target.describe()}, "
                                     f"as read at {when:%Y-%m-%d %H:%M %Z}")
            except Stop as exc:
                self.catalog_note = f"NOT CHECKED: {exc}. Rows the catalog would refuse show as VALID here"
        return self._catalog

    def checks(self, plan_items: int) -> list[Check]:
        known = not isinstance(self.ledger_path, Path) or self.ledger_path.is_file()
        ledger = f"read only, from the ledger {self.ledger_path}" if known else f"no ledger at {self.ledger_path} yet"
        if self.old_ledger is not None:
            ledger += f"; with the older ledger at {self.old_ledger}, which the next run merges into it"
        elif not known:
            ledger += ": no earlier order is known"
        guard = self.campaign.recipient_guard
        return [
            SHEET_CHECK,
            Check(CATALOG, self._catalog is not None,
                  self.catalog_note or ("no row left to check" if not plan_items else "not read")),
            Check(ORDERED, True, ledger),
            Check(RECIPIENT, guard != "off",
                  "off in the campaign file" if guard == "off" else
                  f"window: {'the campaign' if guard == 'campaign' else f'{guard} days'}; {ledger}"),
        ]

    def verdict(self, checked: Checked) -> tuple[Validated, list[Check]]:
        from pipeline.jobs.verdict import decide
        from pipeline.stages.outcome import Outcomes, row_outcomes
        plan = decide(checked, self.ledger, self.campaign, self.settings.book, self.seen, self.catalog)
        # the ledger is read only, and was read for these rows' lines by the plan
        final = row_outcomes(checked.validated, Outcomes(plan.ids, plan.decisions, plan.records, set(), preview=True))
        return final, self.checks(len(plan.sending))

    def close(self) -> None:
        self.ledger.close()


def catalog_for(target: Target, ledger: Where, rate: float) -> Catalog:
    """The target's catalog, from its cache beside ``ledger`` or from Tango, read without the run lock
    (``validate``, ``template``). Raises ``Stop`` when it cannot be had. A cached catalog needs no client
    (nor httpx, nor the simulator)."""
    from pipeline.stages.preflight import cached_catalog, load_catalog
    cached = cached_catalog(ledger, target.namespace)
    if cached is not None:
        return cached
    from pipeline.tango.connect import SIMULATOR_STATE, connect, http_logger
    client = connect(target, simulator_state=beside(ledger, SIMULATOR_STATE), rate=rate,
                     on_response=http_logger(None, None))
    try:
        return load_catalog(client, ledger, target.namespace)
    finally:
        client.close()


def _ledger_as_run_sees_it(path: Where, output: Path, target: Target) -> tuple[Ledger, Path | None]:
    """The ledger, read only; with the ledger an older version kept under ``--output``, which run
    merges into it before anything else (see ``jobs.ledger.adopt_old_ledger``), merged into a copy in
    memory: neither file is written."""
    from pipeline.ledger import Ledger
    from pipeline.ledger.merge import merge
    old = output / OLD_LEDGER_NAME
    if not old.is_file() or (isinstance(path, Path) and path.is_file() and old.resolve() == path.resolve()):
        return Ledger.read_only(path, target.namespace), None
    ledger = Ledger.read_only(path, target.namespace, copy=True)
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / old.name
        source = sqlite3.connect(f"{old.resolve().as_uri()}?mode=ro", uri=True)
        with closing(source), closing(sqlite3.connect(copy)) as target_db:
            source.backup(target_db)
        merge(ledger, copy)
    return ledger, old


@dataclass(frozen=True)
class Check:
    """One of the checks a report's rows went through, for the Summary: whether it ran, and how."""
    name: str
    ran: bool
    how: str

    def as_dict(self) -> dict[str, object]:
        return {"check": self.name, "ran": self.ran, "how": self.how}


CATALOG, ORDERED, RECIPIENT = "Catalog (reward, amount)", "Ordered before (DUPLICATE)", "Same recipient (HELD)"
SHEET_CHECK = Check("Sheet rules", True, "every row against Tango's rules for its delivery method: required "
                    "cells, formats, dates, amounts (up to the campaign's max_row_amount), duplicates in the file")


def _offline(settings: CheckSettings) -> list[Check]:
    why = f"NOT CHECKED: {settings.offline}"
    return [SHEET_CHECK, *(Check(name, False, why) for name in (CATALOG, ORDERED, RECIPIENT))]


def validate_file(path: str | Path, settings: CheckSettings, progress: Progress | None = None,
                  preview: Preview | None = None) -> FileResult:
    """Check one upload and write its reports. Raises InputError if the file cannot be read.

    With a target (a campaign file), the report gives run's verdict (``preview``: shared by the files
    of one command; one of its own otherwise)."""
    progress = progress or Progress(bar=False)
    started = dt.datetime.now().astimezone()
    checked = check_read(read_sheet(path, settings.book, settings.sheets), settings.book, today=settings.today,
                         defaults=settings.defaults, started=started)
    sheet = checked.sheet
    for line in sheet.reading():
        progress.say(line)
    own = preview is None and settings.target is not None
    preview = Preview(settings) if own else preview
    try:
        final, checks = preview.verdict(checked) if preview is not None else (checked.validated, _offline(settings))
    finally:
        if own and preview is not None:
            preview.close()
    summary = summarize(sheet, final, started=checked.started, mode="validate",
                        campaign_path=settings.campaign.path if settings.campaign else None,
                        target=settings.target.name if settings.target else None,
                        checks=[c.as_dict() for c in checks])
    folder = new_folder(settings.output, sheet.path, checked.started)
    with progress.rows("writing report", sheet.frame.height) as tick:
        paths = write_reports(folder, sheet, final, summary, tick)
    return FileResult(str(path), folder, paths, summary, final)


def validate_files(paths: list[str], settings: CheckSettings, progress: Progress, *, debug: bool = False,
                   summaries: list[dict[str, Any]] | None = None) -> ExitCode:
    """The whole ``validate`` command: each file checked and reported; the others go on when one fails.
    ``summaries`` gets each file's summary.json, with its report paths."""
    preview = Preview(settings) if settings.target is not None else None
    if preview is None:
        progress.say(f"only the sheet's own checks: {settings.offline}")
    else:
        progress.say(f"checking as run would against {preview.target.describe()} and the ledger "
                     f"{settings.ledger} (read only; nothing is sent)")
    try:
        return _each(paths, settings, progress, preview, debug, summaries if summaries is not None else [])
    finally:
        if preview is not None:
            preview.close()


def _each(paths: list[str], settings: CheckSettings, progress: Progress, preview: Preview | None,
          debug: bool, summaries: list[dict[str, Any]]) -> ExitCode:
    code = ExitCode.OK
    for file in paths:
        try:
            result = validate_file(file, settings, progress, preview)
        except InputError as exc:
            progress.say(f"error: {exc}")
            code = max(code, ExitCode.UNREADABLE)
            continue
        except (Locked, LedgerUnusable):
            raise
        except bugs() as exc:
            if (cause := os_error_in(exc)) is not None:     # the output folder, not the program
                progress.say(f"error: {unwritable(cause, settings.output)}")
                return max(code, ExitCode.STOPPED)
            progress.say(f"internal error while processing {file}: {type(exc).__name__}: {exc}")
            if debug:
                traceback.print_exc(file=progress.stream)
            code = max(code, ExitCode.INTERNAL)
            continue
        _say(result, progress)
        summaries.append(with_paths(result.summary, result.paths))
        if result.to_fix:
            code = max(code, ExitCode.ROWS_TO_FIX)
    return code


def _say(result: FileResult, progress: Progress) -> None:
    """A file's counts, the checks not made, and where its reports are."""
    counts = result.summary["status_counts"]
    progress.say(f"{Path(result.file).name}: {result.summary['rows']} rows: "
                 + ", ".join(f"{n} {s}" for s, n in counts.items())
                 + f"; total of valid rows ${result.summary['total_amount_valid']:,.2f}")
    for check in result.summary["checks"]:
        if check["how"].startswith("NOT CHECKED"):
            progress.say(f"  {check['check']}: {check['how']}")
    for line in where(result.paths):
        progress.say(line)
