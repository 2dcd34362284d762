"""What each command does once its arguments are read: the library's job, then a line for people."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.cli.settings import answer_seconds, check_arguments, ledger_path, rate
from pipeline.cli.settings import settings as settings_of
from pipeline.errors import Locked, UsageError
from pipeline.model import ExitCode

if TYPE_CHECKING:
    from pipeline.config import RunSettings, StatusSettings
    from pipeline.progress import Progress

__all__ = ["ledger_tool", "logged", "template", "validate", "where"]


def validate(args: argparse.Namespace, progress: Progress) -> int:
    from pipeline.config import CheckSettings
    from pipeline.jobs.validate import validate_files
    settings = settings_of(args)
    assert isinstance(settings, CheckSettings)
    summaries: list[dict[str, object]] = []
    code = validate_files(args.files, settings, progress, debug=args.debug, summaries=summaries)
    if args.json:
        print(json.dumps({"exit_code": int(code), "files": summaries}, indent=2, ensure_ascii=False))
    return code


def _run(args: argparse.Namespace, settings: RunSettings, progress: Progress) -> int:
    began = time.monotonic()
    if args.command == "nightly":
        from pipeline.jobs.nightly import nightly
        result = nightly(args.inbox, settings, progress)
    else:
        from pipeline.jobs.run import run_files
        result = run_files(args.files, settings, progress)
    f = result.figures
    progress.say(f"orders sent: {f['posts']}, accepted: {f['accepted']}, refused: {f['rejected_batches']}, "
                 f"retries: {f['retries']}, left unfinished by earlier runs: {f['reconciled']}; exit {result.code}",
                 event="run_end", exit_code=int(result.code), duration=round(time.monotonic() - began, 3),
                 counts={k: f[k] for k in ("posts", "accepted", "rejected_batches", "retries", "reconciled")})
    if getattr(args, "json", False):
        print(json.dumps({"exit_code": int(result.code), "files": result.files}, indent=2, ensure_ascii=False))
    return result.code


def _status(args: argparse.Namespace, settings: StatusSettings, progress: Progress, settle: bool = True) -> int:
    from pipeline.jobs.status import status
    report = status(settings, progress, since=args.since, settle=settle)
    if args.json:
        print(json.dumps(report, indent=2))
    return int(report["exit_code"])


def _ledger_job(args: argparse.Namespace, settings: RunSettings, progress: Progress) -> int:
    from pipeline.jobs.ledger import merge_into, rebuild
    from pipeline.ledger import Ledger
    from pipeline.lock import scope
    from pipeline.tango.connect import client_for
    if args.ledger_command in ("merge", "import"):
        merge_into(settings, args.others, progress)
        return ExitCode.OK
    ledger = Ledger(settings.ledger, settings.target.namespace, scope(settings))
    client = client_for(settings, ledger, None)
    try:
        since = dt.date.fromisoformat(args.since) if args.since else None
        done = rebuild(client, ledger, settings, progress, since)
    finally:
        client.close()
        ledger.close()
    progress.say(f"ledger rebuild: {done.orders} orders of tango-batch at Tango, {done.read} read back into "
                 f"{settings.ledger} ({done.line_items} line items); the others it knew already")
    return ExitCode.OK


def _confirmed(args: argparse.Namespace, settings: RunSettings) -> bool:
    """On a terminal, and unless --yes or --dry-run: what run is about to order, and a person's yes.
    Asked before the run lock is taken, so a person reading does not hold up another run."""
    if args.yes or settings.dry_run or not (sys.stdin.isatty() and sys.stderr.isatty()):
        return True
    from pipeline.jobs.confirm import ANSWER_SECONDS, about_to_order, ask, changed_since
    seconds = answer_seconds(ANSWER_SECONDS)
    order = about_to_order(args.files, settings)
    if not order.rows:
        return True                     # nothing to order: the run writes its reports
    for line in order.lines(settings.target.describe()):
        print(line, file=sys.stderr)
    if not ask("Send them?", sys.stdin, sys.stderr, seconds):
        return False
    changed = changed_since(order)
    if changed:                         # what would be ordered is not what the person said yes to
        print(f"tango-batch: changed while you read: {', '.join(changed)}; run it again to see what it orders now",
              file=sys.stderr)
        return False
    return True


def template(args: argparse.Namespace, progress: Progress) -> int:
    """``tango-batch template``: the workbook, with the campaign's rewards when its catalog can be had."""
    from pipeline.config import load_campaign, resolve_target
    from pipeline.errors import Stop
    from pipeline.jobs.template import DATA_SHEET, write_template
    from pipeline.jobs.validate import catalog_for
    from pipeline.stages.preflight import Catalog
    from rules import load
    if Path(args.output).is_dir():
        raise UsageError(f"--output {args.output} is a folder: give the workbook's file name, such as "
                         f"{Path(args.output) / 'recipients-template.xlsx'}")
    book = load()
    campaign = load_campaign(args.config, book) if args.config else None
    catalog: Catalog | None = None
    if campaign is not None:
        try:
            target = resolve_target(args.target, os.environ, campaign.target)
            catalog = catalog_for(target, ledger_path(args, campaign, Path("output")), rate(args))
        except (UsageError, Stop) as exc:
            progress.say(f"warning: no rewards dropdown: {exc}")
    path = write_template(Path(args.output), book, campaign, catalog)
    rewards = f", {len(catalog.items)} rewards in its dropdown" if catalog else ""
    progress.say(f"template: {path}{rewards}; fill in its '{DATA_SHEET}' sheet, then: tango-batch validate "
                 f"{path.name}" + (f" --config {args.config}" if args.config else ""))
    return ExitCode.OK


def where(args: argparse.Namespace) -> int:
    from pipeline.config import load_campaign
    from rules import load
    campaign = load_campaign(args.config, load()) if args.config else None
    print(ledger_path(args, campaign, Path("output")))
    return ExitCode.OK


def ledger_tool(args: argparse.Namespace, progress: Progress) -> int:
    """``ledger migrate`` and ``ledger export``: no run lock (a migration is one transaction of its
    own; an export reads one consistent view)."""
    from pipeline.config import load_campaign
    from pipeline.jobs.audit import export, migrate
    from rules import load
    campaign = load_campaign(args.config, load()) if args.config else None
    ledger = ledger_path(args, campaign, Path("output"))
    if args.ledger_command == "migrate":
        before, after = migrate(ledger)
        progress.say(f"ledger {ledger}: schema {after}" + (f" (was {before})" if before != after else ", up to date"))
        return ExitCode.OK
    if args.to is None:
        count = export(ledger, sys.stdout, args.format)
    else:
        with args.to.open("w", encoding="utf-8", newline="") as out:
            count = export(ledger, out, args.format)
    progress.say(f"ledger {ledger}: {count:,} line items exported" + (f" to {args.to}" if args.to else ""))
    return ExitCode.OK


def logged(args: argparse.Namespace) -> int:
    """run, nightly, status: one run at a time, every line a log event (stderr and a log file)."""
    from pipeline.config import CheckSettings, RunSettings
    from pipeline.lock import run_lock
    from pipeline.logs import LOGGER, setup
    from pipeline.notify import notify_secrets
    from pipeline.progress import Progress
    settings = settings_of(args)
    assert not isinstance(settings, CheckSettings)
    check_arguments(args)
    secrets = settings.target.credentials.secrets()
    if isinstance(settings, RunSettings):       # [notify]'s SMTP password and webhook URL
        secrets = [*secrets, *notify_secrets(settings.campaign.notify, os.environ)]
    setup(settings.output, args.log_format, args.debug, secrets, verbose=getattr(args, "verbose", False))
    progress = Progress(log=logging.getLogger(f"{LOGGER}.job"))
    if args.command == "run" and isinstance(settings, RunSettings) and not _confirmed(args, settings):
        progress.say("not confirmed: nothing was sent")
        return ExitCode.DECLINED
    try:
        whole = args.command == "ledger" and args.ledger_command != "rebuild"
        with run_lock(settings, whole=whole):
            from pipeline.jobs.ledger import adopt_old_ledger
            adopt_old_ledger(settings, progress)
            if args.command == "ledger":
                assert isinstance(settings, RunSettings)
                return _ledger_job(args, settings, progress)
            if isinstance(settings, RunSettings):
                return _run(args, settings, progress)
            return _status(args, settings, progress)
    except Locked as exc:
        if not isinstance(settings, RunSettings):      # status, on call during a long night: read, do not act
            return _status(args, settings, progress, settle=False)
        progress.say(f"tango-batch: {exc}")
        return ExitCode.LOCKED
