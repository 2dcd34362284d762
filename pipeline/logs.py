"""Logs for the engineer on call: one line per event, to stderr and to a file in the output folder.

Text or JSON (``--log-format json``, one object per line). Email addresses and phone numbers are
masked in every line, whoever wrote it; credentials are never logged, and any secret handed to
``setup`` is blotted out should it ever reach a message.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from pathlib import Path

__all__ = ["LOGGER", "mask", "setup"]

LOGGER = "tango_batch"
EMAIL = re.compile(r"(?<![\w.+-])([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
# E.164, or the North-American shapes people write; not digits inside paths, dates, times or IDs
PHONE = re.compile(r"(?<![\w+/.:-])(?:\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){2,5}|\+\d{8,15}"
                   r"|\+?1?[ .-]?\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4})(?![\w/:-])")


def mask(text: str) -> str:
    """'jane.doe@example.com' -> 'j***@example.com'; '+14155552671' -> '+*********71'."""
    text = EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return PHONE.sub(_mask_phone, text)


def _mask_phone(match: re.Match[str]) -> str:
    number = match.group()
    if sum(ch.isdigit() for ch in number) < 8:      # too short to be a phone number: an amount
        return number
    return re.sub(r"\d", "*", number[:-2]) + number[-2:]


class _Mask(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        for secret in self.secrets:         # before masking, which could alter a secret shaped like a phone
            text = text.replace(secret, "[secret]")
        record.msg, record.args = mask(text), None
        return True


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "event": getattr(record, "event", record.name.rsplit(".", 1)[-1]),
                 "message": record.getMessage()}
        for key in ("file", "batch", "status", "attempt", "request_id"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        return json.dumps(entry, ensure_ascii=False)


def setup(output: Path, fmt: str = "text", debug: bool = False, secrets: list[str] | None = None) -> Path:
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
    for handler in (logging.StreamHandler(sys.stderr), logging.FileHandler(path, encoding="utf-8")):
        handler.setFormatter(formatter)
        handler.addFilter(masking)
        logger.addHandler(handler)
    for noisy in ("httpx", "httpcore"):       # their lines would repeat ours, unmasked
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path
