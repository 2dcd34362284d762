"""Checkers of some of the campaign file's keys (see ``pipeline.config``): each takes the file's
name as shown and the parsed TOML, and returns the key's value or raises ``UsageError`` naming it."""

from __future__ import annotations

from typing import Any

from pipeline.errors import UsageError
from rules import RuleBook, header_key

__all__ = ["APPROVALS", "approval_keys", "columns", "date_order", "guard_window", "shipping_form"]


def guard_window(path: str, value: Any) -> str | int:
    if isinstance(value, str) and value in ("campaign", "off"):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise UsageError(f"{path}: 'recipient_guard' must be \"campaign\", \"off\" or a number of days; got {value!r}")


def columns(path: str, data: dict[str, Any], book: RuleBook) -> dict[str, str]:
    """``[columns]``: header text = field name, each header once (several headers may name one field:
    each sheet of a workbook may call it differently)."""
    columns = data.get("columns", {})
    if not isinstance(columns, dict):
        raise UsageError(f'{path}: \'columns\' must be a table: [columns] with lines such as "Work Email" = "email"')
    known = book.columns_known
    by_key: dict[str, str] = {}
    for header, name in columns.items():
        if not isinstance(name, str) or name not in known:
            raise UsageError(f"{path}: columns.{header!r} = {name!r}: not a field name; known: {', '.join(known)}")
        key = header_key(header)
        if not key:
            raise UsageError(f"{path}: columns: the header {header!r} has no letters or digits")
        if key in by_key:
            raise UsageError(f"{path}: columns: {by_key[key]!r} and {header!r} are the same header (case, spaces "
                             "and punctuation are ignored)")
        by_key[key] = header
    return {str(k): str(v) for k, v in columns.items()}


def date_order(path: str, data: dict[str, Any]) -> str | None:
    if "date_order" not in data:
        return None
    if data["date_order"] not in ("MDY", "DMY"):
        raise UsageError(f'{path}: \'date_order\' must be "MDY" (12/24/2026) or "DMY" (24/12/2026); '
                         f"got {data['date_order']!r}")
    return str(data["date_order"])


def shipping_form(path: str, data: dict[str, Any], book: RuleBook) -> str | None:
    if "bulk_shipping" not in data:
        return None
    value = data["bulk_shipping"]
    if value not in book.shipping_forms:
        known = " or ".join(f'"{f}"' for f in book.shipping_forms)
        raise UsageError(f"{path}: 'bulk_shipping' must be {known}; got {value!r}")
    return str(value)


APPROVALS = ("two-person", "single")


def approval_keys(path: str, data: dict[str, Any]) -> tuple[bool, str]:
    """``require_approval`` (the night sends only approved files) and ``approvals``: "two-person" (the
    default: nobody approves a file they uploaded) or "single" (a one-person team, said on every page)."""
    required = data.get("require_approval", False)
    if not isinstance(required, bool):
        raise UsageError(f"{path}: 'require_approval' must be true or false; got {required!r}")
    kind = data.get("approvals", "two-person")
    if kind not in APPROVALS:
        raise UsageError(f'{path}: \'approvals\' must be "two-person" (nobody approves a file they uploaded) or '
                         f'"single" (a one-person team); got {kind!r}')
    return required, str(kind)
