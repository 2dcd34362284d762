"""What a notification says, as data to text: the nightly e-mail (subject and plain-text body), the
balance alert, and the webhook's one line of text.

Counts, amounts, file names, report paths and links; never a row's name, e-mail or phone. The file
names are HR's own (a file called after a person is possible): they go in the e-mail, to HR's own
recipients, and never in the webhook, whose channel may be wider. Everything from outside (a file
name, a stop reason) is masked and made printable, and so is the whole text once more at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.masking import mask, shown, shown_lines
from pipeline.model import RUN_STATUSES, TO_FIX, ExitCode, Status

if TYPE_CHECKING:
    from pipeline.config import RunSettings
    from pipeline.errors import Shortfall
    from pipeline.jobs.results import FileOutcome, RunResult
    from pipeline.notify.settings import NotifySettings

__all__ = ["Totals", "balance_text", "file_lines", "nightly_subject", "nightly_text", "short_subject",
           "short_webhook_text", "webhook_text"]

OUTCOME = {
    ExitCode.OK: "every row is fine",
    ExitCode.ROWS_TO_FIX: "some rows need fixing (each file's failures.xlsx)",
    ExitCode.UNREADABLE: "a file could not be read (see INBOX/rejected)",
    ExitCode.STOPPED: "the run stopped early; everything is recorded and the next run continues",
    ExitCode.INTERNAL: "an internal error; the engineer on call has the details in the log",
}


# said at the end of the subject when the night went worse than rows to fix
SUBJECT_TAIL = {ExitCode.UNREADABLE: "a file rejected", ExitCode.STOPPED: "stopped early",
                ExitCode.INTERNAL: "internal error"}


def money(value: float | Decimal) -> str:
    return f"${Decimal(str(value)):,.2f}"


def _files(n: int) -> str:
    return "1 file" if n == 1 else f"{n:,} files"


def _name(text: str) -> str:
    """A file's name as the message shows it: masked, printable."""
    return mask(shown(Path(text).name))


@dataclass(frozen=True)
class Totals:
    """The night's figures over every file run."""
    files: int
    rows: int
    counts: dict[str, int]          # status -> rows, in the reports' order
    ordered: float                  # accepted by Tango (SUBMITTED, COMPLETE)
    sent: float

    @classmethod
    def of(cls, result: RunResult) -> Totals:
        order = [s.value for s in RUN_STATUSES]
        order += sorted({k for f in result.files for k in f["status_counts"]} - set(order))   # PLANNED: a dry run
        counts = {s: sum(f["status_counts"].get(s, 0) for f in result.files) for s in order}
        return cls(len(result.outcomes), sum(f["rows"] for f in result.files), counts,
                   round(sum(f.get("amount_accepted", 0.0) for f in result.files), 2),
                   round(sum(f.get("amount_sent", 0.0) for f in result.files), 2))

    @property
    def to_fix(self) -> int:
        return sum(self.counts.get(s.value, 0) for s in TO_FIX)

    def by_status(self) -> str:
        return ", ".join(f"{n:,} {s}" for s, n in self.counts.items() if n) or "no rows"


def _where(run: RunSettings) -> str:
    """The target, said when it is not production (a test night must not read as a real one)."""
    name = run.target.name
    return "" if name == "production" else f" ({name})"


def nightly_subject(result: RunResult, run: RunSettings, notify: NotifySettings) -> str:
    t = Totals.of(result)
    dry = " (dry run: nothing sent)" if run.dry_run else ""
    return (f"{notify.subject_prefix} nightly{_where(run)}{dry}: {_files(t.files)}, "
            f"{t.counts.get(Status.COMPLETE.value, 0):,} rows {Status.COMPLETE.value}, {t.to_fix:,} to fix, "
            f"{money(t.ordered)} ordered" + (f" - {SUBJECT_TAIL[result.code]}" if result.code in SUBJECT_TAIL else ""))


def _outcome_lines(outcome: FileOutcome, notify: NotifySettings) -> list[str]:
    """One file's lines: its counts, amounts, report, failures workbook and page."""
    if outcome.same_as is not None:
        return [f"- {_name(outcome.path)}: the same content as {_name(outcome.same_as)}; not run twice"]
    if outcome.error is not None:
        return [f"- {_name(outcome.path)}: could not be read; moved to INBOX/rejected (the note beside it says why)"]
    summary = outcome.summary
    if summary is None:
        return [f"- {_name(outcome.path)}: its rows are recorded, but its report could not be written (see the log)"]
    counts = {s: n for s, n in summary["status_counts"].items() if n}
    lines = [f"- {_name(summary['file'])}: {summary['rows']:,} rows: "
             + (", ".join(f"{n:,} {s}" for s, n in counts.items()) or "no rows"),
             f"  ordered {money(summary.get('amount_accepted', 0.0))} (sent to Tango "
             f"{money(summary.get('amount_sent', 0.0))}; valid rows total {money(summary['total_amount_valid'])})",
             f"  report: {summary['report']}"]
    if summary.get("failures"):
        lines.append(f"  rows to fix: {summary['failures']}")
    if outcome.pending:
        lines.append("  rows still pending: the file stays in the inbox and the next run continues it")
    if notify.link and summary.get("sha256"):
        lines.append(f"  page: {notify.link}/files/{summary['sha256']}")
    return lines


def file_lines(result: RunResult, notify: NotifySettings) -> list[str]:
    return [line for outcome in result.outcomes for line in _outcome_lines(outcome, notify)]


def nightly_text(result: RunResult, run: RunSettings, notify: NotifySettings, attached: list[str]) -> str:
    """The nightly e-mail's body. ``attached``: the names of the failures workbooks attached."""
    t, f = Totals.of(result), result.figures
    campaign = run.campaign
    lines = [f"Nightly run of {run.today:%Y-%m-%d}, target {run.target.name}, customer {campaign.customerIdentifier}"
             + (f", campaign {campaign.campaign!r}" if campaign.campaign else "")
             + (" (dry run: nothing was sent)" if run.dry_run else ""),
             f"Result: exit {int(result.code)}: {OUTCOME.get(result.code, 'see the log')}", "",
             f"Files: {t.files:,}", f"Rows: {t.rows:,}: {t.by_status()}",
             f"Rows to fix: {t.to_fix:,}",
             f"Ordered (accepted by Tango): {money(t.ordered)}; sent to Tango: {money(t.sent)}",
             f"Orders sent: {f.get('posts', 0)}, accepted: {f.get('accepted', 0)}, refused: "
             f"{f.get('rejected_batches', 0)}, retries: {f.get('retries', 0)}"]
    if result.stopped:
        lines.append(f"Stopped early: {result.stopped}")
    if result.outcomes:
        lines += ["", "Each file:", *file_lines(result, notify)]
    else:
        lines += ["", "No new file in the inbox tonight."]
    lines.append("")
    if notify.link and result.run_id is not None:
        lines.append(f"This run: {notify.link}/runs/{result.run_id}")
    lines.append(f"Reports: under {run.output} (a folder per file); the log: {run.output / 'logs'}")
    if attached:
        lines += ["", f"Attached: {', '.join(attached)}. They hold personal data (names, e-mail addresses, "
                  "phone numbers of the rows to fix): keep this message within HR, and delete it once the rows "
                  "are fixed."]
    return _clean(lines)


def short_subject(short: Shortfall, notify: NotifySettings, run: RunSettings) -> str:
    return (f"{notify.subject_prefix}{_where(run)}: account '{short.account}' is short by {money(short.short_by)} "
            "- nothing was sent")


def _pending(files: list[FileOutcome]) -> list[tuple[str, int, str]]:
    """The files with rows waiting to be sent: name, rows pending, content hash."""
    return [(_name(o.path), int(o.summary["status_counts"].get(Status.PENDING.value, 0)), o.summary["sha256"])
            for o in files if o.summary is not None and o.pending]


def balance_text(short: Shortfall, files: list[FileOutcome], run: RunSettings, notify: NotifySettings) -> str:
    """The balance alert's body: the account, its balance, what the approved rows need, and the files waiting."""
    said = f"'{short.account}'" + (f" ({', '.join(short.names)})" if short.names else "")
    lines = [f"The Tango account {said} of customer {run.campaign.customerIdentifier} (target {run.target.name}) "
             "does not cover the rows approved to send tonight.", "",
             f"Balance: {money(short.balance)}", f"Needed: {money(short.needed)}",
             f"Short by: {money(short.short_by)}", "",
             "Nothing was sent from it. Top up the account: the next nightly run (or the same command now) sends "
             "the pending rows, exactly once."]
    waiting = _pending(files)
    if waiting:
        lines += ["", "Files waiting in the inbox:"]
        for name, n, sha256 in waiting:
            lines.append(f"- {name}: {n:,} rows pending" + (f"; {notify.link}/files/{sha256}" if notify.link else ""))
    return _clean(lines)


def webhook_text(result: RunResult, run: RunSettings, notify: NotifySettings) -> str:
    """The night in one Slack-compatible line: counts and totals only (no file name, path, name, e-mail or phone)."""
    t = Totals.of(result)
    text = (f"{notify.subject_prefix} nightly{_where(run)}{' (dry run)' if run.dry_run else ''}: exit "
            f"{int(result.code)} ({OUTCOME.get(result.code, 'see the log')}). {_files(t.files)}, {t.rows:,} rows: "
            f"{t.by_status()}; {t.to_fix:,} to fix; {money(t.ordered)} ordered.")
    if notify.link and result.run_id is not None:
        text += f" {notify.link}/runs/{result.run_id}"
    return _clean([text]).rstrip("\n")


def short_webhook_text(short: Shortfall, files: list[FileOutcome], run: RunSettings, notify: NotifySettings) -> str:
    """The balance alert in one line: the account and the figures (no file name)."""
    pending = sum(n for _, n, _ in _pending(files))
    return _clean([f"{notify.subject_prefix}{_where(run)}: account '{short.account}' holds {money(short.balance)}; "
                   f"the approved rows need {money(short.needed)}: short by {money(short.short_by)}. Nothing was "
                   "sent from it" + (f"; {pending:,} rows wait for a top-up." if pending else ".")]).rstrip("\n")


def _clean(lines: list[Any]) -> str:
    return shown_lines(mask("\n".join(str(line) for line in lines))) + "\n"
