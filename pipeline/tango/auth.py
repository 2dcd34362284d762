"""OAuth bearer tokens for Tango's API, as an httpx ``Auth``: a token from Tango's auth host
(``POST /oauth/token``), kept in memory only, fetched again shortly before it expires and once
when the API answers 401. Neither the token nor the credentials ever reach a log or a message.

The request follows the reference's "Auth Token acquisition" page: a form with ``client_id``,
``client_secret``, ``username``, ``password``, ``scope=raas.all``, ``audience`` and
``grant_type=password``; without a username and password, the ``client_credentials`` grant.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator

import httpx

from pipeline.errors import AuthFailed, Unavailable
from pipeline.target import OAuthCredentials

__all__ = ["BearerToken"]

SCOPE = "raas.all"


class BearerToken(httpx.Auth):
    """Adds ``Authorization: Bearer <token>`` to every request, fetching the token when needed."""

    def __init__(self, credentials: OAuthCredentials, *, transport: httpx.BaseTransport | None = None,
                 timeout: float = 30.0, clock: Callable[[], float] = time.monotonic,
                 pace: Callable[[], None] = lambda: None) -> None:
        self.credentials, self.clock, self.pace = credentials, clock, pace
        self.http = httpx.Client(transport=transport, timeout=timeout, headers={"Accept": "application/json"})
        self.token: str | None = None
        self.renew_at = 0.0
        self.fetched = 0                     # tokens fetched, for the tests and the run's figures
        self.lock = threading.Lock()

    def _form(self) -> dict[str, str]:
        c = self.credentials
        form = {"client_id": c.client_id, "client_secret": c.client_secret, "scope": SCOPE, "audience": c.audience}
        if c.username and c.password:
            return {**form, "username": c.username, "password": c.password, "grant_type": "password"}
        return {**form, "grant_type": "client_credentials"}

    def _fetch(self) -> None:
        url = httpx.URL(self.credentials.token_url).copy_with(username=None, password=None)   # said, never its userinfo
        try:
            response = self.http.post(self.credentials.token_url, data=self._form())
        except httpx.TransportError as exc:
            raise Unavailable(f"could not reach Tango's auth host {url} ({type(exc).__name__})") from None
        if response.status_code in (400, 401, 403):
            raise AuthFailed(f"Tango's auth host refused the OAuth credentials ({response.status_code}): check "
                             "TANGO_CLIENT_ID, TANGO_CLIENT_SECRET, TANGO_USERNAME and TANGO_PASSWORD",
                             status=response.status_code)
        try:
            body = response.json()
            token, lifetime = str(body["access_token"]), float(body.get("expires_in") or 300)
        except (ValueError, KeyError, TypeError):
            raise Unavailable(f"Tango's auth host answered {response.status_code} without a token") from None
        if response.status_code >= 300 or not token:
            raise Unavailable(f"Tango's auth host answered {response.status_code} without a token")
        self.token, self.fetched = token, self.fetched + 1
        # renewed a little before it expires: a tenth of its life, at most five minutes early
        self.renew_at = self.clock() + lifetime - min(300.0, lifetime / 10)

    def current(self, renew: bool = False) -> str:
        with self.lock:
            if renew or self.token is None or self.clock() >= self.renew_at:
                self._fetch()
            assert self.token is not None
            return self.token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        sent = self.current()
        request.headers["Authorization"] = f"Bearer {sent}"
        response = yield request
        if response.status_code == 401:
            # the token may have been revoked or expired early: one new token, one more try
            with self.lock:
                stale = self.token == sent
            request.headers["Authorization"] = f"Bearer {self.current(renew=stale)}"
            self.pace()                 # the second try is a call like any other
            yield request

    def close(self) -> None:
        self.http.close()
