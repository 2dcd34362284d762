"""Benchmark (not part of the test run): start-up, the cost a person pays on every command.

``measure(tmp, repeats)`` is what ``bench_speed.py`` calls; it returns medians over ``repeats``
fresh processes:
- ``help_s``, ``help_rss_mb``: ``tango-batch --help`` (``python -m pipeline --help``), wall and peak RSS;
- ``validate5_s``: ``validate`` of a 5-row workbook with a campaign file, as ``run`` would check it.
Everything a command writes (reports, ledger, caches) stays in ``tmp``.

Run alone: .venv/bin/python tests/bench/bench_startup.py [REPEATS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fresh import isolated_env, run
from generate import write_xlsx

CAMPAIGN = 'customerIdentifier = "bench-corp"\naccountIdentifier = "bench-acct"\n'


def measure(tmp: Path, repeats: int) -> dict[str, float]:
    """Medians over ``repeats`` runs: {"help_s", "help_rss_mb", "validate5_s"}."""
    work = Path(tempfile.mkdtemp(prefix="startup-", dir=tmp))
    upload, campaign = work / "five.xlsx", work / "campaign.toml"
    write_xlsx(upload, 5)
    campaign.write_text(CAMPAIGN)
    env = isolated_env(work)
    helps, validates = [], []
    for _ in range(repeats):
        helps.append(run([sys.executable, "-m", "pipeline", "--help"], env=env, cwd=work))
        validates.append(run([sys.executable, "-m", "pipeline", "validate", str(upload), "--config", str(campaign),
                              "--output", str(work / "out"), "--ledger", str(work / "ledger.sqlite")],
                             env=env, cwd=work))
    for m in (*helps, *validates):
        if m.returncode not in (0, 1):                   # validate: 1 when a row is to fix
            raise RuntimeError(f"start-up command failed (exit {m.returncode}): {m.stderr[-2000:]}")
    return {"help_s": statistics.median(m.wall_s for m in helps),
            "help_rss_mb": statistics.median(m.peak_rss_mb for m in helps),
            "validate5_s": statistics.median(m.wall_s for m in validates)}


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        print(measure(Path(tmp), int(sys.argv[1]) if len(sys.argv) > 1 else 5))
