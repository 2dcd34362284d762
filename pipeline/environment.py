"""What the machine, not the sheet, got wrong while writing: a read-only or full disk, a file where
a folder should be. Such a failure stops the run with exit 3 and a message naming the path and
what to do; it is never an "internal error" (exit 70 is for bugs).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from pipeline.errors import Unwritable
from pipeline.masking import shown

__all__ = ["ENVIRONMENT", "os_error_in", "unwritable", "why"]

# errno values that say the machine is at fault, not the program
ENVIRONMENT = {errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EISDIR,
               errno.EEXIST, errno.EIO, errno.ENAMETOOLONG, errno.EFBIG, errno.EMFILE, errno.ENFILE, errno.ENOENT,
               errno.ELOOP, errno.EBUSY, errno.ETXTBSY}


def os_error_in(exc: BaseException) -> OSError | None:
    """The OSError of the machine's making behind ``exc`` (a library may wrap it), if any."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in ENVIRONMENT:
            return current
        todo += [current.__cause__, current.__context__, *(a for a in current.args if isinstance(a, BaseException))]
    return None


def why(exc: OSError) -> str:
    """What a person understands of an OSError."""
    return {errno.EROFS: "the file system is read-only", errno.ENOSPC: "the disk is full",
            errno.EDQUOT: "the disk quota is used up", errno.EACCES: "permission denied",
            errno.EPERM: "permission denied", errno.ENOTDIR: "a part of the path is a file, not a folder",
            errno.EISDIR: "it is a folder", errno.ENOENT: "a folder of the path does not exist",
            errno.EEXIST: "something else is already there",
            errno.EIO: "the disk reported an input/output error"}.get(exc.errno or 0, exc.strerror or str(exc))


def unwritable(exc: OSError, folder: Path | None = None) -> Unwritable:
    """The failure to write, said with the path (the file's, else ``folder``, the output folder)."""
    path = exc.filename if isinstance(exc.filename, str) else folder
    where = f"in {shown(os.path.abspath(path))}" if path is not None else "in the output folder"
    return Unwritable(f"the run stopped; nothing already recorded was lost: cannot write {where} ({why(exc)}). "
                      "Make room on that disk, or choose another output folder (--output), then run the same "
                      "command again")
