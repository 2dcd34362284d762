"""The ``tango-batch`` command: parses arguments, builds the job's settings once, calls the library,
and owns the messages and exit codes (``pipeline.model.ExitCode``).

Heavy modules (polars, httpx, the stages) are imported only once a command runs, so ``--help``
answers at once.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence

from pipeline.cli.commands import logged, validate, where
from pipeline.cli.parser import parser
from pipeline.errors import UsageError, bugs
from pipeline.model import ExitCode

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
    try:
        if args.command == "validate":
            return validate(args, progress)
        if args.command == "ledger" and args.ledger_command == "where":
            return where(args)
        return logged(args)
    except UsageError as exc:
        progress.say(f"tango-batch: error: {exc}")
        return ExitCode.USAGE
    except KeyboardInterrupt:
        progress.say("interrupted: everything sent so far is recorded; run the same command again")
        return ExitCode.INTERRUPTED
    except bugs() as exc:  # a bug: say so plainly; the ledger keeps what was recorded
        from pipeline.logs import mask
        progress.say(mask(f"internal error: {type(exc).__name__}: {exc}"))
        if getattr(args, "debug", False):
            traceback.print_exc()
        return ExitCode.INTERNAL


if __name__ == "__main__":
    sys.exit(main())
