"""``tango-batch users``: the people of the HR desk (the web page), kept in the ledger's database
(SQLite or PostgreSQL) with their role and an argon2 hash of their password; never the password.

Roles: ``uploader`` (uploads files and sees their verdict), ``approver`` (approves or rejects
files, never one they uploaded), ``admin`` (all of it, and approves files over ``max_run_amount``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pipeline.errors import UsageError
from pipeline.ledger import Ledger
from pipeline.ledger.desk import ROLES, UserRecord
from pipeline.state import Where

if TYPE_CHECKING:
    from argon2 import PasswordHasher

__all__ = ["MIN_PASSWORD", "add_user", "check_password", "hasher", "set_disabled", "user_list"]

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 10


def hasher() -> PasswordHasher:
    from argon2 import PasswordHasher
    return PasswordHasher()             # argon2id with the library's current recommended parameters


def check_password(user: UserRecord | None, password: str) -> bool:
    """Whether ``password`` is this user's; always hashes once, so that an unknown name takes as long."""
    from argon2.exceptions import InvalidHashError, VerificationError
    ph = hasher()
    if user is None:
        ph.hash(password)
        return False
    try:
        return ph.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def add_user(where: Where, name: str, role: str, password: str) -> None:
    if not NAME.match(name):
        raise UsageError(f"user name {name!r}: 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a "
                         "letter or digit")
    if role not in ROLES:
        raise UsageError(f"--role must be one of {', '.join(ROLES)}; got {role!r}")
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"the password must have at least {MIN_PASSWORD} characters")
    ledger = Ledger(where, "")
    try:
        if ledger.user(name) is not None:
            raise UsageError(f"there is a user {name!r} already (tango-batch users list)")
        ledger.add_user(name, role, hasher().hash(password))
    finally:
        ledger.close()


def set_disabled(where: Where, name: str, disabled: bool = True) -> None:
    ledger = Ledger(where, "")
    try:
        if not ledger.update_user(name, disabled=disabled):
            raise UsageError(f"no user {name!r} (tango-batch users list)")
    finally:
        ledger.close()


def user_list(where: Where) -> list[UserRecord]:
    ledger = Ledger.read_only(where, "")
    try:
        return ledger.users()
    finally:
        ledger.close()
