"""The ``tango-batch`` command: parses arguments, builds the job's settings once, calls the library,
and owns the messages and exit codes (``pipeline.model.ExitCode``).

Heavy modules (polars, httpx, the stages) are imported only once a command runs, so ``--help``
answers at once.
"""

from __future__ import annotations

import gc
import sys
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pipeline.cli.commands import ledger_tool, logged, template, validate, where
from pipeline.cli.parser import parser
from pipeline.cli.people import users
from pipeline.environment import os_error_in, unwritable
from pipeline.errors import LedgerUnusable, Locked, Unwritable, UsageError, bugs
from pipeline.model import ExitCode

if TYPE_CHECKING:
    from pipeline.progress import Progress

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["simulate"]:    # the simulator server parses its own options
        from pipeline.simulator.server import main as serve
        return serve(argv[1:])
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:       # --help, --version, or a usage error (64)
        return int(exc.code or 0)
    from pipeline.progress import Progress
    progress = Progress()
    _fewer_collections()
    sys.unraisablehook = _quietly
    try:
        if args.command == "validate":
            return validate(args, progress)
        if args.command == "template":
            return template(args, progress)
        if args.command == "users":
            return users(args, progress)
        if args.command == "serve":
            from pipeline.cli.serve import serve as serve_desk
            return serve_desk(args, progress)
        if args.command == "ledger" and args.ledger_command in ("where", "migrate", "export"):
            return where(args) if args.ledger_command == "where" else ledger_tool(args, progress)
        return logged(args)
    except KeyboardInterrupt:
        progress.say("interrupted: everything sent so far is recorded; run the same command again")
        return ExitCode.INTERRUPTED
    except bugs() as exc:
        return _failed(exc, progress, debug=getattr(args, "debug", False))


def _fewer_collections() -> None:
    """The jobs make objects by the hundred thousand (a row's cells, its line item) and keep them; the
    cycle collector's default (a pass every 700 new objects, each older pass walking all that live)
    spent a tenth of a 100,000-row check walking them. Cycles are rare here: a pass every 100,000."""
    gc.set_threshold(100_000, 50, 100)


def _quietly(unraisable: sys.UnraisableHookArgs) -> None:
    """What Python could not raise while cleaning up (a half-written workbook's file on a full disk,
    closed at exit): the failure itself has been said; the details go to the debug log only."""
    import logging
    logging.getLogger("tango_batch.cleanup").debug("ignored while cleaning up: %r", unraisable.exc_value)


def _failed(exc: BaseException, progress: Progress, debug: bool) -> int:
    """The exit code and the message of a command that ended on ``exc``."""
    if isinstance(exc, UsageError):
        progress.say(f"tango-batch: error: {exc}")
        return ExitCode.USAGE
    if isinstance(exc, Locked):
        progress.say(f"tango-batch: {exc}")
        return ExitCode.LOCKED
    if isinstance(exc, (LedgerUnusable, Unwritable)):
        progress.say(f"tango-batch: error: {exc}")
        return ExitCode.STOPPED
    if (cause := os_error_in(exc)) is not None:     # the machine, not the program (a log file, a folder)
        progress.say(f"tango-batch: error: {unwritable(cause)}")
        if debug:
            traceback.print_exc()
        return ExitCode.STOPPED
    # a bug: say so plainly; the ledger keeps what was recorded
    progress.say(f"internal error: {type(exc).__name__}: {exc}")
    if debug:
        traceback.print_exc()
    return ExitCode.INTERNAL


if __name__ == "__main__":
    sys.exit(main())
