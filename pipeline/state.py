"""Where the pipeline keeps what must outlive a run: one ledger per Tango customer, in the user's
state folder, whatever ``--output`` or the working folder are; and beside each ledger, the files
that serve it (the built-in simulator's state, the catalog cache, the lock).

The ledger's path: ``--ledger``, else ``TANGO_BATCH_LEDGER``, else ``ledger = "..."`` in the
campaign file (relative to the campaign file), else
``${XDG_STATE_HOME:-~/.local/state}/tango-batch/ledgers/<customerIdentifier>.sqlite``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

__all__ = ["LEDGER_ENV", "OLD_LEDGER_NAME", "beside", "choose_ledger", "known_ledgers", "state_folder"]

LEDGER_ENV = "TANGO_BATCH_LEDGER"
OLD_LEDGER_NAME = "ledger.sqlite"           # where versions before 0.2 kept it: OUTPUT/ledger.sqlite


def state_folder(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "state")
    return Path(base) / "tango-batch"


def _ledgers(env: Mapping[str, str]) -> Path:
    return state_folder(env) / "ledgers"


def choose_ledger(option: str | None, env: Mapping[str, str], customer: str, campaign_setting: Path | None) -> Path:
    """The ledger of ``customer``: the option, the environment, the campaign file, or the default."""
    chosen = option or env.get(LEDGER_ENV) or (str(campaign_setting) if campaign_setting else None)
    if chosen:
        return Path(chosen).expanduser()
    return _ledgers(env) / f"{re.sub(r'[^-A-Za-z0-9]', '-', customer)}.sqlite"


def known_ledgers(env: Mapping[str, str]) -> list[Path]:
    """The ledgers in the default place, one per customer."""
    folder = _ledgers(env)
    return sorted(folder.glob("*.sqlite")) if folder.is_dir() else []


def beside(ledger: Path, what: str) -> Path:
    """A file that serves this ledger, kept beside it: ``<ledger stem>.<what>``."""
    return ledger.with_name(f"{ledger.stem}.{what}")
