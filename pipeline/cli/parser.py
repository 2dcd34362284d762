"""The command line's arguments: every command, its options and its help."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NoReturn

from pipeline import __version__
from pipeline.model import ExitCode

__all__ = ["parser"]


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
        p.add_argument("--sheet", metavar="NAME", action="append",
                       help="a sheet to read; give it again for more (default: every sheet of recipients)")
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


def _target_options(p: argparse.ArgumentParser, logs: bool = True) -> None:
    p.add_argument("--target", metavar="T", help="simulator (default), sandbox, production, or a base URL; "
                   "also TANGO_BASE_URL or 'target' in the campaign file")
    p.add_argument("--ledger", metavar="FILE", help="the customer's ledger (default: TANGO_BATCH_LEDGER, the "
                   "campaign file's 'ledger', else ~/.local/state/tango-batch/ledgers/CUSTOMER.sqlite)")
    p.add_argument("--rate", type=float, default=1.0, metavar="N",
                   help="at most N calls to Tango per second, every kind together (default 1, Tango's "
                   "documented limit)")
    if logs:
        _log_options(p)


def _log_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-format", choices=("text", "json"), default="text",
                   help="log lines as text (default) or one JSON object per line, with fields (event, file, "
                   "rows, counts, batch, order, status, exit_code, duration...)")
    p.add_argument("--verbose", action="store_true",
                   help="show each request to Tango on the console too (the log file always has them)")


def parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tango-batch", description="Check HR reward sheets against Tango's rules, "
                     "order the valid rows, and report, row by row, what happened.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    v = sub.add_parser("validate", help="check sheets and write the per-row report; sends nothing",
                       description="Check each FILE (.xlsx, .xlsm, .xls, .ods, .csv) and write report.xlsx, "
                       "failures.xlsx and summary.json in a folder per file under --output. With a "
                       "campaign file, the report gives run's verdict: the target's catalog, and the "
                       "ledger's DUPLICATE and HELD, read only. Nothing is sent; the ledger is not written.")
    _common(v)
    v.add_argument("--config", metavar="FILE", help="campaign file (TOML): identifiers and defaults")
    v.add_argument("--json", action="store_true", help="print each file's summary (summary.json) on stdout as JSON")
    _target_options(v, logs=False)

    r = sub.add_parser("run", help="check sheets, order the valid rows, follow them, report",
                       description="ingest → validate → plan → submit → follow → report.")
    _common(r)
    _order_options(r)
    r.add_argument("--dry-run", action="store_true",
                   help="write the planned batches and their JSON payloads; send nothing")
    r.add_argument("--json", action="store_true", help="print each file's summary (summary.json) on stdout as JSON")
    r.add_argument("--yes", action="store_true",
                   help="do not ask before ordering (on a terminal, run shows what it is about to order and "
                   "asks first; without a terminal, as from cron, it never asks)")

    n = sub.add_parser("nightly", help="finish earlier work, then process every new file of an inbox",
                       description="Finish what earlier runs left, then run every new file in --inbox "
                       "in arrival order; processed files move to INBOX/processed, unreadable ones to "
                       "INBOX/rejected.")
    n.add_argument("--inbox", metavar="DIR", required=True, type=Path, help="the folder uploads land in")
    _common(n, files=False)
    _order_options(n)

    s = sub.add_parser("status", help="settle orders left unfinished and show what the ledger holds")
    _common(s, files=False)
    s.add_argument("--config", metavar="FILE", help="campaign file: whose ledger (default: the only one there is)")
    _target_options(s)
    s.add_argument("--wait", type=float, default=0.0, metavar="S",
                   help="keep following unfinished orders up to S seconds (default: one pass)")
    s.add_argument("--since", metavar="DATE", help="list the runs since DATE (YYYY-MM-DD)")
    s.add_argument("--json", action="store_true", help="print the counts as JSON")

    _ledger_parser(sub)
    sub.add_parser("simulate", help="run the Tango simulator as an HTTP server on this machine "
                   "(tango-batch simulate --help)")
    return parser


def _ledger_parser(sub: Any) -> None:
    lg = sub.add_parser("ledger", help="the customer's ledger: where it is, merge another into it, rebuild it "
                        "from what Tango holds", description="One ledger per Tango customer records every order; "
                        "see the README's 'The ledger'.")
    ledger = lg.add_subparsers(dest="ledger_command", required=True, parser_class=_Parser)
    where = ledger.add_parser("where", help="print where the customer's ledger is")
    where.add_argument("--config", metavar="FILE", help="campaign file (TOML): whose ledger")
    where.add_argument("--ledger", metavar="FILE", help="the ledger, named directly")
    merge = ledger.add_parser("merge", help="merge other ledgers (another machine's, an old output folder's) "
                              "into the customer's; each merged file is then renamed *.merged-DATE")
    merge.add_argument("others", nargs="+", metavar="OTHER", type=Path, help="a ledger file to merge")
    merge.add_argument("--config", metavar="FILE", required=True, help="campaign file (TOML): whose ledger")
    _common(merge, files=False)
    _target_options(merge)
    rebuild = ledger.add_parser("rebuild", help="read the orders this tool placed that Tango holds and the ledger "
                                "does not know back into the ledger, so they are never sent again")
    rebuild.add_argument("--config", metavar="FILE", required=True, help="campaign file (TOML)")
    rebuild.add_argument("--since", metavar="DATE", help="only the orders Tango created since DATE (YYYY-MM-DD)")
    _common(rebuild, files=False)
    _target_options(rebuild)
