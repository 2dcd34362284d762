"""Where the pipeline keeps what must outlive a run: one ledger per Tango customer, in the user's
state folder, whatever ``--output`` or the working folder are; and beside each ledger, the files
that serve it (the built-in simulator's state, the catalog cache, the lock).

The ledger: ``--ledger``, else ``TANGO_BATCH_LEDGER``, else ``ledger = "..."`` in the campaign file
(a path relative to the campaign file), else
``${XDG_STATE_HOME:-~/.local/state}/tango-batch/ledgers/<customerIdentifier>.sqlite``. Each may be
an SQLite file (a path) or a PostgreSQL database (``postgresql://user@host:port/dbname``): a
``LedgerURL``, whose serving files are kept in the state folder of the machine that uses it. Any
other URL is refused, never taken for a file name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import UsageError

__all__ = ["LEDGER_ENV", "OLD_LEDGER_NAME", "LedgerURL", "Where", "beside", "choose_ledger", "known_ledgers",
           "ledger_at", "state_folder"]

LEDGER_ENV = "TANGO_BATCH_LEDGER"
OLD_LEDGER_NAME = "ledger.sqlite"           # where versions before 0.2 kept it: OUTPUT/ledger.sqlite
POSTGRES_SCHEMES = ("postgresql", "postgres")
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")    # a scheme: two letters at least (C: is a drive)


@dataclass(frozen=True)
class LedgerURL:
    """A ledger in PostgreSQL. ``str()`` of it never shows a password."""
    url: str = field(repr=False)            # as given: it may hold a password, so it is never printed
    local: Path                             # where the files serving it are kept on this machine

    def __str__(self) -> str:
        return masked_url(self.url)


Where = Path | LedgerURL


def _split(url: str) -> tuple[str, str | None, str]:
    """``scheme://``, the user part (None without one), and the rest. libpq takes a password with '#',
    '?' or '/' in it as it is: the user part ends at the *last* '@' (a query's '@' only hides more)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return (scheme + sep if sep else ""), None, rest if sep else url
    user, host = rest.rsplit("@", 1)
    return scheme + sep, user, host


def masked_url(url: str) -> str:
    """The URL with its password (in the user part, or as ``password=``/``sslpassword=``) shown as ***."""
    head, user, rest = _split(url)
    rest = re.sub(r"(?i)([?&](?:ssl)?password=)[^&]*", r"\1***", rest)
    if user is None:
        return head + rest
    return f"{head}{user.split(':', 1)[0]}{':***' if ':' in user else ''}@{rest}"


def state_folder(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "state")
    return Path(base) / "tango-batch"


def _ledgers(env: Mapping[str, str]) -> Path:
    return state_folder(env) / "ledgers"


def ledger_at(text: str, env: Mapping[str, str], relative_to: Path | None = None) -> Where:
    """The ledger ``text`` names: a PostgreSQL URL, or a file (``relative_to`` a folder when relative).
    A URL of any other kind is refused (exit 64), not taken for a file name."""
    scheme = _URL.match(text)
    if scheme and (scheme[1].lower() in POSTGRES_SCHEMES or "://" in text):
        if scheme[1].lower() not in POSTGRES_SCHEMES or not text[scheme.end():].startswith("//"):
            raise UsageError(f"the ledger {masked_url(text)!r} cannot be used: a ledger is an SQLite file (a path) "
                             "or a PostgreSQL database (postgresql://HOST:5432/DBNAME)")
        hosts, _, database = _split(text)[2].partition("/")
        name = re.sub(r"[^-A-Za-z0-9]", "-", f"{hosts or 'local'}-{database.split('?', 1)[0]}")
        return LedgerURL(text, _ledgers(env) / f"postgresql-{name}")
    path = Path(text).expanduser()
    return path if relative_to is None or path.is_absolute() else relative_to / path


def choose_ledger(option: str | None, env: Mapping[str, str], customer: str, campaign_setting: str | None,
                  campaign_folder: Path | None = None) -> Where:
    """The ledger of ``customer``: the option, the environment, the campaign file, or the default."""
    if option or env.get(LEDGER_ENV):
        return ledger_at(option or env[LEDGER_ENV], env)
    if campaign_setting:
        return ledger_at(campaign_setting, env, campaign_folder)
    return _ledgers(env) / f"{re.sub(r'[^-A-Za-z0-9]', '-', customer)}.sqlite"


def known_ledgers(env: Mapping[str, str]) -> list[Path]:
    """The ledgers in the default place, one per customer."""
    folder = _ledgers(env)
    return sorted(folder.glob("*.sqlite")) if folder.is_dir() else []


def beside(ledger: Where, what: str) -> Path:
    """A file that serves this ledger, kept beside it: ``<ledger stem>.<what>`` (for a ledger in
    PostgreSQL, in this machine's state folder)."""
    if isinstance(ledger, LedgerURL):
        return ledger.local.with_name(f"{ledger.local.name}.{what}")
    return ledger.with_name(f"{ledger.stem}.{what}")
