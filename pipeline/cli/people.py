"""``tango-batch users``: add (the password from a prompt, or from stdin when it is not a terminal),
list, disable, enable. No run lock: each change is one transaction of its own."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.cli.settings import ledger_path
from pipeline.errors import UsageError
from pipeline.model import ExitCode

if TYPE_CHECKING:
    from pipeline.progress import Progress

__all__ = ["read_password", "users"]


def read_password(name: str) -> str:
    """A new password: asked twice on a terminal; else the first line of stdin."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"password for {name}: ")
    if getpass.getpass("the same again: ") != first:
        raise UsageError("the two passwords differ; nothing was changed")
    return first


def users(args: argparse.Namespace, progress: Progress) -> int:
    from pipeline.config import load_campaign
    from pipeline.jobs.users import add_user, set_disabled, user_list
    from rules import load
    campaign = load_campaign(args.config, load()) if args.config else None
    where = ledger_path(args, campaign, Path("output"))
    if args.users_command == "add":
        add_user(where, args.name, args.role, read_password(args.name))
        progress.say(f"user {args.name} ({args.role}) added to the ledger {where}")
    elif args.users_command == "list":
        for user in user_list(where):
            state = "disabled" if user.disabled else "active"
            print(f"{user.name}\t{user.role}\t{state}\tsince {user.created_at[:10]}")
    else:
        set_disabled(where, args.name, args.users_command == "disable")
        progress.say(f"user {args.name} {args.users_command}d")
    return ExitCode.OK
