"""Where orders go and with which credentials: the built-in simulator, Tango's sandbox or
production, or a URL; HTTP Basic (platform name and key) or an OAuth bearer token.

Credentials come from the environment only, never from a file of the project, and are never
printed: their ``repr`` leaves the secrets out, and ``secrets`` lists what the logs must blot out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pipeline.errors import UsageError, env_number
from pipeline.masking import without_userinfo

__all__ = ["BasicCredentials", "OAuthCredentials", "Target", "resolve_target"]

SANDBOX_URL = "https://integration-api.tangocard.com/raas/v2"
PRODUCTION_URL = "https://api.tangocard.com/raas/v2"
SIMULATOR_URL = "http://simulator/raas/v2"
# how long the built-in simulator holds an order before it completes it, as Tango takes a moment:
# TANGO_SIMULATOR_DELAY seconds, else SIMULATOR_DELAY (``tango-batch simulate`` has --processing-delay)
SIMULATOR_DELAY_ENV, SIMULATOR_DELAY = "TANGO_SIMULATOR_DELAY", 2.0
# the reference's audience for 24-hour tokens (the other, tango-api.bhn.com/fiveminute, gives 5 minutes)
DEFAULT_AUDIENCE = "https://api.tangocard.com/"
LOOPBACK = re.compile(r"^https?://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(/|$)")


@dataclass(frozen=True)
class BasicCredentials:
    """HTTP Basic: the platform name as user, the platform key as password."""
    name: str
    key: str = field(repr=False)

    @property
    def identity(self) -> str:
        """Who calls: every client of these credentials shares one pace."""
        return self.name

    def secrets(self) -> list[str]:
        return [self.key]


@dataclass(frozen=True)
class OAuthCredentials:
    """A bearer token from Tango's auth host: the reference's password grant (a service account's
    username and password), or a client-credentials grant when those are not given."""
    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    audience: str = DEFAULT_AUDIENCE

    @property
    def identity(self) -> str:
        return self.client_id

    def secrets(self) -> list[str]:
        return [s for s in (self.client_secret, self.password) if s]


SIMULATOR_AUTH = BasicCredentials("simulator", "simulator-key")


@dataclass(frozen=True)
class Target:
    """Where orders go. ``namespace`` keeps each target's ledger records apart."""
    name: str                                   # simulator | sandbox | production | url
    base_url: str
    namespace: str
    credentials: BasicCredentials | OAuthCredentials = field(repr=False)
    processing_delay: float = SIMULATOR_DELAY   # the built-in simulator's (seconds an order stays pending)

    @property
    def simulated(self) -> bool:
        return self.name == "simulator"

    def describe(self) -> str:
        if self.simulated:
            return "the built-in Tango SIMULATOR (nothing is really ordered)"
        return f"{self.name} ({self.base_url})"


def _oauth(env: Mapping[str, str]) -> OAuthCredentials | None:
    """OAuth when TANGO_CLIENT_ID is set: it then needs TANGO_CLIENT_SECRET and TANGO_AUTH_URL."""
    if not env.get("TANGO_CLIENT_ID"):
        return None
    missing = [k for k in ("TANGO_CLIENT_SECRET", "TANGO_AUTH_URL") if not env.get(k)]
    if bool(env.get("TANGO_USERNAME")) != bool(env.get("TANGO_PASSWORD")):
        missing.append("TANGO_PASSWORD" if env.get("TANGO_USERNAME") else "TANGO_USERNAME")
    if missing:
        raise UsageError(f"OAuth (TANGO_CLIENT_ID is set) also needs {' and '.join(missing)} in the environment")
    if without_userinfo(env["TANGO_AUTH_URL"]) != env["TANGO_AUTH_URL"]:
        raise UsageError("TANGO_AUTH_URL carries a user name or password: give the URL without them (the client's "
                         "credentials go in TANGO_CLIENT_ID and TANGO_CLIENT_SECRET)")
    return OAuthCredentials(env["TANGO_AUTH_URL"], env["TANGO_CLIENT_ID"], env["TANGO_CLIENT_SECRET"],
                            env.get("TANGO_USERNAME") or None, env.get("TANGO_PASSWORD") or None,
                            env.get("TANGO_AUTH_AUDIENCE") or DEFAULT_AUDIENCE)


def _where(value: str) -> tuple[str, str]:
    if value in ("sandbox", "production"):
        return value, SANDBOX_URL if value == "sandbox" else PRODUCTION_URL
    if value.startswith(("http://", "https://")):
        url = value.rstrip("/")
        if without_userinfo(url) != url:        # never stored (the ledger keys its records by the URL) nor logged
            raise UsageError(f"the target URL {without_userinfo(url)} carries a user name or password: never put "
                             "credentials in a URL; put them in TANGO_PLATFORM_NAME / TANGO_PLATFORM_KEY (or the "
                             "TANGO_CLIENT_* variables for OAuth) and give the URL without them")
        return {SANDBOX_URL: "sandbox", PRODUCTION_URL: "production"}.get(url, "url"), url
    raise UsageError(f"--target must be simulator, sandbox, production or a URL; got {value!r}")


def _simulator_delay(env: Mapping[str, str]) -> float:
    return env_number(env, SIMULATOR_DELAY_ENV, SIMULATOR_DELAY, "a number of seconds from 0 to 3600",
                      lambda v: 0 <= v <= 3600)


def resolve_target(option: str | None, env: Mapping[str, str], target_setting: str | None) -> Target:
    """--target, else TANGO_BASE_URL, else the campaign file's ``target``, else the simulator.

    A real target needs credentials in the environment (a usage error otherwise, before anything
    is read): TANGO_CLIENT_ID, TANGO_CLIENT_SECRET and TANGO_AUTH_URL (with TANGO_USERNAME and
    TANGO_PASSWORD for the password grant) for OAuth, else TANGO_PLATFORM_NAME and
    TANGO_PLATFORM_KEY for Basic. A URL on this machine (loopback) is taken to be a simulator
    started with ``tango-batch simulate`` and uses its credentials unless given.
    """
    value = option or env.get("TANGO_BASE_URL") or target_setting or "simulator"
    if value == "simulator":
        return Target("simulator", SIMULATOR_URL, "simulator", SIMULATOR_AUTH, _simulator_delay(env))
    name, url = _where(value)
    credentials: BasicCredentials | OAuthCredentials | None = _oauth(env)
    if credentials is None and env.get("TANGO_PLATFORM_NAME") and env.get("TANGO_PLATFORM_KEY"):
        credentials = BasicCredentials(env["TANGO_PLATFORM_NAME"], env["TANGO_PLATFORM_KEY"])
    if credentials is None:
        if name != "url" or not LOOPBACK.match(url):
            raise UsageError(f"target {name} ({url}) needs credentials: set TANGO_PLATFORM_NAME and "
                             "TANGO_PLATFORM_KEY in the environment (or TANGO_CLIENT_ID, TANGO_CLIENT_SECRET "
                             "and TANGO_AUTH_URL for OAuth)")
        credentials = SIMULATOR_AUTH
    namespace = name if name != "url" else f"url:{url}"
    return Target(name, url, namespace, credentials)
