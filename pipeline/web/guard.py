"""The desk's guards, each applied to every request: security headers, an access log that holds no
personal data, who is signed in (and whether their role may), and the CSRF token of every form."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Collection

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.ledger import Ledger
from pipeline.ledger.desk import ROLES, UserRecord
from pipeline.web.settings import DeskSettings

__all__ = ["HEADERS", "AccessLog", "NeedSignIn", "Refused", "SecurityHeaders", "check_csrf", "csrf_token",
           "fingerprint", "safe_next", "who"]

access = logging.getLogger("tango_batch.web.access")

HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
NOT_CACHED = "no-store"                     # pages and downloads hold personal data: never in a shared cache


class NeedSignIn(Exception):
    """No session, or one that ended (expired, idle, the user disabled): sign in again."""

    def __init__(self, page: bool = True) -> None:
        super().__init__("sign in first")
        self.page = page                    # a page: redirect to sign-in; a download or JSON: 401


class Refused(Exception):
    """A request the desk refuses, with its status and a message for the person."""

    def __init__(self, status: int, message: str, title: str = "Not allowed") -> None:
        super().__init__(message)
        self.status, self.message, self.title = status, message, title


class SecurityHeaders:
    """ASGI middleware: the security headers on every response (pages, static files, errors)."""

    def __init__(self, app: ASGIApp, https: bool = False) -> None:
        self.app, self.https = app, https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                if not scope["path"].startswith("/static/"):
                    headers["Cache-Control"] = NOT_CACHED
                if self.https or scope.get("scheme") == "https":
                    headers["Strict-Transport-Security"] = "max-age=31536000"
            await send(message)

        await self.app(scope, receive, sending)


class AccessLog:
    """ASGI middleware: one line per request with its method, route template (never the raw path nor
    its query), status, duration and user name: no recipient's data ever reaches it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began, status = time.monotonic(), [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or ("/static" if scope["path"].startswith("/static/")
                                                                   else "(no route)")
            user = (scope.get("state") or {}).get("user") or "-"
            access.info("%s %s %s %.1fms user=%s", scope["method"], route, status[0],
                        (time.monotonic() - began) * 1000, user)


def fingerprint(user: UserRecord) -> str:
    """What a session keeps of the user's password hash: a new password ends the sessions of the old."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def who(request: Request, ledger: Ledger, desk: DeskSettings, roles: Collection[str] = ROLES, *,
        page: bool = True) -> UserRecord:
    """The signed-in user, checked on every request: a session within its life and not idle too
    long, a user who still exists, is not disabled and has the same password; and one of ``roles``."""
    session, now = request.session, time.time()
    name = session.get("user")
    if not name:
        raise NeedSignIn(page)
    expired = now - float(session.get("born", 0)) > desk.session_seconds
    idle = now - float(session.get("seen", 0)) > desk.idle_seconds
    user = ledger.user(str(name))
    if expired or idle or user is None or user.disabled or session.get("pw") != fingerprint(user):
        session.clear()
        raise NeedSignIn(page)
    session["seen"] = now
    request.state.user = user.name
    if user.role not in roles:
        raise Refused(403, f"This page is for {' and '.join(r + 's' for r in roles)} only; you are signed in as "
                      f"{user.name} ({user.role}).")
    return user


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made with the session): every form carries it."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf(request: Request, given: object) -> None:
    """Refuse (403) a POST whose form does not carry the session's token."""
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not isinstance(given, str) or not hmac.compare_digest(
            expected.encode(), given.encode()):
        raise Refused(403, "This form's security token is missing or wrong: it may have come from another site, or "
                      "your session ended. Go back, reload the page and try again.", "Form refused")


_LOCAL = re.compile(r"^/(?!/)[A-Za-z0-9/_.-]*$")


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only."""
    return target if target and _LOCAL.match(target) and "\\" not in target else "/upload"
