"""``create_app``: the HR desk as an ASGI application (FastAPI), its middleware and error pages.

From outside, in a test or a benchmark::

    app = create_app(settings)                      # pipeline.web.settings.DeskSettings
    with running(app) as url:                       # uvicorn on a free port of 127.0.0.1, in a thread
        httpx.get(f"{url}/signin")                  # (or in-process: httpx.ASGITransport(app=app))

Middleware, outermost first: (the proxy's headers, with ``proxy_headers``), the access log, the
security headers, the signed session. Every view checks who is signed in and their role itself
(``guard.who``) and every POST its CSRF token (``guard.check_csrf``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Executor
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from pipeline.web import account, approving, files, pages
from pipeline.web.checker import Checker
from pipeline.web.guard import AccessLog, NeedSignIn, Refused, SecurityHeaders
from pipeline.web.runtime import Desk, desk_of
from pipeline.web.sessions import Sessions
from pipeline.web.settings import DeskSettings
from pipeline.web.throttle import Throttle

__all__ = ["create_app", "running"]

STATIC = Path(__file__).with_name("static")


def create_app(settings: DeskSettings, executor: Executor | None = None, throttle: Throttle | None = None) -> FastAPI:
    """The desk's application. ``executor``: where checks run (default: worker processes, "spawn")."""
    settings.jobs.mkdir(parents=True, exist_ok=True, mode=0o700)
    desk = Desk(settings, Checker(settings.jobs, settings.workers, executor), throttle or Throttle())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        desk.checker.warm()
        yield
        desk.checker.close()

    app = FastAPI(title="tango-batch desk", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.desk = desk
    for module in (pages, files, approving, account):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(Sessions, secret_key=settings.secret_key, max_age=settings.session_seconds,
                       https=settings.https)
    app.add_middleware(SecurityHeaders, https=settings.https)
    app.add_middleware(AccessLog)
    if settings.proxy_headers:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts="127.0.0.1")
    _errors(app)
    return app


def _errors(app: FastAPI) -> None:
    @app.exception_handler(NeedSignIn)
    async def sign_in_first(request: Request, exc: NeedSignIn) -> Response:
        if not exc.page or request.method != "GET":
            if request.method != "GET":
                return RedirectResponse("/signin", status_code=303)
            return PlainTextResponse("sign in first", status_code=401)
        return RedirectResponse(f"/signin?next={request.url.path}", status_code=303)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return desk_of(request).page(request, "error.html", exc.status, user=None, title=exc.title,
                                     message=exc.message)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        title = {404: "Not found", 405: "Not allowed"}.get(exc.status_code, "Error")
        return desk_of(request).page(request, "error.html", exc.status_code, user=None, title=title,
                                     message=title + ".")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return desk_of(request).page(request, "error.html", 400, user=None, title="Not understood",
                                     message="The form or address was not understood: go back and try again.")


@contextmanager
def running(app: FastAPI, host: str = "127.0.0.1", seconds: float = 20.0) -> Iterator[str]:
    """The application served by uvicorn on a free port of ``host``, in a thread; its base URL. Stopped
    (and its worker processes with it: the lifespan) on leaving."""
    import uvicorn
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=0, access_log=False, log_level="warning",
                                           server_header=False))
    thread = threading.Thread(target=server.run, name="tango-batch desk", daemon=True)
    thread.start()
    ends = time.monotonic() + seconds
    while not server.started:
        if not thread.is_alive() or time.monotonic() > ends:
            raise RuntimeError("the desk's server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(seconds)
