"""The Account column: which of a campaign's Tango accounts a row orders from.

A campaign file's ``[accounts]`` table maps the names HR types in the sheet (cost centres:
"Marketing", "Sales") to Tango ``accountIdentifier``s. A row's Account cell names one of them:

- a blank cell, or no Account column, orders from the campaign's default ``accountIdentifier``;
- a name matches ignoring case and the spaces around and between its words ("marketing " and
  "Marketing" are one name): ``account_key``; a campaign file whose names collide so is refused;
- a cell may also hold one of the campaign's own accountIdentifiers (the default one, or a value
  of the table), matched the same way; never an account the campaign file does not list;
- anything else, and any non-blank cell when the campaign file has no ``[accounts]`` table, makes
  the row INVALID, with a message that names the cell's value and the names it may hold.

The account never enters a line-item ID (see ``pipeline.stages.plan``): a row whose Account cell
is corrected after it was ordered is the same reward, and is not ordered again.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["ACCOUNT", "AccountTable", "account_key"]

ACCOUNT = "account"         # the Account column's field name (not a line-item field: it picks the order)
MAX_NAMES_SHOWN = 12        # a message lists at most this many names, then says how many more


def account_key(text: str) -> str:
    """How an Account cell and a name of ``[accounts]`` are compared: case and spaces ignored."""
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class AccountTable:
    """A campaign's accounts, as a sheet's Account cells may name them."""
    default: str                                            # the campaign's accountIdentifier
    names: Mapping[str, str] = field(default_factory=dict)  # [accounts]: name -> accountIdentifier

    @property
    def identifiers(self) -> tuple[str, ...]:
        """Every accountIdentifier the campaign may order from, once each, sorted."""
        return tuple(sorted({self.default, *self.names.values()}))

    @functools.cached_property
    def lookup(self) -> dict[str, str]:
        """account_key(cell) -> accountIdentifier: the names, then the identifiers themselves.
        Empty without an ``[accounts]`` table: then no cell names an account."""
        if not self.names:
            return {}
        found = {account_key(name): identifier for name, identifier in self.names.items()}
        for identifier in self.identifiers:
            found.setdefault(account_key(identifier), identifier)
        return found

    def names_of(self, identifier: str) -> tuple[str, ...]:
        """The names of ``[accounts]`` that map to ``identifier``, as the campaign file writes them."""
        return tuple(name for name, value in self.names.items() if value == identifier)

    def resolve(self, cell: str | None) -> str | None:
        """The accountIdentifier a non-blank cell names; None when it names none of the campaign's."""
        return self.lookup.get(account_key(cell or ""))

    def refusal(self, label: str, cell: str) -> str:
        """Why a cell names no account of the campaign, and what to do, in words for HR."""
        from rules.wording import quote
        shown = quote(" ".join(cell.split()))
        if not self.names:
            return (f"{label} {shown} names an account, but the campaign file has no [accounts] table. Empty the "
                    f"cell to order from the campaign's account '{self.default}', or add the name under [accounts] "
                    f"in the campaign file with its Tango accountIdentifier.")
        names = list(self.names)
        listed = ", ".join(names[:MAX_NAMES_SHOWN])
        if len(names) > MAX_NAMES_SHOWN:
            listed += f" and {len(names) - MAX_NAMES_SHOWN} more (see [accounts] in the campaign file)"
        return (f"{label} {shown} is not an account of this campaign. Known names: {listed}. Fix the cell, or "
                f"add the name under [accounts] in the campaign file (an empty cell orders from the campaign's "
                f"account '{self.default}').")
