"""A file's story as the desk tells it, read from the ledger: its history (``file_events``), its
upload and latest check, its decision, its record once a run took it, and its rows: the rows of its
last run with their line items' statuses now, or, never run yet, the check's verdict."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pipeline.ledger import FileRecord, Ledger
from pipeline.ledger.desk import Decision, FileEvent
from pipeline.model import TO_FIX, FileState
from pipeline.web.worker import HEAD, TO_FIX_HEAD, VERDICT

__all__ = ["SHA256", "FileView", "file_view", "recent_files", "rows_of", "waiting_files"]

SHA256 = re.compile(r"^[0-9a-f]{64}$")
FIX = {s.value for s in TO_FIX}


@dataclass(frozen=True)
class FileView:
    sha256: str
    events: list[FileEvent]
    decision: Decision | None
    record: FileRecord | None

    def _last(self, kind: str) -> FileEvent | None:
        return next((e for e in reversed(self.events) if e.event == kind), None)

    @property
    def uploaded(self) -> FileEvent | None:
        return next((e for e in self.events if e.event == "uploaded"), None)

    @property
    def checked(self) -> FileEvent | None:
        return self._last("checked")

    @property
    def uploader(self) -> str | None:
        return self.uploaded.actor if self.uploaded else None

    @property
    def name(self) -> str:
        if self.uploaded and self.uploaded.detail.get("name"):
            return str(self.uploaded.detail["name"])
        return self.record.name if self.record else f"file {self.sha256[:12]}"

    @property
    def check(self) -> dict[str, Any]:
        """The latest check's detail: counts, total and lines to send, its reports ({} before any)."""
        return self.checked.detail if self.checked else {}

    @property
    def held(self) -> FileEvent | None:
        """The night's hold, when it is the file's latest word: tonight it would have sent more than was
        approved, so it waits for a decision on what it would send now (that event's lines and total)."""
        last = next((e for e in reversed(self.events) if e.event in ("held", "approved", "rejected", "sent")), None)
        return last if last is not None and last.event == "held" and "lines" in last.detail else None

    @property
    def total(self) -> Decimal:
        """The total to decide on: the check's, or, held by the night, what the night would send now."""
        return Decimal(str((self.held.detail if self.held else self.check).get("total", "0")))

    @property
    def lines(self) -> int:
        return int((self.held.detail if self.held else self.check).get("lines", 0))

    @property
    def sent(self) -> bool:
        return any(e.event == "sent" for e in self.events)

    @property
    def done(self) -> bool:
        return any(e.event == "done" for e in self.events) or (
            self.record is not None and self.record.state == FileState.DONE)

    @property
    def checkable(self) -> bool:
        """Checked without an error: there is a verdict to decide on."""
        return bool(self.check) and "error" not in self.check

    @property
    def waiting(self) -> bool:
        """Checked, nobody decided yet, nothing sent; or held by the night, to be decided again."""
        return self.checkable and ((self.decision is None and not self.sent) or self.held is not None)

    def report(self, which: str) -> Path | None:
        """report.xlsx or failures.xlsx: the latest run's (the report folder the ledger names), else
        the check's. Only paths the pipeline recorded, and only those two names."""
        assert which in ("report", "failures")
        folders = [self.record.report_folder if self.record else None, self.check.get("folder")]
        for folder in filter(None, folders):
            path = Path(str(folder)) / f"{which}.xlsx"
            if path.is_file():
                return path
        return None

    def verdict(self, name: str = VERDICT) -> list[list[Any]]:
        """The check's rows (``verdict.json``), or another of its files of rows; [] when there is none."""
        folder = self.check.get("folder")
        if not folder:
            return []
        try:
            rows: list[list[Any]] = json.loads((Path(str(folder)) / name).read_text(encoding="utf-8"))["rows"]
        except (OSError, ValueError, KeyError):
            return []
        return rows

    def to_fix(self, limit: int | None = None) -> list[list[Any]]:
        """The check's rows to fix: the first ``limit`` of them from their own small file (a check made
        before there was one: from every row)."""
        if limit is not None and limit <= HEAD:
            folder = self.check.get("folder")
            if folder and (Path(str(folder)) / TO_FIX_HEAD).is_file():
                return self.verdict(TO_FIX_HEAD)[:limit]
        rows = [r for r in self.verdict() if r[2] in FIX]
        return rows if limit is None else rows[:limit]


def file_view(ledger: Ledger, sha256: str) -> FileView | None:
    if not SHA256.match(sha256):
        return None
    events, record = ledger.file_events(sha256), ledger.file(sha256)
    if not events and record is None:
        return None
    return FileView(sha256, events, ledger.decision(sha256), record)


def rows_of(ledger: Ledger, view: FileView) -> tuple[str, list[dict[str, Any]]]:
    """Where the rows come from ("run N" or "check"), and each row: sheet, row, status, now, message."""
    if view.record is not None:
        rows = ledger.last_rows(view.sha256, view.record.last_run)
        items = ledger.lines(r.line_item_id for r in rows.values() if r.line_item_id)
        out = []
        for (sheet, number), r in sorted(rows.items()):
            item = items.get(r.line_item_id or "")
            now = item.status.value if item is not None and item.status != r.status else ""
            out.append({"sheet": sheet, "row": number, "status": r.status.value, "now": now,
                        "message": (r.message or "")[:600]})
        return f"run {view.record.last_run}", out
    return "check", [{"sheet": s, "row": n, "status": st, "now": "", "message": m} for s, n, st, m in view.verdict()]


def recent_files(ledger: Ledger, limit: int = 20) -> list[FileView]:
    views = (file_view(ledger, sha) for sha in ledger.files_with_events("uploaded")[:limit])
    return [v for v in views if v is not None]


def waiting_files(ledger: Ledger, limit: int = 200) -> tuple[list[FileView], list[FileView]]:
    """Files checked and not decided yet (nothing sent); and files approved, not sent yet."""
    views = [v for v in (file_view(ledger, sha) for sha in ledger.files_with_events("checked")[:limit]) if v]
    undecided = [v for v in views if v.waiting]
    approved = [v for v in views if v.decision is not None and v.decision.decision == "approved" and not v.sent
                and not v.done]
    return undecided, approved

