"""Reading a file a person named: only a regular file, and only up to a size, so that a named pipe,
a device or a huge file can neither block nor exhaust the machine. Standard library only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["NotRegular", "TooLarge", "regular_bytes"]


class NotRegular(OSError):
    """The path is a folder, a named pipe, a device or a socket: ``kind`` says which."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"this is {kind}, not a file")
        self.kind = kind


class TooLarge(OSError):
    def __init__(self, size: int) -> None:
        super().__init__(f"the file is {size:,} bytes")
        self.size = size


def regular_bytes(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at ``path``; ``TooLarge`` beyond ``limit`` bytes, ``NotRegular``
    for anything else; the OSError of opening it otherwise."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)   # a named pipe must not block the open
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise NotRegular(kind(info.st_mode))
    with os.fdopen(fd, "rb") as fh:
        if info.st_size > limit:
            raise TooLarge(info.st_size)
        os.set_blocking(fd, True)
        content = fh.read(limit + 1)
    if len(content) > limit:        # it grew while read
        raise TooLarge(len(content))
    return content


def kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"
