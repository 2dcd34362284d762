"""An upload taken in: the request body read as it streams, refused (413) as soon as it passes the
size limit, the file copied into a job folder of its own under a name the server makes (its hash
computed on the way), and checked by its content (``sniff``). The name the person's file had is kept
only as text for the history (``original_name``): it never reaches the file system."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from starlette.datastructures import FormData
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.types import Message

from pipeline.masking import shown
from pipeline.web.guard import Refused
from pipeline.web.sniff import ACCEPTED, problem

__all__ = ["SLACK", "Staged", "TooLarge", "original_name", "read_form", "server_name", "stage"]

SLACK = 64 * 1024       # bytes of a multipart body that are not the file (its boundaries, the token field)
CHUNK = 1 << 20


class TooLarge(Exception):
    """The upload passed the size limit: nothing of it is kept."""


@dataclass(frozen=True)
class Staged:
    path: Path
    sha256: str
    size: int
    suffix: str


def original_name(filename: str | None) -> str:
    """The name the person's file had, as text for the history: its last part only, printable."""
    base = re.split(r"[\\/]", filename or "")[-1].replace("\x00", "")
    return shown(base)[:200] or "(no name)"


def suffix_of(filename: str | None) -> str:
    base = re.split(r"[\\/]", filename or "")[-1].replace("\x00", "").strip()
    return "." + base.rsplit(".", 1)[1].lower() if "." in base else ""


def server_name(sha256: str, suffix: str, now: dt.datetime | None = None) -> str:
    """The only name an upload has on disk: ``upload-YYYYmmdd-HHMMSS-<sha12>.<ext>``."""
    assert suffix in ACCEPTED
    return f"upload-{(now or dt.datetime.now()):%Y%m%d-%H%M%S}-{sha256[:12]}{suffix}"


async def read_form(request: Request, limit: int) -> FormData:
    """The multipart form, read as it streams: past ``limit`` bytes (and the form's own few), TooLarge."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + SLACK:
        raise TooLarge
    seen = 0
    upstream = request.receive

    async def receive() -> Message:
        nonlocal seen
        message = await upstream()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit + SLACK:
                raise TooLarge
        return message

    try:
        return await Request(request.scope, receive).form(max_files=1, max_fields=5, max_part_size=64 * 1024)
    except MultiPartException as exc:
        raise Refused(400, f"The upload could not be read ({exc.message}): choose the file again.",
                      "Upload refused") from None


def _copy(source: IO[bytes], target: Path, limit: int) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while block := source.read(CHUNK):
            size += len(block)
            if size > limit:
                raise TooLarge
            digest.update(block)
            out.write(block)
    return digest.hexdigest(), size


def stage(source: IO[bytes], filename: str | None, folder: Path, limit: int) -> Staged:
    """Copy the uploaded file into ``folder`` (made here, removed again when it is refused) under the
    server's name; refuse it (413, 415) when it is too large or its content is not what its name says."""
    suffix = suffix_of(filename)
    if suffix not in ACCEPTED:
        raise Refused(415, problem(Path(os.devnull), suffix) or "", "Upload refused")
    folder.mkdir(parents=True, mode=0o700)
    try:
        part = folder / "upload.part"
        sha256, size = _copy(source, part, limit)
        why = problem(part, suffix)
        if why is not None:
            raise Refused(415, f"Not kept: {why}.", "Upload refused")
        path = folder / server_name(sha256, suffix)
        part.rename(path)
        return Staged(path, sha256, size, suffix)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
