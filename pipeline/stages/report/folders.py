"""Report folders: one per file and run, named after the file and the time the run began."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

__all__ = ["new_folder"]


def new_folder(output: Path, source: Path, started: dt.datetime) -> Path:
    base = output / f"{source.stem}-{started:%Y%m%d-%H%M%S}"
    folder, n = base, 1
    while folder.exists():
        n += 1
        folder = base.with_name(f"{base.name}-{n}")
    folder.mkdir(parents=True)
    return folder
