"""Logs for the engineer on call: one line per event, to stderr and to a file in the output folder.

Text or JSON (``--log-format json``, one object per line). Email addresses and phone numbers are
masked in every line, whoever wrote it; credentials are never logged, and any secret handed to
``setup`` is blotted out should it ever reach a message.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import sys
from pathlib import Path

from pipeline.masking import mask, shown, shown_lines

__all__ = ["FIELDS", "HTTP", "LOGGER", "mask", "setup"]

LOGGER = "tango_batch"
HTTP = f"{LOGGER}.http"          # each request's line: always in the log file; on the console with --verbose
# what a JSON line carries besides time, level, event and message, when the event has it
FIELDS = ("file", "sheet", "rows", "counts", "batch", "batches", "order", "lines", "amount", "status", "exit_code",
          "duration", "attempt", "method", "path", "request_id", "report", "failures")


class _Mask(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        for secret in self.secrets:         # before masking, which could alter a secret shaped like a phone
            text = text.replace(secret, "[secret]")
        record.msg, record.args = shown_lines(mask(text)), None
        for key in ("file", "sheet", "batch", "order", "status", "request_id", "report", "failures"):
            if isinstance(getattr(record, key, None), str):
                setattr(record, key, shown(mask(getattr(record, key))))
        return True


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "event": getattr(record, "event", record.name.rsplit(".", 1)[-1]),
                 "message": record.getMessage()}
        for key in FIELDS:
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _LogFile(logging.FileHandler):
    """The log file; should its disk fill up or fail, it says so once on stderr and stops, rather
    than print a traceback per line (the run goes on: the console still has every line)."""

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        with contextlib.suppress(OSError):      # the buffered lines go with the disk
            self.close()
        logging.getLogger(LOGGER).removeHandler(self)
        print(f"tango-batch: the log file {shown(str(self.baseFilename))} cannot be written "
              f"({error}); the log goes on on the console only", file=sys.stderr, flush=True)


def _console(verbose: bool) -> logging.Handler:
    """stderr: what people follow; each HTTP request's line only with ``verbose`` (the file has them all)."""
    handler = logging.StreamHandler(sys.stderr)
    if not verbose:
        handler.addFilter(lambda record: not record.name.startswith(HTTP))
    return handler


def setup(output: Path, fmt: str = "text", debug: bool = False, secrets: list[str] | None = None,
          verbose: bool = False) -> Path:
    """Send the pipeline's log lines to stderr and to OUTPUT/logs/tango-batch-DATE.log."""
    folder = output / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"tango-batch-{dt.date.today():%Y%m%d}.log"
    formatter = _Json() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    logger = logging.getLogger(LOGGER)
    logger.handlers.clear()
    logger.setLevel(logging.DEBUG if debug else logging.INFO)
    logger.propagate = False
    masking = _Mask(secrets or [])
    for handler in (_console(verbose or debug), _LogFile(path, encoding="utf-8")):
        handler.setFormatter(formatter)
        handler.addFilter(masking)
        logger.addHandler(handler)
    for noisy in ("httpx", "httpcore"):       # their lines would repeat ours, unmasked
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path
