"""``python -m pipeline.web.demo --ledger output/ledger.sqlite``: the users of the demo desk (``make
serve``): an uploader, an approver and an admin, each with a random password printed once on the
console. A user that exists already is left as it is and its password is not printed again (``make
clean`` removes the demo's ledger, and its users with it, to start afresh)."""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

from pipeline.jobs.users import add_user, user_list

__all__ = ["DEMO_USERS", "main"]

DEMO_USERS = (("demo-uploader", "uploader"), ("demo-approver", "approver"), ("demo-admin", "admin"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.web.demo", description=__doc__)
    parser.add_argument("--ledger", type=Path, default=Path("output/ledger.sqlite"))
    args = parser.parse_args(argv)
    known = {user.name for user in user_list(args.ledger)}
    for name, role in DEMO_USERS:
        if name in known:
            print(f"{name} ({role}): exists already; its password was printed when it was made")
            continue
        password = secrets.token_urlsafe(12)
        add_user(args.ledger, name, role, password)
        print(f"{name} ({role}): password {password}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
