"""What the HR desk needs, built once by ``tango-batch serve`` (or a test) and passed down: the
campaign and its target, the ledger, the inbox, where reports and the desk's own files go, and the
security settings. The secret key that signs sessions comes from ``TANGO_BATCH_SECRET_KEY``, else from
a file made once in the desk's state folder, readable by its owner only."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import UsageError
from pipeline.state import Where

if TYPE_CHECKING:
    from pipeline.config import Campaign, Target
    from pipeline.tango import TangoClient
    from rules import RuleBook

__all__ = ["MB", "SECRET_ENV", "DeskSettings", "secret_key"]

MB = 1 << 20
SECRET_ENV = "TANGO_BATCH_SECRET_KEY"
SECRET_FILE = "secret-key"
MIN_SECRET = 32                             # characters of a key given in the environment


@dataclass(frozen=True, kw_only=True)
class DeskSettings:
    campaign: Campaign
    book: RuleBook
    target: Target
    ledger: Where
    inbox: Path                             # where checked uploads are put for the nightly job
    output: Path                            # the checks' report folders
    state: Path                             # the desk's own files: jobs in progress, the template, the key
    secret_key: str
    https: bool = False                     # served over HTTPS: cookies are Secure
    proxy_headers: bool = False             # behind a proxy on this machine: X-Forwarded-Proto/-For honoured
    max_upload_bytes: int = 25 * MB
    session_seconds: int = 8 * 3600         # a session ends 8 hours after sign-in, whatever happens
    idle_seconds: int = 30 * 60             # ... or after 30 minutes without a request
    rate: float = 1.0                       # calls to Tango per second (the account page, the catalog)
    workers: int = 1                        # checks at once, each in a process of its own
    client: Callable[[], TangoClient] | None = None     # tests: a client of their own for the account page

    @property
    def jobs(self) -> Path:
        return self.state / "jobs"


def secret_key(env: Mapping[str, str], state: Path) -> str:
    """The key that signs sessions: ``TANGO_BATCH_SECRET_KEY``, else the one kept in ``state`` (made
    there once, mode 0600). Several servers behind one name need the same key: give it in the environment."""
    given = env.get(SECRET_ENV)
    if given is not None:
        if len(given) < MIN_SECRET:
            raise UsageError(f"{SECRET_ENV} must have at least {MIN_SECRET} characters (python3 -c 'import secrets; "
                             "print(secrets.token_urlsafe(48))' makes one)")
        return given
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = state / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)               # never readable by others, whoever loosened it
        key = path.read_text(encoding="utf-8").strip()
        if len(key) >= MIN_SECRET:
            return key
        raise UsageError(f"the secret key in {path} is too short: remove the file (a new one is made) or set "
                         f"{SECRET_ENV}") from None
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    return key
