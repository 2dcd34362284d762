"""``tango-batch nightly``: the job HR operations schedule once and trust.

1. What earlier runs left is finished first: batches left ``sending`` are reconciled, orders not
   yet final are followed, and files whose rows changed get their report written again.
2. Every file in the inbox is then processed in arrival order (modification time, then name).
   A file is known by its content hash: one already processed is reported as such and not run
   again; one a killed run left behind is continued, not taken for a duplicate of itself.
3. A processed file moves to ``INBOX/processed/``; an unreadable one to ``INBOX/rejected/`` with a
   note of why; a file with rows still pending (the run stopped: funds, Tango down) stays in the
   inbox, and the next night continues it.
4. With a ``[notify]`` table in the campaign file, the night is e-mailed and posted (and so is an
   account found short of funds): see ``pipeline.notify``.

With ``require_approval = true`` in the campaign file, only approved files are run (see
``pipeline.approvals``): a file nobody decided on yet stays in the inbox, waiting; a rejected one
moves to ``INBOX/rejected/`` with the reason beside it. Files come through the web page or the
folder alike: a file is known by its content.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from pathlib import Path

from pipeline.config import RunSettings
from pipeline.jobs.results import FileOutcome, RunResult
from pipeline.jobs.run import run_files
from pipeline.ledger import Ledger
from pipeline.lock import scope
from pipeline.masking import mask, shown, shown_lines
from pipeline.model import FileState
from pipeline.notify.notifier import notify_nightly
from pipeline.progress import Progress
from pipeline.tango import TangoClient

__all__ = ["inbox_files", "nightly"]


def inbox_files(inbox: Path) -> list[Path]:
    """Files waiting in the inbox, oldest first; hidden and partial uploads are not ready yet."""
    files = [p for p in inbox.iterdir() if p.is_file() and not p.name.startswith((".", "~$"))
             and not p.name.endswith((".part", ".tmp", ".crdownload"))]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


def _not_files(inbox: Path) -> list[Path]:
    """What the inbox holds that is neither a file nor one of its own folders."""
    return sorted(p for p in inbox.iterdir() if not p.is_file() and not p.name.startswith(".")
                  and not (p.is_dir() and p.name in ("processed", "rejected")))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target, n = folder / path.name, 1
    while target.exists():
        n += 1
        target = folder / f"{path.stem}-{n}{path.suffix}"
    path.rename(target)
    return target


def _note(path: Path, text: str) -> None:
    """The note beside a file moved out of the inbox: why (masked, printable: see ``pipeline.masking``)."""
    path.with_name(path.name + ".why.txt").write_text(mask(shown_lines(text)) + "\n", encoding="utf-8")


def _known(waiting: list[Path], ledger: Ledger, processed: Path, progress: Progress) -> list[tuple[Path, str | None]]:
    """Files already processed are moved (with a note when they came again); the fresh ones are
    returned, each with its content's SHA-256 (None: unreadable)."""
    fresh: list[tuple[Path, str | None]] = []
    for path in waiting:
        try:
            sha256 = _sha256(path)
        except OSError:             # unreadable: the run says why, and files it away as rejected
            fresh.append((path, None))
            continue
        known = ledger.file(sha256)
        if known is not None and known.state == FileState.DONE and known.path == shown(str(path.resolve())):
            # processed here, killed before the move: finish the move
            ledger.file_update(known.sha256, path=shown(str(_move(path, processed).resolve())))
            progress.say(f"{path.name}: processed by an earlier run; moved to {processed}")
        elif known is not None and known.state == FileState.DONE:
            moved = _move(path, processed)
            _note(moved, f"{dt.datetime.now():%Y-%m-%d %H:%M}: the same file (same content) was already "
                  f"processed as '{known.name}' on {known.run_date}; not run again. Its report: "
                  f"{known.report_folder}")
            progress.say(f"{path.name}: already processed as '{known.name}' on {known.run_date}; "
                         f"not run again (moved to {moved})")
        else:
            fresh.append((path, sha256))
    return fresh


def _approved_only(fresh: list[tuple[Path, str | None]], ledger: Ledger, inbox: Path,
                   progress: Progress) -> list[tuple[Path, str | None]]:
    """The files approved on the desk; the others wait, or, rejected, move out with the reason."""
    approved = []
    for path, sha256 in fresh:
        decision = ledger.decision(sha256) if sha256 else None
        if decision is not None and decision.decision == "approved":
            approved.append((path, sha256))
        elif decision is not None:
            moved = _move(path, inbox / "rejected")
            _note(moved, f"{decision.at[:16].replace('T', ' ')} UTC: rejected by {decision.by_user}: "
                  f"{decision.reason or 'no reason given'}. Fix the file and upload it again.")
            progress.say(f"{path.name}: rejected by {decision.by_user}; moved to {moved}")
        else:
            progress.say(f"{path.name}: waiting for approval (require_approval = true); not run tonight")
    return approved


def _file_away(outcome: FileOutcome, ledger: Ledger, inbox: Path, progress: Progress) -> None:
    """A file run tonight goes to processed/ or rejected/, or stays in the inbox while rows are pending."""
    path = Path(outcome.path)
    if outcome.same_as is not None:
        moved = _move(path, inbox / "processed")
        _note(moved, f"{dt.datetime.now():%Y-%m-%d %H:%M}: the same content as "
              f"'{Path(outcome.same_as).name}', processed in the same run; not run twice.")
        progress.say(f"{path.name}: the same content as {Path(outcome.same_as).name}; moved to {moved}")
    elif outcome.error is not None:
        moved = _move(path, inbox / "rejected")
        _note(moved, f"{dt.datetime.now():%Y-%m-%d %H:%M}: {path.name} could not be read: "
              f"{outcome.error}. Fix the file and drop it in the inbox again.")
        progress.say(f"{path.name}: rejected ({outcome.error}); moved to {moved}")
    elif outcome.unreported is not None:
        progress.say(f"{path.name}: {outcome.unreported}; it stays in the inbox")
    elif outcome.pending:
        progress.say(f"{path.name}: rows still pending; it stays in the inbox and the next run continues it")
    else:
        moved = _move(path, inbox / "processed")
        if outcome.sha256:
            ledger.file_update(outcome.sha256, path=shown(str(moved.resolve())))
        progress.say(f"{path.name}: done; moved to {moved}")


def nightly(inbox: Path, settings: RunSettings, progress: Progress, client: TangoClient | None = None) -> RunResult:
    """Settle earlier work, run every new file of ``inbox``, and move each where it belongs."""
    settings = dataclasses.replace(settings, by="nightly")
    ledger = Ledger(settings.ledger, settings.target.namespace, scope(settings))
    try:
        fresh = _known(inbox_files(inbox), ledger, inbox / "processed", progress)
        if settings.campaign.require_approval:
            fresh = _approved_only(fresh, ledger, inbox, progress)
    finally:
        ledger.close()
    for odd in _not_files(inbox):
        progress.say(f"{odd.name}: not a file (a folder, a link to nothing, a pipe or a device): left alone; "
                     "put the spreadsheet itself in the inbox")
    progress.say(f"inbox {inbox}: {len(fresh)} files to process")
    result = run_files([str(p) for p, _ in fresh], settings, progress, client, reuse_folders=True, deliveries=True)
    ledger = Ledger(settings.ledger, settings.target.namespace, scope(settings))
    try:
        for outcome in result.outcomes:
            _file_away(outcome, ledger, inbox, progress)
    finally:
        ledger.close()
    notify_nightly(result, settings, progress)         # [notify]: never changes the outcome
    return result
