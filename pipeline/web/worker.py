"""The check of one upload, run in a worker process (off the server's requests and its GIL): run's
verdict as ``validate`` gives it (the catalog, the ledger's DUPLICATE and HELD, read only), the
reports written, the verdict's rows kept for the pages (``verdict.json`` beside the reports), the
"checked" event recorded with what there is to send, and the file put into the inbox (written as
``*.part``, then renamed: the nightly job never sees half a file). Progress goes to a small JSON file
that the page polls: the phase (reading and checking the rows, comparing them with the catalog and
the ledger, writing the report with its rows done, recording the verdict), each as it begins."""

from __future__ import annotations

import datetime as dt
import importlib
import io
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.progress import Progress
from pipeline.state import Where

if TYPE_CHECKING:
    from pipeline.config import Campaign, Target
    from pipeline.stages.validate import Validated

__all__ = ["HEAD", "TO_FIX_HEAD", "VERDICT", "CheckJob", "ready", "run_check", "to_send", "write_progress"]

VERDICT = "verdict.json"
TO_FIX_HEAD = "to-fix-head.json"            # the first HEAD rows to fix: what the approvals page shows of a file
HEAD = 100
MESSAGE_CHARS = 600
READY = ("pipeline.jobs.validate", "pipeline.jobs.verdict", "pipeline.ledger", "pipeline.stages.report",
         "pipeline.web.records", "rules")
PHASES = ("reading and checking the rows", "comparing the rows with the catalog and the ledger",
          "writing the report", "recording the verdict")


@dataclass(frozen=True)
class CheckJob:
    """What a worker needs (it is pickled to the worker process)."""
    job: str
    folder: Path                            # the job's folder: the staged file, progress.json
    staged: Path
    sha256: str
    user: str
    campaign: Campaign
    target: Target
    ledger: Where
    output: Path
    inbox: Path
    rate: float = 1.0

    @property
    def progress(self) -> Path:
        return self.folder / "progress.json"


def write_progress(path: Path, **state: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({**state, "updated": time.time()}, default=str), encoding="utf-8")
    os.replace(tmp, path)


class _Progress(Progress):
    """The check's progress as a JSON file: the phase, and the rows written so far."""

    def __init__(self, path: Path) -> None:
        super().__init__(io.StringIO(), bar=False)
        self.path, self.last, self.phase = path, 0.0, PHASES[0]
        write_progress(path, state="running", phase=self.phase, done=0, total=0)

    def say(self, text: str, level: int | None = None, **fields: object) -> None:
        """The page shows the verdict, not these lines; ``validate_file`` says what it read once it has
        read and checked the rows, before it compares them with the catalog and the ledger."""
        if self.phase == PHASES[0]:
            self.phase = PHASES[1]
            write_progress(self.path, state="running", phase=self.phase, done=0, total=0)

    @contextmanager
    def rows(self, label: str, total: int) -> Iterator[Callable[[int], None]]:
        done = 0
        self.phase = PHASES[2]

        def tick(n: int) -> None:
            nonlocal done
            done += n
            if time.monotonic() - self.last > 0.2:
                self.last = time.monotonic()
                write_progress(self.path, state="running", phase=self.phase, done=done, total=total)
        write_progress(self.path, state="running", phase=self.phase, done=0, total=total)
        yield tick
        self.phase = PHASES[3]
        write_progress(self.path, state="running", phase=self.phase, done=total, total=total)


def to_send(final: Validated) -> tuple[Decimal, int]:
    """The total and the number of the lines a run would send: the rows that pass every check and were
    not ordered before (each one line item of amount x quantity), as the nightly job counts them."""
    from pipeline.model import Status
    rows = final.frame.filter(final.frame["status"] == Status.VALID.value).select("amount", "quantity").rows()
    return sum((Decimal(a) * int(q or 1) for a, q in rows), Decimal(0)), len(rows)


def _next_step(said: str, campaign: Campaign) -> str:
    """``validate``'s next step, as the desk's: nobody runs the file by hand here."""
    after = ("an approver approves the file, then the nightly run orders them." if campaign.require_approval
             else "the nightly run orders them.")
    return said.replace("run the file to order them.", after)


def _verdict_rows(final: Validated) -> list[list[Any]]:
    """[sheet, row, status, message] of every row: its errors, else (a row not sent again) its warnings."""
    import polars as pl

    from pipeline.model import IDX, ROW, SHEET, Severity
    texts = final.issues.group_by(IDX, "severity", maintain_order=True).agg(pl.col("text").str.join(" | "))
    errors = {i: t for i, s, t in texts.iter_rows() if s == Severity.ERROR.value}
    warnings = {i: t for i, s, t in texts.iter_rows() if s == Severity.WARNING.value}
    frame = final.frame.with_row_index("_at") if IDX not in final.frame.columns else final.frame
    index = IDX if IDX in frame.columns else "_at"
    sheets = frame[SHEET].to_list() if SHEET in frame.columns else [""] * frame.height
    out = []
    for sheet, (idx, row, status) in zip(sheets, frame.select(index, ROW, "status").iter_rows(), strict=True):
        message = errors.get(idx) or warnings.get(idx) or ""
        out.append([sheet or "", row, status, message[:MESSAGE_CHARS]])
    return out


def _write_verdict(folder: Path, rows: list[list[Any]]) -> None:
    """Every row for the file's page (``verdict.json``), and the first rows to fix for the approvals
    page apart (``to-fix-head.json``): a page listing many files never reads every row of each."""
    from pipeline.model import TO_FIX
    fix = {s.value for s in TO_FIX}
    head = [r for r in rows if r[2] in fix][:HEAD]
    (folder / VERDICT).write_text(json.dumps({"rows": rows}), encoding="utf-8")
    (folder / TO_FIX_HEAD).write_text(json.dumps({"rows": head}), encoding="utf-8")


def _place(staged: Path, inbox: Path) -> Path:
    """Into the inbox, whole: ``NAME.part`` first, renamed once every byte is on disk."""
    inbox.mkdir(parents=True, exist_ok=True)
    final = inbox / staged.name
    part = inbox / (staged.name + ".part")
    with staged.open("rb") as source, part.open("wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())
    os.replace(part, final)
    return final


def ready() -> None:
    """Nothing but the libraries a check needs, imported: a worker process made ready before the first upload."""
    for module in READY:
        importlib.import_module(module)


def run_check(job: CheckJob) -> dict[str, Any]:
    """Check the staged upload, record it and put it in the inbox; the outcome is in progress.json too."""
    from pipeline.config import CheckSettings
    from pipeline.errors import InputError
    from pipeline.jobs.validate import validate_file
    from pipeline.ledger import Ledger
    from rules import load
    progress = _Progress(job.progress)
    settings = CheckSettings(book=load(), output=job.output, today=dt.date.today(), campaign=job.campaign,
                             target=job.target, ledger=job.ledger, rate=job.rate)
    ledger = Ledger(job.ledger, job.target.namespace)
    try:
        try:
            result = validate_file(job.staged, settings, progress)
        except InputError as exc:
            ledger.file_event(job.sha256, "checked", None, {"error": exc.reason, "job": job.job})
            write_progress(job.progress, state="failed", sha256=job.sha256, error=exc.reason)
            return {"error": exc.reason}
        total, lines = to_send(result.validated)
        _write_verdict(result.folder, _verdict_rows(result.validated))
        summary = result.summary
        detail = {"job": job.job, "rows": summary["rows"], "counts": summary["status_counts"], "total": str(total),
                  "lines": lines, "folder": str(result.folder), "report": str(result.paths["report"]),
                  "failures": str(result.paths["failures"]) if result.paths.get("failures") else None,
                  "checks": [c for c in summary["checks"] if not c["ran"]],
                  "next_step": _next_step(summary["next_step"], job.campaign),
                  "inbox": job.staged.name, "simulated": summary["simulated"]}
        ledger.file_event(job.sha256, "checked", None, detail)
        _place(job.staged, job.inbox)
    finally:
        ledger.close()
    job.staged.unlink(missing_ok=True)
    write_progress(job.progress, state="done", sha256=job.sha256, phase="done", done=1, total=1)
    return detail
