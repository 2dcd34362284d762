"""What the HR desk (the web page, ``tango-batch users``) keeps in the ledger: its users, each file's
history, and the decision on each file (approved or rejected, by whom, for what total).

A mixin of ``Ledger``. Users belong to the whole ledger; a file's history and decision, as every
other record, to the ledger's target. Every change is one transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pipeline.ledger.store import Row, Store

__all__ = ["ROLES", "Decision", "Desk", "FileEvent", "UserRecord"]

ROLES = ("uploader", "approver", "admin")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class UserRecord:
    name: str
    role: str
    password_hash: str
    disabled: bool
    created_at: str


@dataclass(frozen=True)
class FileEvent:
    at: str
    actor: str | None                       # a user's name, "nightly", or who ran the command line
    event: str                              # uploaded, checked, approved, rejected, waiting, sent, done...
    detail: dict[str, Any]


@dataclass(frozen=True)
class Decision:
    """A file's approval (or rejection): what was approved is its total and its number of lines."""
    sha256: str
    decision: str                           # "approved" or "rejected"
    by_user: str
    role: str
    at: str
    total: Decimal
    line_count: int
    reason: str | None
    over_limit: bool                        # approved by an admin over the campaign's max_run_amount


class Desk:
    db: Store
    target: str

    tx: Callable[[], AbstractContextManager[Store]]          # Ledger's: one state change

    # --- users --------------------------------------------------------------------------------
    def add_user(self, name: str, role: str, password_hash: str) -> None:
        with self.tx() as db:
            db.execute("INSERT INTO users (name, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                       (name, role, password_hash, _now(), _now()))

    def update_user(self, name: str, *, disabled: bool | None = None, password_hash: str | None = None,
                    role: str | None = None) -> bool:
        """Change a user; False when there is no such user."""
        with self.tx() as db:
            done = db.execute(
                "UPDATE users SET disabled = COALESCE(?, disabled), password_hash = COALESCE(?, password_hash),"
                " role = COALESCE(?, role), updated_at = ? WHERE name = ?",
                (None if disabled is None else int(disabled), password_hash, role, _now(), name))
            return done.rowcount == 1

    def user(self, name: str) -> UserRecord | None:
        r = self.db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        return _user(r) if r else None

    def users(self) -> list[UserRecord]:
        return [_user(r) for r in self.db.execute("SELECT * FROM users ORDER BY name")]

    # --- a file's history ---------------------------------------------------------------------
    def file_event(self, sha256: str, event: str, actor: str | None, detail: dict[str, Any] | None = None) -> None:
        with self.tx() as db:
            db.execute("INSERT INTO file_events (target, sha256, at, actor, event, detail) VALUES (?, ?, ?, ?, ?, ?)",
                       (self.target, sha256, _now(), actor, event, json.dumps(detail or {}, default=str)))

    def file_events(self, sha256: str) -> list[FileEvent]:
        return [FileEvent(r["at"], r["actor"], r["event"], json.loads(r["detail"] or "{}")) for r in self.db.execute(
            "SELECT at, actor, event, detail FROM file_events WHERE target = ? AND sha256 = ? ORDER BY id",
            (self.target, sha256))]

    def files_with_events(self, event: str) -> list[str]:
        """The files (sha256) with at least one event of this kind, the latest first."""
        return [r[0] for r in self.db.execute(
            "SELECT sha256 FROM file_events WHERE target = ? AND event = ? GROUP BY sha256 ORDER BY MAX(id) DESC",
            (self.target, event))]

    # --- decisions ----------------------------------------------------------------------------
    def decide(self, decision: Decision, replacing: Decision | None = None) -> bool:
        """Record a file's approval or rejection, and the event that says so, in one transaction: the
        file's first decision, or one that replaces ``replacing`` (a file the night held). False, and
        nothing recorded, when another decision came first (two approvers at once: the first wins)."""
        d = decision
        values = (d.decision, d.by_user, d.role, d.at, str(d.total), d.line_count, d.reason, int(d.over_limit))
        with self.tx() as db:
            if replacing is None:
                done = db.execute(
                    "INSERT INTO approvals (decision, by_user, role, at, total, line_count, reason, over_limit,"
                    " target, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (*values, self.target, d.sha256))
            else:
                done = db.execute(
                    "UPDATE approvals SET decision = ?, by_user = ?, role = ?, at = ?, total = ?, line_count = ?,"
                    " reason = ?, over_limit = ? WHERE target = ? AND sha256 = ? AND at = ?",
                    (*values, self.target, d.sha256, replacing.at))
            if done.rowcount != 1:
                return False
            db.execute("INSERT INTO file_events (target, sha256, at, actor, event, detail) VALUES (?, ?, ?, ?, ?, ?)",
                       (self.target, d.sha256, d.at, d.by_user, d.decision, json.dumps(
                           {"total": str(d.total), "lines": d.line_count, "reason": d.reason,
                            "over_limit": d.over_limit})))
        return True

    def decision(self, sha256: str) -> Decision | None:
        r = self.db.execute("SELECT * FROM approvals WHERE target = ? AND sha256 = ?", (self.target, sha256)).fetchone()
        return _decision(r) if r else None

    def decisions(self) -> Iterator[Decision]:
        for r in self.db.execute("SELECT * FROM approvals WHERE target = ? ORDER BY at", (self.target,)):
            yield _decision(r)


def _user(r: Row) -> UserRecord:
    return UserRecord(r["name"], r["role"], r["password_hash"], bool(r["disabled"]), r["created_at"])


def _decision(r: Row) -> Decision:
    return Decision(r["sha256"], r["decision"], r["by_user"], r["role"], r["at"], Decimal(r["total"]),
                    int(r["line_count"]), r["reason"], bool(r["over_limit"]))
