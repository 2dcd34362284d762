"""The ``tango-batch`` command: parses arguments, calls the pipeline, owns messages and exit codes.

Exit codes: 0 every row valid; 1 some rows invalid (reports written); 2 a file could not be read
(the others are still processed); 64 a usage or campaign-file error; 70 an internal error.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path
from typing import NoReturn, Sequence

from pipeline import __version__
from pipeline.config import Settings, load_campaign
from pipeline.errors import InputError, UsageError
from pipeline.job import validate_file
from pipeline.progress import Progress

__all__ = ["main", "EXIT_OK", "EXIT_INVALID", "EXIT_UNREADABLE", "EXIT_USAGE", "EXIT_INTERNAL"]

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 64, 70


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tango-batch", description="Check HR reward sheets against Tango's rules "
                     "and report, row by row, what can be ordered.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    v = sub.add_parser("validate", help="check sheets and write the per-row report; sends nothing",
                       description="Check each FILE (.xlsx, .xlsm, .csv) and write report.xlsx, "
                       "failures.xlsx and summary.json in a folder per file under --output.")
    v.add_argument("files", nargs="+", metavar="FILE")
    v.add_argument("--config", metavar="FILE", help="campaign file (TOML): identifiers and defaults")
    v.add_argument("--sheet", metavar="NAME", help="sheet to read (default: the first one with a header)")
    v.add_argument("--output", metavar="DIR", default="output", help="where reports go (default: output/)")
    v.add_argument("--debug", action="store_true", help="show internal errors in full")
    return parser


def _validate(args: argparse.Namespace, progress: Progress) -> int:
    campaign = load_campaign(args.config) if args.config else None
    settings = Settings(campaign=campaign, sheet=args.sheet, output=Path(args.output))
    code = EXIT_OK
    for file in args.files:
        try:
            result = validate_file(file, settings, progress)
        except InputError as exc:
            progress.say(f"error: {exc}")
            code = max(code, EXIT_UNREADABLE)
            continue
        except Exception as exc:  # a bug: say so plainly, keep processing the other files
            progress.say(f"internal error while processing {file}: {type(exc).__name__}: {exc}")
            if args.debug:
                traceback.print_exc()
            code = max(code, EXIT_INTERNAL)
            continue
        counts = result.summary["status_counts"]
        progress.say(f"{Path(file).name}: {result.summary['rows']} rows: "
                     + ", ".join(f"{n} {s}" for s, n in counts.items())
                     + f"; total of valid rows ${result.summary['total_amount_valid']:,.2f}")
        progress.say(f"  report: {result.paths['report']}")
        if result.invalid:
            progress.say(f"  rows to fix: {result.paths['failures']}")
            code = max(code, EXIT_INVALID)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:       # --help, --version, or a usage error (64)
        return int(exc.code or 0)
    progress = Progress()
    try:
        return _validate(args, progress)
    except UsageError as exc:
        progress.say(f"tango-batch: error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        progress.say("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
