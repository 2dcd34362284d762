"""Signing in and out, the upload page, a check's progress, and the template download."""

from __future__ import annotations

import secrets
import shutil
import time
from pathlib import Path
from threading import Lock
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from pipeline.jobs.users import check_password
from pipeline.ledger.desk import UserRecord
from pipeline.web.guard import Refused, check_csrf, fingerprint, safe_next, who
from pipeline.web.records import file_view, recent_files
from pipeline.web.runtime import Desk, desk_of
from pipeline.web.settings import MB
from pipeline.web.sniff import ACCEPTED
from pipeline.web.uploads import TooLarge, original_name, read_form, stage
from pipeline.web.worker import CheckJob

__all__ = ["router"]

router = APIRouter()
SIGN_IN_FAILED = "That name and password do not match an active user."
TEMPLATE_LOCK = Lock()


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/upload", status_code=303)


@router.get("/signin")
def sign_in_page(request: Request, next: str | None = None) -> Response:
    return desk_of(request).page(request, "signin.html", next=safe_next(next), error=None)


@router.post("/signin")
def sign_in(request: Request, name: Annotated[str, Form(max_length=200)] = "",
            password: Annotated[str, Form(max_length=1024)] = "", csrf_token: Annotated[str, Form()] = "",
            next: Annotated[str, Form()] = "") -> Response:
    desk = desk_of(request)
    check_csrf(request, csrf_token)
    address = request.client.host if request.client else "?"
    keys = (f"name:{name.strip().casefold()}", f"address:{address}")
    wait = desk.throttle.wait(*keys)
    if wait > 0:
        return desk.page(request, "signin.html", 429, next=safe_next(next),
                         error=f"Too many failed sign-ins: wait {int(wait) + 1} seconds, then try again.")
    with desk.ledger() as ledger:
        user = ledger.user(name.strip())
    if not check_password(user, password) or user is None or user.disabled:
        desk.throttle.failed(*keys)
        return desk.page(request, "signin.html", 401, next=safe_next(next), error=SIGN_IN_FAILED)
    desk.throttle.succeeded(*keys)
    request.session.clear()                 # a new session: nothing of the one before sign-in is kept
    now = time.time()
    request.session.update(user=user.name, born=now, seen=now, pw=fingerprint(user),
                           csrf=secrets.token_urlsafe(32))
    request.state.user = user.name
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/signout")
def sign_out(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
    if not request.session.get("user"):
        return RedirectResponse("/signin", status_code=303)
    check_csrf(request, csrf_token)
    request.session.clear()
    return RedirectResponse("/signin", status_code=303)


@router.get("/upload")
def upload_page(request: Request) -> Response:
    desk = desk_of(request)
    with desk.ledger() as ledger:
        user = who(request, ledger, desk.settings)
        recent = recent_files(ledger)
    return desk.page(request, "upload.html", user=user, recent=recent, accepted=", ".join(ACCEPTED),
                     max_mb=desk.settings.max_upload_bytes // MB)


def _too_large(desk: Desk) -> Refused:
    return Refused(413, f"The file is larger than {desk.settings.max_upload_bytes // MB} MB: nothing of it was kept. "
                   "Split it into smaller files, or save it as .xlsx, which is compressed.", "File too large")


@router.post("/upload")
async def upload(request: Request) -> Response:
    desk = desk_of(request)
    user = await run_in_threadpool(desk.user, request)
    limit = desk.settings.max_upload_bytes
    try:
        form = await read_form(request, limit)
    except TooLarge:
        raise _too_large(desk) from None
    try:
        check_csrf(request, form.get("csrf_token") or request.headers.get("x-csrf-token"))
        file = form.get("file")
        if not isinstance(file, UploadFile) or not file.filename:
            raise Refused(400, "Choose a file to upload.", "No file")
        job = secrets.token_urlsafe(18)
        try:
            staged = await run_in_threadpool(stage, file.file, file.filename, desk.settings.jobs / job, limit)
        except TooLarge:
            raise _too_large(desk) from None
        return await run_in_threadpool(_accept, request, desk, user.name, job, staged, original_name(file.filename))
    finally:
        await form.close()


def _accept(request: Request, desk: Desk, user: str, job: str, staged: object, name: str) -> Response:
    """A new file: its "uploaded" event, and its check handed to a worker. The same content again:
    the same file, said so, and nothing checked or kept twice."""
    from pipeline.web.uploads import Staged
    assert isinstance(staged, Staged)
    settings = desk.settings
    with desk.ledger() as ledger:
        known = file_view(ledger, staged.sha256)
        if known is not None:
            shutil.rmtree(staged.path.parent, ignore_errors=True)
            when = known.uploaded.at[:16].replace("T", " ") if known.uploaded else "earlier"
            by = f" by {known.uploader}" if known.uploader else ""
            request.session["flash"] = (f"The same file (the same content) was uploaded before{by} ({when} UTC) as "
                                        f"'{known.name}': it is that file, shown here; nothing was added.")
            return RedirectResponse(f"/files/{staged.sha256}", status_code=303)
        ledger.file_event(staged.sha256, "uploaded", user, {"name": name, "size": staged.size,
                                                             "stored_as": staged.path.name})
    desk.checker.submit(CheckJob(job, staged.path.parent, staged.path, staged.sha256, user, settings.campaign,
                                 settings.target, settings.ledger, settings.output, settings.inbox, settings.rate))
    return RedirectResponse(f"/checks/{job}", status_code=303)


def _job(request: Request, desk: Desk, job: str, page: bool) -> tuple[dict[str, Any], UserRecord]:
    """A check's progress, for the user who uploaded its file (or an admin)."""
    user = desk.user(request, page=page)
    found = desk.checker.job(job)
    if found is None or (found.get("user") != user.name and user.role != "admin"):
        raise Refused(404, "There is no such check.", "Not found")
    return found, user


@router.get("/checks/{job}")
def check_page(request: Request, job: str) -> Response:
    desk = desk_of(request)
    found, user = _job(request, desk, job, page=True)
    if found.get("state") == "done":
        return RedirectResponse(f"/files/{found['sha256']}", status_code=303)
    return desk.page(request, "check.html", user=user, job=job, progress=found)


@router.get("/checks/{job}/progress")
def check_progress(request: Request, job: str) -> Response:
    found, _ = _job(request, desk_of(request), job, page=False)
    keys = ("state", "phase", "done", "total", "error")
    body = {k: found.get(k) for k in keys}
    if found.get("state") == "done":
        body["url"] = f"/files/{found['sha256']}"
    return JSONResponse(body)


@router.get("/template.xlsx")
def template(request: Request) -> Response:
    desk = desk_of(request)
    desk.user(request, page=False)
    path = desk.settings.state / "recipients-template.xlsx"
    with TEMPLATE_LOCK:                     # one writer at a time; the others wait for its workbook
        if not path.is_file() or time.time() - path.stat().st_mtime > 12 * 3600:
            _write_template(desk, path)
    return FileResponse(path, filename="recipients-template.xlsx",
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _write_template(desk: Desk, path: Path) -> None:
    """``tango-batch template --config``: with the campaign's rewards when its catalog can be had."""
    from pipeline.errors import Stop
    from pipeline.jobs.template import write_template
    from pipeline.jobs.validate import catalog_for
    settings = desk.settings
    try:
        catalog = catalog_for(settings.target, settings.ledger, settings.rate)
    except Stop:
        catalog = None
    path.parent.mkdir(parents=True, exist_ok=True)
    write_template(path, settings.book, settings.campaign, catalog)      # written whole, then renamed
