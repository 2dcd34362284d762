"""Report folders: one per file and run, named after the file and the time the run began."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipeline.masking import mask

__all__ = ["new_folder"]


def new_folder(output: Path, source: Path, started: dt.datetime) -> Path:
    """A new folder in ``output``, named after the file: e-mails and phone numbers in its name masked
    (the folder's name reaches the console and summary.json), and what could not be shown (bytes that
    are not UTF-8, control characters) or a folder name cannot hold replaced by '_'."""
    stem = "".join(ch if ch.isprintable() and ch not in '/\\:*?"<>|' else "_" for ch in mask(source.stem))
    base = output / f"{stem.strip(' .') or 'file'}-{started:%Y%m%d-%H%M%S}"
    folder, n = base, 1
    while folder.exists():
        n += 1
        folder = base.with_name(f"{base.name}-{n}")
    folder.mkdir(parents=True)
    return folder
