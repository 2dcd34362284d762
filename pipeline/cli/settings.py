"""The settings of a command's job, built once from its arguments, the environment and the
campaign file; what is wrong with them stops the command here (exit 64), before anything is read,
written or locked."""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import UsageError, env_number

if TYPE_CHECKING:
    from pipeline.config import Campaign, CheckSettings, RunSettings, StatusSettings
    from pipeline.state import Where
    from rules import RuleBook

__all__ = ["ANSWER_ENV", "RATE_ENV", "answer_seconds", "check_arguments", "ledger_path", "rate", "settings"]

RATE_ENV = "TANGO_BATCH_RATE"     # the calls to Tango per second when --rate is not given
ANSWER_ENV = "TANGO_BATCH_ANSWER_SECONDS"     # how long run's question waits for an answer (the tests shorten it)
ANSWER_MAX = 86_400


def settings(args: argparse.Namespace) -> CheckSettings | RunSettings | StatusSettings:
    """The settings of the command's job, built once here; usage and campaign-file errors stop here,
    before anything is read, written or locked (and so does a real target without credentials)."""
    from pipeline.config import RunSettings, StatusSettings, load_campaign, resolve_target
    from rules import load
    book = load()
    output = Path(args.output)
    config = getattr(args, "config", None)           # required by run and nightly; status has none
    campaign = load_campaign(config, book) if config else None
    if args.command == "validate":
        return _check_settings(args, book, output, campaign)
    target = resolve_target(args.target, os.environ, campaign.target if campaign else None)
    pace = rate(args)
    ledger = ledger_path(args, campaign, output)
    if args.command == "status" or campaign is None:
        return StatusSettings(book=book, target=target, output=output, ledger=ledger, rate=pace, wait=args.wait)
    return RunSettings(book=book, target=target, output=output, ledger=ledger, rate=pace,
                       campaign=campaign, sheets=tuple(getattr(args, "sheet", None) or ()),
                       batch_size=getattr(args, "batch_size", 100),
                       wait=0.0 if getattr(args, "no_wait", False) else getattr(args, "wait", 300.0),
                       dry_run=getattr(args, "dry_run", False))


def _check_settings(args: argparse.Namespace, book: RuleBook, output: Path, campaign: Campaign | None) -> CheckSettings:
    """``validate``: with a campaign file, against its target and ledger as ``run`` would be; a target
    that cannot be reached for want of credentials leaves the sheet's own checks, said plainly."""
    from pipeline.config import CheckSettings, resolve_target
    common: dict[str, Any] = dict(book=book, output=output, sheets=tuple(args.sheet or ()), campaign=campaign,
                                  rate=rate(args))
    if campaign is None:
        if args.target or args.ledger:
            raise UsageError("validate --target and --ledger need --config FILE: the catalog and the ledger "
                             "are the campaign's customer's")
        return CheckSettings(**common, offline="no campaign file (--config)")
    try:
        target = resolve_target(args.target, os.environ, campaign.target)
    except UsageError as exc:
        if args.target:
            raise
        return CheckSettings(**common, offline=str(exc))
    return CheckSettings(**common, target=target, ledger=ledger_path(args, campaign, output))


def rate(args: argparse.Namespace) -> float:
    """The calls to Tango per second: --rate, else TANGO_BATCH_RATE (an operator whose account Tango
    allows more sets it once), else 1, Tango's documented limit."""
    value, name = args.rate, "--rate"
    if value is None:
        value, name = env_number(os.environ, RATE_ENV, 1.0, "a number of calls per second", lambda v: True), RATE_ENV
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{name} must be a number more than 0")
    return float(value)


def answer_seconds(default: float) -> float:
    """How long run's question on a terminal waits for a person's answer: TANGO_BATCH_ANSWER_SECONDS,
    else ``default`` (a day at most: select's timeout overflows)."""
    return env_number(os.environ, ANSWER_ENV, default, f"a number of seconds more than 0 and at most {ANSWER_MAX:,}",
                      lambda v: 0 < v <= ANSWER_MAX)


def ledger_path(args: argparse.Namespace, campaign: Campaign | None, output: Path) -> Where:
    """The customer's ledger (see ``pipeline.state``); without a campaign file, the only one there is."""
    from pipeline.state import LEDGER_ENV, OLD_LEDGER_NAME, choose_ledger, known_ledgers, ledger_at
    if campaign is not None:
        return choose_ledger(args.ledger, os.environ, campaign.customerIdentifier, campaign.ledger,
                             Path(campaign.path).parent)
    if args.ledger or os.environ.get(LEDGER_ENV):
        return ledger_at(args.ledger or os.environ[LEDGER_ENV], os.environ)
    found = known_ledgers(os.environ)
    if len(found) > 1:
        raise UsageError("there are ledgers for several customers; name one with --config FILE or --ledger FILE: "
                         + ", ".join(str(p) for p in found))
    return found[0] if found else output / OLD_LEDGER_NAME     # none yet: where older versions kept it


def check_arguments(args: argparse.Namespace) -> None:
    if args.command == "nightly" and not args.inbox.is_dir():
        raise UsageError(f"--inbox {args.inbox}: no such folder")
    if args.command in ("status", "ledger") and getattr(args, "since", None):
        try:
            dt.date.fromisoformat(args.since)
        except ValueError:
            raise UsageError(f"--since must be a date such as 2026-11-01; got {args.since!r}") from None
