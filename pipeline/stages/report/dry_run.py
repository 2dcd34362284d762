"""A dry run's output: the planned batches and their exact JSON payloads; nothing is sent."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from pipeline.stages.plan import Batch
from pipeline.stages.report.folders import new_folder

__all__ = ["write_dry_run"]


def write_dry_run(output: Path, batches: list[Batch]) -> Path:
    """``plan.json`` and one ``batches/<externalRefID>.json`` per batch, in a new folder under ``output``."""
    folder = new_folder(output, Path("dry-run"), dt.datetime.now())
    (folder / "batches").mkdir()
    plan = []
    for batch in batches:
        (folder / "batches" / f"{batch.ref}.json").write_text(json.dumps(batch.payload, indent=2) + "\n")
        plan.append({"externalRefID": batch.ref, "generation": batch.generation,
                     "lineItems": len(batch.members), "amount": float(batch.value),
                     "members": [m.id for m in batch.members]})
    (folder / "plan.json").write_text(json.dumps({"batches": plan}, indent=2) + "\n")
    return folder
