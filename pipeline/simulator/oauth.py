"""Tango's token endpoint (``POST /oauth/token``), as the reference's "Auth Token acquisition" page
defines it, and the bearer tokens it hands out.

A form with ``client_id``, ``client_secret``, ``scope=raas.all``, ``audience`` and
``grant_type=password`` with a service account's ``username`` and ``password`` (the reference's
grant), or ``grant_type=client_credentials`` without them. The answer: ``access_token``,
``token_type`` Bearer, ``expires_in`` (24 hours, or 5 minutes for the five-minute audience), and
``scope``. Refusals are 400 (a malformed request) and 401 (wrong credentials), empty text/plain
bodies as the reference shows them.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

__all__ = ["AUDIENCES", "OAuthClient", "TokenIssuer"]

AUDIENCES = {"https://api.tangocard.com/": 24 * 3600, "tango-api.bhn.com/fiveminute": 300}
SCOPE = "raas.all"


@dataclass(frozen=True)
class OAuthClient:
    """The one client and service account the simulator knows."""
    client_id: str = "simulator-client"
    client_secret: str = field(default="simulator-secret", repr=False)
    username: str = "simulator-user"
    password: str = field(default="simulator-password", repr=False)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


class TokenIssuer:
    """Issues tokens and says whether one is good; tokens live in memory only (a restarted server
    forgets them, as a client must be ready for)."""

    def __init__(self, client: OAuthClient, clock: Callable[[], float]) -> None:
        self.client, self.clock = client, clock
        self.tokens: dict[str, float] = {}      # token -> expiry
        self.issued = 0

    def issue(self, body: bytes) -> tuple[int, dict[str, object] | None]:
        """(status, answer) for one token request; the answer is None for a refusal."""
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        grant = form.get("grant_type")
        if grant not in ("password", "client_credentials") or form.get("scope") != SCOPE \
                or form.get("audience") not in AUDIENCES:
            return 400, None
        if grant == "password" and not ("username" in form and "password" in form):
            return 400, None
        good = _same(form.get("client_id", ""), self.client.client_id) \
            and _same(form.get("client_secret", ""), self.client.client_secret)
        if grant == "password":
            good = good and _same(form["username"], self.client.username) \
                and _same(form["password"], self.client.password)
        if not good:
            return 401, None
        token, lifetime = secrets.token_urlsafe(32), AUDIENCES[form["audience"]]
        self.tokens[token] = self.clock() + lifetime
        self.issued += 1
        return 200, {"access_token": token, "scope": SCOPE, "expires_in": lifetime, "token_type": "Bearer"}

    def valid(self, token: str) -> bool:
        expiry = self.tokens.get(token)
        return expiry is not None and self.clock() < expiry

    def revoke_all(self) -> None:
        """Forget every token, as a restarted auth host would (for tests of the refresh on 401)."""
        self.tokens.clear()
