"""The command line's arguments: every command, its options and its help."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NoReturn

from pipeline import __version__
from pipeline.cli.serve import serve_parser
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
        p.add_argument("files", nargs="+", metavar="FILE", help=FILE_HELP)
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
    p.add_argument("--ledger", metavar="FILE|URL", help="the customer's ledger: a file, or postgresql://HOST/DB "
                   "(default: TANGO_BATCH_LEDGER, the campaign file's 'ledger', else "
                   "~/.local/state/tango-batch/ledgers/CUSTOMER.sqlite)")
    p.add_argument("--rate", type=float, metavar="N",
                   help="at most N calls to Tango per second, every kind together (default: TANGO_BATCH_RATE, "
                   "else 1, Tango's documented limit)")
    if logs:
        _log_options(p)


def _log_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-format", choices=("text", "json"), default="text",
                   help="log lines as text (default) or one JSON object per line, with fields (event, file, "
                   "rows, counts, batch, order, status, exit_code, duration...)")
    p.add_argument("--verbose", action="store_true",
                   help="show each request to Tango on the console too (the log file always has them)")


EXIT_CODES = """exit codes:
  0   every row fine
  1   some rows invalid, held, refused or failed: reports written, see failures.xlsx
  2   a file could not be read (the message names it); the other files were processed
  3   the run stopped early (Tango unreachable, credentials, funds, a disk, the ledger):
      everything is recorded, running the same command again continues
  4   run on a terminal, not confirmed: nothing was sent
  64  a usage or campaign-file error: nothing was read
  70  an internal error (a bug): the engineer on call has the details in the log
  75  another run holds the ledger: try again later
  130 interrupted (Ctrl-C): everything sent so far is recorded"""

EXAMPLES = """examples:
  tango-batch validate recipients.xlsx
      check a sheet against Tango's rules; nothing is sent
  tango-batch validate recipients.xlsx --config campaign.toml
      the same, plus the catalog and what the ledger already ordered, as run would see them
  tango-batch run recipients.xlsx --config campaign.toml --target sandbox
      order the valid rows at Tango's sandbox (asks first on a terminal; --yes skips)
  tango-batch nightly --inbox /srv/uploads --config campaign.toml --target production
      every new file of the inbox, as cron runs it
  tango-batch status
      follow unfinished orders; rows and line items per status, the runs and their files
  tango-batch template --config campaign.toml --output recipients-template.xlsx
      a blank workbook to fill in, with dropdowns and instructions"""

FILE_HELP = ("a sheet of recipients: .xlsx, .xlsm, .xls, .ods or .csv (or a tab-separated .txt); give several "
             "to process them in order")


def _help(description: str, examples: str = "") -> dict[str, Any]:
    """A command's description, with examples and the exit codes after its options."""
    return {"description": description, "epilog": "\n\n".join(p for p in (examples, EXIT_CODES) if p),
            "formatter_class": argparse.RawDescriptionHelpFormatter}


def parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tango-batch", **_help("Check HR reward sheets against Tango's rules, order the valid "
                                                 "rows, and report, row by row, what happened.", EXAMPLES))
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    v = sub.add_parser("validate", help="check sheets and write the per-row report; sends nothing",
                       **_help("Check each FILE (.xlsx, .xlsm, .xls, .ods, .csv) and write report.xlsx, "
                               "failures.xlsx (when rows are to fix) and summary.json in a folder per file under "
                               "--output. With a campaign file, the report gives run's verdict: the target's "
                               "catalog, and the ledger's DUPLICATE and HELD, read only. Nothing is sent; the "
                               "ledger is not written.",
                               "examples:\n  tango-batch validate recipients.xlsx\n"
                               "  tango-batch validate export.csv --config campaign.toml --json"))
    _common(v)
    v.add_argument("--config", metavar="FILE", help="campaign file (TOML): identifiers and defaults")
    v.add_argument("--json", action="store_true", help="print each file's summary (summary.json) on stdout as JSON")
    _target_options(v, logs=False)

    r = sub.add_parser("run", help="check sheets, order the valid rows, follow them, report",
                       **_help("Read and check each FILE, order its valid rows at Tango in batches, follow the "
                               "orders until they are final (or --wait runs out), and write each file's report. "
                               "On a terminal it first shows what it is about to order and asks. A row is never "
                               "ordered twice, whatever is rerun.",
                               "examples:\n  tango-batch run recipients.xlsx --config campaign.toml\n"
                               "  tango-batch run recipients.xlsx --config campaign.toml --target sandbox --yes\n"
                               "  tango-batch run recipients.xlsx --config campaign.toml --dry-run"))
    _common(r)
    _order_options(r)
    r.add_argument("--dry-run", action="store_true",
                   help="write the planned batches and their JSON payloads; send nothing")
    r.add_argument("--json", action="store_true", help="print each file's summary (summary.json) on stdout as JSON")
    r.add_argument("--yes", action="store_true",
                   help="do not ask before ordering (on a terminal, run shows what it is about to order and "
                   "asks first; without a terminal, as from cron, it never asks)")

    n = sub.add_parser("nightly", help="finish earlier work, then process every new file of an inbox",
                       **_help("Finish what earlier runs left, then run every new file in --inbox in arrival "
                               "order; processed files move to INBOX/processed, unreadable ones to INBOX/rejected "
                               "with a note saying why. Never asks: it is meant for cron.",
                               "example (crontab):\n  30 1 * * * tango-batch nightly --inbox /srv/uploads "
                               "--config /srv/campaign.toml --target production"))
    n.add_argument("--inbox", metavar="DIR", required=True, type=Path, help="the folder uploads land in")
    _common(n, files=False)
    _order_options(n)

    s = sub.add_parser("status", help="settle orders left unfinished and show what the ledger holds",
                       **_help("Settle what earlier runs left unfinished (orders whose answer was lost, orders "
                               "not yet final, deliveries) and rewrite the reports that changed; then show each "
                               "row by its outcome now, the line items at Tango's side, and the runs with their "
                               "files. While a run holds the ledger, it only reads.",
                               "examples:\n  tango-batch status\n  tango-batch status --config campaign.toml "
                               "--since 2026-11-01 --json"))
    _common(s, files=False)
    s.add_argument("--config", metavar="FILE", help="campaign file: whose ledger (default: the only one there is)")
    _target_options(s)
    s.add_argument("--wait", type=float, default=0.0, metavar="S",
                   help="keep following unfinished orders up to S seconds (default: one pass)")
    s.add_argument("--since", metavar="DATE", help="list the runs since DATE (YYYY-MM-DD)")
    s.add_argument("--json", action="store_true", help="print the counts as JSON")

    t = sub.add_parser("template", help="write a blank workbook to start from: headers, dropdowns, instructions",
                       **_help("Write a blank workbook in the shape the reader knows best: the canonical headers, "
                               "each with a note saying what goes there; dropdowns for delivery method, shipping "
                               "method, states and provinces, countries and, with a campaign file, its rewards "
                               "(from the catalog); text columns that keep leading zeros; an Instructions sheet "
                               "with what each delivery method needs and two example rows, which are never read.",
                               "examples:\n  tango-batch template\n  tango-batch template --config campaign.toml "
                               "--output q4-recipients.xlsx"))
    t.add_argument("--config", metavar="FILE", help="campaign file (TOML): its rewards become a dropdown, its "
                   "defaults are listed")
    t.add_argument("--output", metavar="FILE", default="recipients-template.xlsx",
                   help="the workbook to write (default: recipients-template.xlsx)")
    _target_options(t, logs=False)

    _ledger_parser(sub)
    _users_parser(sub)
    serve_parser(sub, _target_options)
    sub.add_parser("simulate", help="run the Tango simulator as an HTTP server on this machine "
                   "(tango-batch simulate --help)")
    return parser


def _users_parser(sub: Any) -> None:
    us = sub.add_parser("users", help="the people of the HR desk (the web page): add, list, disable",
                        description="Users are kept in the ledger's database with an argon2 hash of their password. "
                        "Roles: uploader (uploads, sees the verdict), approver (approves or rejects files, never "
                        "their own), admin (all of it; approves files over max_run_amount).")
    users = us.add_subparsers(dest="users_command", required=True, parser_class=_Parser)
    add = users.add_parser("add", help="add a user; the password is asked for (or read from stdin when it is not a "
                           "terminal)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=("uploader", "approver", "admin"))
    users.add_parser("list", help="the users, their role and whether they are disabled")
    for verb in ("disable", "enable"):
        users.add_parser(verb, help=f"{verb} a user (a disabled user cannot sign in)").add_argument("name")
    for p in users.choices.values():
        p.add_argument("--config", metavar="FILE", help="campaign file (TOML): whose ledger")
        p.add_argument("--ledger", metavar="FILE|URL", help="the ledger, named directly")


def _ledger_parser(sub: Any) -> None:
    lg = sub.add_parser("ledger", help="the customer's ledger: where it is, merge another into it, rebuild it "
                        "from what Tango holds", description="One ledger per Tango customer records every order; "
                        "see the README's 'The ledger'.")
    ledger = lg.add_subparsers(dest="ledger_command", required=True, parser_class=_Parser)
    where = ledger.add_parser("where", help="print where the customer's ledger is")
    where.add_argument("--config", metavar="FILE", help="campaign file (TOML): whose ledger")
    where.add_argument("--ledger", metavar="FILE", help="the ledger, named directly")
    for name, text in (("merge", "merge other ledgers (another machine's, an old output folder's) into the "
                         "customer's; each merged file is then renamed *.merged-DATE"),
                       ("import", "import SQLite ledgers into the customer's ledger (in PostgreSQL, say): the same "
                         "as merge; each imported file is then renamed *.merged-DATE")):
        merge = ledger.add_parser(name, help=text)
        merge.add_argument("others", nargs="+", metavar="OTHER", type=Path, help="an SQLite ledger file")
        merge.add_argument("--config", metavar="FILE", required=True, help="campaign file (TOML): whose ledger")
        _common(merge, files=False)
        _target_options(merge)
    migrate = ledger.add_parser("migrate", help="bring the ledger's schema up to date (every command does it "
                                "when it opens the ledger; this does it alone, before an upgrade goes live)")
    export = ledger.add_parser("export", help="the audit trail: every line item with its file, sheet, row, order, "
                               "account and status, as CSV or JSON lines (no names, e-mails or phones)")
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv", help="default: csv")
    export.add_argument("--to", metavar="FILE", type=Path, help="write here (default: the standard output)")
    for p in (migrate, export):
        p.add_argument("--config", metavar="FILE", help="campaign file (TOML): whose ledger")
        p.add_argument("--ledger", metavar="FILE|URL", help="the ledger, named directly")
    rebuild = ledger.add_parser("rebuild", help="read the orders this tool placed that Tango holds and the ledger "
                                "does not know back into the ledger, so they are never sent again")
    rebuild.add_argument("--config", metavar="FILE", required=True, help="campaign file (TOML)")
    rebuild.add_argument("--since", metavar="DATE", help="only the orders Tango created since DATE (YYYY-MM-DD)")
    _common(rebuild, files=False)
    _target_options(rebuild)
