"""The ``tango-batch`` command: parses arguments, builds the job's settings once, calls the library,
and owns the messages and exit codes (``pipeline.model.ExitCode``).

Heavy modules (polars, httpx, the stages) are imported only once a command runs, so ``--help``
answers at once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from pipeline import __version__
from pipeline.errors import Locked, UsageError
from pipeline.model import ExitCode

if TYPE_CHECKING:
    from pipeline.config import CheckSettings, RunSettings, StatusSettings
    from pipeline.progress import Progress

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _common(p: argparse.ArgumentParser, files: bool = True) -> None:
    if files:
        p.add_argument("files", nargs="+", metavar="FILE")
        p.add_argument("--sheet", metavar="NAME", help="sheet to read (default: the first one with a header)")
    p.add_argument("--output", metavar="DIR", default="output", help="where reports go (default: output/)")
    p.add_argument("--debug", action="store_true", help="show internal errors in full")


def _order_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", required=True, help="campaign file (TOML)")
    _target_options(p)
    p.add_argument("--batch-size", type=_positive_int, default=100, metavar="N",
                   help="line items per order (default 100, at most 50,000)")
    wait = p.add_mutually_exclusive_group()
    wait.add_argument("--wait", type=float, default=300.0, metavar="S",
                      help="follow orders until final or S seconds (default 300)")
    wait.add_argument("--no-wait", action="store_true", help="do not follow orders: return at once")


def _target_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", metavar="T", help="simulator (default), sandbox, production, or a base URL; "
                   "also TANGO_BASE_URL or 'target' in the campaign file")
    p.add_argument("--ledger", metavar="FILE", help="the ledger (default: OUTPUT/ledger.sqlite)")
    p.add_argument("--rate", type=float, default=1.0, metavar="N",
                   help="at most N calls to Tango per second, every kind together (default 1, Tango's "
                   "documented limit)")
    p.add_argument("--log-format", choices=("text", "json"), default="text",
                   help="log lines as text (default) or one JSON object per line")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tango-batch", description="Check HR reward sheets against Tango's rules, "
                     "order the valid rows, and report, row by row, what happened.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    v = sub.add_parser("validate", help="check sheets and write the per-row report; sends nothing",
                       description="Check each FILE (.xlsx, .xlsm, .csv) and write report.xlsx, "
                       "failures.xlsx and summary.json in a folder per file under --output.")
    _common(v)
    v.add_argument("--config", metavar="FILE", help="campaign file (TOML): identifiers and defaults")

    r = sub.add_parser("run", help="check sheets, order the valid rows, follow them, report",
                       description="ingest → validate → plan → submit → follow → report.")
    _common(r)
    _order_options(r)
    r.add_argument("--dry-run", action="store_true",
                   help="write the planned batches and their JSON payloads; send nothing")

    n = sub.add_parser("nightly", help="finish earlier work, then process every new file of an inbox",
                       description="Finish what earlier runs left, then run every new file in --inbox "
                       "in arrival order; processed files move to INBOX/processed, unreadable ones to "
                       "INBOX/rejected.")
    n.add_argument("--inbox", metavar="DIR", required=True, type=Path, help="the folder uploads land in")
    _common(n, files=False)
    _order_options(n)

    s = sub.add_parser("status", help="settle orders left unfinished and show what the ledger holds")
    _common(s, files=False)
    _target_options(s)
    s.add_argument("--wait", type=float, default=0.0, metavar="S",
                   help="keep following unfinished orders up to S seconds (default: one pass)")
    s.add_argument("--since", metavar="DATE", help="list the runs since DATE (YYYY-MM-DD)")
    s.add_argument("--json", action="store_true", help="print the counts as JSON")

    sub.add_parser("simulate", help="run the Tango simulator as an HTTP server on this machine "
                   "(tango-batch simulate --help)")
    return parser


def _settings(args: argparse.Namespace) -> CheckSettings | RunSettings | StatusSettings:
    """The settings of the command's job, built once here; usage and campaign-file errors stop here,
    before anything is read, written or locked (and so does a real target without credentials)."""
    from pipeline.config import CheckSettings, RunSettings, StatusSettings, load_campaign, resolve_target
    from rules import load
    book = load()
    output = Path(args.output)
    config = getattr(args, "config", None)           # required by run and nightly; status has none
    campaign = load_campaign(config, book) if config else None
    if args.command == "validate":
        return CheckSettings(book=book, output=output, sheet=args.sheet, campaign=campaign)
    target = resolve_target(args.target, os.environ, campaign.target if campaign else None)
    if args.rate <= 0:
        raise UsageError("--rate must be more than 0")
    ledger = Path(args.ledger) if args.ledger else output / "ledger.sqlite"
    if campaign is None:
        return StatusSettings(book=book, target=target, output=output, ledger=ledger, rate=args.rate,
                              wait=args.wait)
    return RunSettings(book=book, target=target, output=output, ledger=ledger, rate=args.rate,
                       campaign=campaign, sheet=getattr(args, "sheet", None), batch_size=args.batch_size,
                       wait=0.0 if args.no_wait else args.wait, dry_run=getattr(args, "dry_run", False))


def _check_arguments(args: argparse.Namespace) -> None:
    if args.command == "nightly" and not args.inbox.is_dir():
        raise UsageError(f"--inbox {args.inbox}: no such folder")
    if args.command == "status" and args.since:
        try:
            dt.date.fromisoformat(args.since)
        except ValueError:
            raise UsageError(f"--since must be a date such as 2026-11-01; got {args.since!r}") from None


def _validate(args: argparse.Namespace, progress: Progress) -> int:
    from pipeline.config import CheckSettings
    from pipeline.jobs.validate import validate_files
    settings = _settings(args)
    assert isinstance(settings, CheckSettings)
    return validate_files(args.files, settings, progress, debug=args.debug)


def _run(args: argparse.Namespace, settings: RunSettings, progress: Progress) -> int:
    if args.command == "nightly":
        from pipeline.jobs.nightly import nightly
        result = nightly(args.inbox, settings, progress)
    else:
        from pipeline.jobs.run import run_files
        result = run_files(args.files, settings, progress)
    f = result.figures
    progress.say(f"orders sent: {f['posts']}, accepted: {f['accepted']}, refused: {f['rejected_batches']}, "
                 f"retries: {f['retries']}, left unfinished by earlier runs: {f['reconciled']}; exit {result.code}")
    return result.code


def _status(args: argparse.Namespace, settings: StatusSettings, progress: Progress, settle: bool = True) -> int:
    from pipeline.jobs.status import status
    report = status(settings, progress, since=args.since, settle=settle)
    if args.json:
        print(json.dumps(report, indent=2))
    return int(report["exit_code"])


def _logged(args: argparse.Namespace) -> int:
    """run, nightly, status: one run at a time, every line a log event (stderr and a log file)."""
    from pipeline.config import CheckSettings, RunSettings
    from pipeline.lock import RunLock
    from pipeline.logs import LOGGER, setup
    from pipeline.progress import Progress
    settings = _settings(args)
    assert not isinstance(settings, CheckSettings)
    _check_arguments(args)
    setup(settings.output, args.log_format, args.debug, settings.target.credentials.secrets())
    progress = Progress(log=logging.getLogger(f"{LOGGER}.job"))
    try:
        with RunLock(settings.ledger):
            if isinstance(settings, RunSettings):
                return _run(args, settings, progress)
            return _status(args, settings, progress)
    except Locked as exc:
        if not isinstance(settings, RunSettings):      # status, on call during a long night: read, do not act
            return _status(args, settings, progress, settle=False)
        progress.say(f"tango-batch: {exc}")
        return ExitCode.LOCKED


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["simulate"]:    # the simulator server parses its own options
        from pipeline.simulator.server import main as serve
        return serve(argv[1:])
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:       # --help, --version, or a usage error (64)
        return int(exc.code or 0)
    from pipeline.progress import Progress
    progress = Progress()
    try:
        if args.command == "validate":
            return _validate(args, progress)
        return _logged(args)
    except UsageError as exc:
        progress.say(f"tango-batch: error: {exc}")
        return ExitCode.USAGE
    except KeyboardInterrupt:
        progress.say("interrupted: everything sent so far is recorded; run the same command again")
        return ExitCode.INTERRUPTED
    except Exception as exc:  # a bug: say so plainly; the ledger keeps what was recorded
        from pipeline.logs import mask
        progress.say(mask(f"internal error: {type(exc).__name__}: {exc}"))
        if getattr(args, "debug", False):
            traceback.print_exc()
        return ExitCode.INTERNAL


if __name__ == "__main__":
    sys.exit(main())
