"""Progress for people: a bar on a terminal for long files, plain lines otherwise (cron, CI)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import contextmanager
from typing import Iterator, TextIO

from tqdm import tqdm

__all__ = ["Progress"]

BAR_THRESHOLD = 20_000   # rows; shorter files finish before a bar would help


class Progress:
    def __init__(self, stream: TextIO | None = None, bar: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.bar = self.stream.isatty() if bar is None else bar

    def say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    @contextmanager
    def rows(self, label: str, total: int) -> Iterator[Callable[[int], None]]:
        """A callback to report rows done; a bar when on a terminal and the file is long."""
        if self.bar and total >= BAR_THRESHOLD:
            with tqdm(total=total, desc=label, unit="row", file=self.stream, leave=False) as bar:
                yield bar.update
        else:
            self.say(f"  {label} ({total} rows)")
            yield lambda n: None
