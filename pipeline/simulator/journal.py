"""The simulator's state file: a snapshot, then the changes made since, one JSON line each.

    {"version":2,"orders":{...},"accounts":{...},"lineItemCounts":{...}}      line 1: the snapshot
    {"kind":"order","order":{...},"account":"acme-rewards","balance":99875.0}   one line per change
    {"kind":"account","account":"acme-rewards","value":{...}}

A change is appended, and flushed to the operating system, before the simulator answers the
request that made it: killing the process loses nothing it has answered, and each change writes
only itself. When the changes outgrow the snapshot (and ``COMPACT_AT``), the file is written anew
as one snapshot, through a temporary file renamed over it (atomic), so the work of rewriting stays
in proportion to what was appended. A last line without its newline is a change cut short by a
kill, so never answered: it is ignored on loading, and cut off before the next change is appended.

A state file of version 1 (one JSON document, rewritten whole after every change) loads as a
snapshot with nothing after it; the first change writes it anew as version 2.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = ["COMPACT_AT", "STATE_VERSION", "Loaded", "StateFile"]

STATE_VERSION = 2
READABLE_VERSIONS = (1, 2)
COMPACT_AT = 64 << 20       # bytes of changes below which the file is never rewritten (a change is rarely undone)


@dataclass
class Loaded:
    """What a state file holds: its snapshot and the changes after it, in order."""

    snapshot: dict[str, Any]
    changes: list[dict[str, Any]] = field(default_factory=list)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


class StateFile:
    """Reads a state file, appends changes to it and compacts it; one writer at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._out: IO[bytes] | None = None
        self._snapshot_bytes = 0
        self._change_bytes = 0
        self._whole = False          # the file is version 2, each line ends with its newline but maybe the last

    # ------------------------------------------------------------ reading

    def load(self) -> Loaded | None:
        """The file's snapshot and changes; None when there is no file yet."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        end = raw.find(b"\n")
        head = raw if end < 0 else raw[:end]
        try:
            snapshot = json.loads(head)
        except (UnicodeDecodeError, json.JSONDecodeError):
            snapshot = self._legacy(raw)            # version 1 as a person may have indented it
            end = -1
        if not isinstance(snapshot, dict) or not {"orders", "accounts", "lineItemCounts"} <= snapshot.keys():
            raise ValueError(f"{self.path}: not a simulator state file (give another --state, or move it aside)")
        if snapshot.get("version") not in READABLE_VERSIONS:
            raise ValueError(f"{self.path}: unknown simulator state version {snapshot.get('version')!r} "
                             f"(this simulator reads versions {', '.join(map(str, READABLE_VERSIONS))})")
        loaded = Loaded(snapshot)
        self._whole = end >= 0 and snapshot["version"] == STATE_VERSION
        self._snapshot_bytes = len(raw) if end < 0 else end + 1
        if end < 0:
            return loaded
        body = raw[end + 1:]
        lines = body.split(b"\n")
        # the part after the last newline is empty, or a change cut short: never answered, so not kept
        for number, line in enumerate(lines[:-1], start=2):
            try:
                change = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError):
                change = None
            if not isinstance(change, dict) or change.get("kind") not in ("order", "account"):
                raise ValueError(f"{self.path}: line {number} is damaged (not a change the simulator wrote); "
                                 "the lines before it are intact: keep a copy, then cut the file there")
            loaded.changes.append(change)
        self._change_bytes = len(body) - len(lines[-1])
        return loaded

    def _legacy(self, raw: bytes) -> Any:
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError(f"{self.path}: not a simulator state file (not JSON; give another --state, or "
                             "move it aside)") from None

    # ------------------------------------------------------------ writing

    def append(self, change: dict[str, Any], state: Callable[[], dict[str, Any]]) -> None:
        """Append one change, flushed before this returns. ``state``: the whole state as it is before
        the change, written as the snapshot when the file is new or still of version 1."""
        if self._out is None:
            self._open(state)
        assert self._out is not None
        data = _dumps(change) + b"\n"
        try:
            self._out.write(data)
            self._out.flush()
        except BaseException:
            # maybe written in part: the next append cuts it off first
            self.close()
            raise
        self._change_bytes += len(data)

    def due(self) -> bool:
        """Whether the changes have outgrown the snapshot, and a compaction would pay for itself."""
        return self._change_bytes > max(self._snapshot_bytes, COMPACT_AT)

    def pending(self) -> bool:
        """Whether the file holds changes after its snapshot."""
        return self._change_bytes > 0

    def compact(self, state: dict[str, Any]) -> None:
        """Write ``state`` as the file's one snapshot (temporary file, then an atomic rename)."""
        self.close()
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        data = _dumps(state) + b"\n"
        handle, temp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        self._snapshot_bytes, self._change_bytes, self._whole = len(data), 0, True

    def close(self) -> None:
        if self._out is not None:
            out, self._out = self._out, None
            with contextlib.suppress(OSError):
                out.close()

    def _open(self, state: Callable[[], dict[str, Any]]) -> None:
        if not self._whole or not self.path.exists():
            self.compact(state())
        else:
            _cut_torn_tail(self.path)
        self._out = open(self.path, "ab")  # noqa: SIM115 - kept open across changes, closed by close()


def _cut_torn_tail(path: Path, chunk: int = 1 << 16) -> None:
    """Cut the file after its last newline (a version 2 file always has one, ending its snapshot)."""
    with open(path, "r+b") as fh:
        size = fh.seek(0, os.SEEK_END)
        end = size
        while end > 0:
            start = max(0, end - chunk)
            fh.seek(start)
            block = fh.read(end - start)
            at = block.rfind(b"\n")
            if at >= 0:
                keep = start + at + 1
                if keep < size:
                    fh.truncate(keep)
                return
            end = start
        raise ValueError(f"{path}: no complete line (not a simulator state file)")
