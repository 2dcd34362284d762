"""tango-batch: spreadsheet batch import for Tango reward orders, as a library.

    import pipeline
    book = pipeline.load_rules()
    checked = pipeline.check_file("recipients.xlsx", book, today=datetime.date.today())
    settings = pipeline.RunSettings(book=book, campaign=pipeline.load_campaign("campaign.toml", book),
                                    target=pipeline.resolve_target("simulator", {}, None),
                                    output=Path("output"), ledger=Path("output/ledger.sqlite"))
    result = pipeline.run_files(["recipients.xlsx"], settings, pipeline.Progress())

Names are imported on first use, so ``import pipeline`` (and ``tango-batch --help``) loads
neither polars nor httpx.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# How polars' allocator (jemalloc) gives memory back, read once, when polars is first imported; polars
# puts its own defaults (dirty_decay_ms:500,muzzy_decay_ms:1000) before this setting, and the last of
# each wins. With polars' defaults, what a stage lets go of is kept a second or more, in pieces the next
# stage's larger columns do not fit: a million-row CSV's stages peak at 720-830 MB for 560 MB of data.
# Here a thread of its own gives it back within 10 ms (no stage waits for it), pieces over 1 MB
# (columns) come from an arena of their own, and the threads share one arena for the rest: 590-610 MB,
# no slower (side by side: ``_RJEM_MALLOC_CONF= python tests/bench/bench_validate.py`` runs with
# polars' defaults). An operator's own setting wins.
ALLOCATOR = "background_thread:true,dirty_decay_ms:10,muzzy_decay_ms:0,narenas:1,oversize_threshold:1048576"
os.environ.setdefault("_RJEM_MALLOC_CONF", ALLOCATOR)

# public name -> the module that defines it
_EXPORTS = {
    "CheckSettings": "pipeline.config",
    "RunSettings": "pipeline.config",
    "StatusSettings": "pipeline.config",
    "Campaign": "pipeline.config",
    "Target": "pipeline.config",
    "load_campaign": "pipeline.config",
    "resolve_target": "pipeline.config",
    "Status": "pipeline.model",
    "ExitCode": "pipeline.model",
    "InputError": "pipeline.errors",
    "UsageError": "pipeline.errors",
    "Progress": "pipeline.progress",
    "Checked": "pipeline.stages.check",
    "check_file": "pipeline.stages.check",
    "validate_file": "pipeline.jobs.validate",
    "validate_files": "pipeline.jobs.validate",
    "RunResult": "pipeline.jobs.results",
    "run_files": "pipeline.jobs.run",
    "nightly": "pipeline.jobs.nightly",
    "status": "pipeline.jobs.status",
    "load_rules": "rules",
}

__all__ = [
    "Campaign",
    "CheckSettings",
    "Checked",
    "ExitCode",
    "InputError",
    "Progress",
    "RunResult",
    "RunSettings",
    "Status",
    "StatusSettings",
    "Target",
    "UsageError",
    "__version__",
    "check_file",
    "load_campaign",
    "load_rules",
    "nightly",
    "resolve_target",
    "run_files",
    "status",
    "validate_file",
    "validate_files",
]

if TYPE_CHECKING:
    from pipeline.config import (
        Campaign,
        CheckSettings,
        RunSettings,
        StatusSettings,
        Target,
        load_campaign,
        resolve_target,
    )
    from pipeline.errors import InputError, UsageError
    from pipeline.jobs.nightly import nightly
    from pipeline.jobs.results import RunResult
    from pipeline.jobs.run import run_files
    from pipeline.jobs.status import status
    from pipeline.jobs.validate import validate_file, validate_files
    from pipeline.model import ExitCode, Status
    from pipeline.progress import Progress
    from pipeline.stages.check import Checked, check_file
    from rules import load as load_rules


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name])
    value = getattr(module, "load" if name == "load_rules" else name)
    globals()[name] = value
    return value
