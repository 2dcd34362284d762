"""Progress for people: a bar on a terminal for long files, plain lines otherwise (cron, CI)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from pipeline.masking import mask, shown_lines

__all__ = ["Progress", "level_of"]

BAR_THRESHOLD = 20_000   # rows; shorter files finish before a bar would help
# a line's level, from how it begins, where its caller did not give one
_LEVELS = (("internal error", logging.ERROR), ("error:", logging.ERROR), ("tango-batch: error", logging.ERROR),
           ("warning:", logging.WARNING), ("tango-batch:", logging.WARNING), ("not confirmed", logging.WARNING))


def level_of(text: str) -> int:
    stripped = text.strip()
    return next((level for start, level in _LEVELS if stripped.startswith(start)), logging.INFO)


class Progress:
    """Plain lines (or a bar); with ``log``, every line is a log event instead (run, nightly)."""

    def __init__(self, stream: TextIO | None = None, bar: bool | None = None,
                 log: logging.Logger | None = None) -> None:
        self.stream = stream or sys.stderr
        self.bar = self.stream.isatty() if bar is None else bar
        self.log = log

    def say(self, text: str, level: int | None = None, **fields: object) -> None:
        """A line for people: e-mails and phones masked, every character printable (see ``pipeline.masking``);
        in a log, at its level (an error, a warning, else information) and with ``fields`` for JSON lines."""
        if self.log is not None:
            self.log.log(level or level_of(text), text.strip(), extra=fields)   # the log's filter masks it
        else:
            print(shown_lines(mask(text)), file=self.stream, flush=True)

    @contextmanager
    def rows(self, label: str, total: int) -> Iterator[Callable[[int], None]]:
        """A callback to report rows done; a bar when on a terminal and the file is long."""
        if self.bar and total >= BAR_THRESHOLD and self.log is None:
            from tqdm import tqdm  # only a long file on a terminal needs it
            with tqdm(total=total, desc=label, unit="row", file=self.stream, leave=False) as bar:
                yield bar.update
        else:
            if self.log is None:
                self.say(f"  {label} ({total} rows)")
            yield lambda n: None
