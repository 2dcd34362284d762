"""Sessions in a signed cookie (itsdangerous): HttpOnly, SameSite=Strict, Secure over HTTPS, signed
with the desk's secret key and refused once older than the session's life. What the session holds is
small (the user's name, when they signed in and were last seen, the CSRF token); it is readable by
the browser's owner, never alterable. The idle and absolute timeouts are enforced by ``guard.who``."""

from __future__ import annotations

import base64
import json
from typing import Any

from itsdangerous import BadSignature, TimestampSigner
from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["COOKIE", "Sessions"]

COOKIE = "tango_batch_session"


class Sessions:
    """ASGI middleware: ``scope["session"]`` (``request.session``) from the cookie, and the cookie
    written again on every response while there is a session (deleted once it is emptied)."""

    def __init__(self, app: ASGIApp, *, secret_key: str, max_age: int, https: bool) -> None:
        self.app, self.max_age, self.https = app, max_age, https
        self.signer = TimestampSigner(secret_key, salt="tango-batch session")

    def _load(self, scope: Scope) -> dict[str, Any]:
        headers = dict(scope.get("headers") or [])
        value = cookie_parser(headers.get(b"cookie", b"").decode("latin-1")).get(COOKIE)
        if not value:
            return {}
        try:
            data = json.loads(base64.urlsafe_b64decode(self.signer.unsign(value, max_age=self.max_age)))
        except (BadSignature, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _cookie(self, scope: Scope, value: str, max_age: int) -> str:
        secure = "; Secure" if self.https or scope.get("scheme") == "https" else ""
        return f"{COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope["session"] = self._load(scope)
        had = bool(scope["session"])

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if scope["session"]:
                    data = base64.urlsafe_b64encode(json.dumps(scope["session"]).encode()).decode()
                    headers.append("Set-Cookie", self._cookie(scope, self.signer.sign(data).decode(), self.max_age))
                elif had:
                    headers.append("Set-Cookie", self._cookie(scope, "null", 0))
            await send(message)

        await self.app(scope, receive, sending)
