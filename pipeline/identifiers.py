"""The Tango identifiers of a campaign file: its ``customerIdentifier``, its default
``accountIdentifier``, and the optional ``[accounts]`` table of the other accounts its rows may
order from, by the names HR types in the sheet's Account column::

    accountIdentifier = "acme-rewards"      # a row with no Account (or an empty cell) orders from it
    [accounts]
    "Marketing" = "acme-marketing"
    "Sales" = "acme-sales"

A name matches a cell ignoring case and spaces (``rules.accounts.account_key``), so two names that
differ only so, or a name spelled like another account's accountIdentifier (a cell may hold an
identifier too), would be ambiguous: such a file is refused. Each error is a ``UsageError`` naming
the key.
"""

from __future__ import annotations

import re
from typing import Any

from pipeline.errors import UsageError
from rules.accounts import AccountTable, account_key

__all__ = ["IDENTIFIER_RE", "accounts", "identifier"]

IDENTIFIER_RE = re.compile(r"^[-a-zA-Z0-9]{5,100}$")
SHAPE = "5 to 100 letters, digits or hyphens"


def identifier(path: str, data: dict[str, Any], key: str) -> str:
    """``customerIdentifier`` or ``accountIdentifier``: required, and shaped as Tango's are."""
    if key not in data:
        raise UsageError(f"{path}: '{key}' is missing; it names the Tango {key[:-10]} to order under")
    value = data[key]
    if not isinstance(value, str) or not IDENTIFIER_RE.match(value):
        raise UsageError(f"{path}: '{key}' must be {SHAPE}; got {value!r}")
    return value


def accounts(path: str, data: dict[str, Any], default: str) -> dict[str, str]:
    """``[accounts]``: name = accountIdentifier, each name once and none ambiguous."""
    table = data.get("accounts", {})
    if not isinstance(table, dict):
        raise UsageError(f"{path}: 'accounts' must be a table: [accounts] with lines such as "
                         '"Marketing" = "acme-marketing"')
    names: dict[str, str] = {}          # account_key -> the name as written
    for name, value in table.items():
        if not isinstance(value, str) or not IDENTIFIER_RE.match(value):
            raise UsageError(f"{path}: accounts.{name!r} must be a Tango accountIdentifier, {SHAPE}; got {value!r}")
        key = account_key(name)
        if not key:
            raise UsageError(f"{path}: accounts: the name {name!r} is empty; write the name HR types in the sheet")
        if key in names:
            raise UsageError(f"{path}: accounts: {names[key]!r} and {name!r} are the same name (case and spaces "
                             "are ignored); keep one")
        names[key] = name
    spelled: dict[str, str] = {}        # account_key -> the accountIdentifier
    for account in AccountTable(default, table).identifiers:
        key = account_key(account)
        if key in spelled:
            raise UsageError(f"{path}: accounts: the accountIdentifiers '{spelled[key]}' and '{account}' differ only "
                             "in case; a cell naming either would be ambiguous")
        spelled[key] = account
        if key in names and table[names[key]] != account:
            raise UsageError(f"{path}: accounts.{names[key]!r} is spelled like the accountIdentifier '{account}' of "
                             "another account, so a cell holding it would be ambiguous; rename it")
    return {str(k): str(v) for k, v in table.items()}
