"""Benchmark (not part of the test run): ``run`` of many valid rows against the built-in simulator.

``measure(rows, tmp)`` is what ``bench_speed.py`` calls: ``rows`` valid EMAIL rows (as
``bench_submit.write_rows`` makes them), ordered in one fresh ``python -m pipeline run ... --target
simulator --yes`` process with its ledger, simulator state and reports in a new folder of ``tmp``.
It returns {"wall_s", "peak_rss_mb", "ledger_bytes_per_row"}.

Two settings make it measure the pipeline rather than Tango's terms: the simulator account is
topped up first (its default $100,000 is short of 100k rows), and ``--rate`` lifts the client's
pace of 1 call per second, which would otherwise spend most of the run asleep between orders.

Run alone: .venv/bin/python tests/bench/bench_run.py [ROWS]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_submit import write_rows
from fresh import isolated_env, run

CUSTOMER, ACCOUNT = "bench-corp", "bench-acct"
CAMPAIGN = f'customerIdentifier = "{CUSTOMER}"\naccountIdentifier = "{ACCOUNT}"\n'
RATE = "100000"     # calls per second: no pause between calls in effect


def measure(rows: int, tmp: Path) -> dict[str, float]:
    """One run of ``rows`` valid rows into a fresh ledger: {"wall_s", "peak_rss_mb", "ledger_bytes_per_row"}."""
    from pipeline.simulator import Simulator
    work = Path(tempfile.mkdtemp(prefix="run-", dir=tmp))
    upload, campaign, ledger = work / "rows.csv", work / "campaign.toml", work / "ledger.sqlite"
    write_rows(upload, rows)
    campaign.write_text(CAMPAIGN)
    # the simulator the run will use keeps its state beside the ledger (pipeline.tango.connect)
    Simulator(ledger.with_name(f"{ledger.stem}.simulator-state.json")).set_balance(CUSTOMER, ACCOUNT, 1e12)
    m = run([sys.executable, "-m", "pipeline", "run", str(upload), "--config", str(campaign), "--target", "simulator",
             "--output", str(work / "out"), "--ledger", str(ledger), "--rate", RATE, "--yes"],
            env=isolated_env(work), cwd=work)
    if m.returncode != 0:
        raise RuntimeError(f"run exited {m.returncode}: {(m.stderr or m.stdout)[-2000:]}")
    size = sum(p.stat().st_size for p in (ledger, ledger.with_name(ledger.name + "-wal")) if p.exists())
    return {"wall_s": m.wall_s, "peak_rss_mb": m.peak_rss_mb, "ledger_bytes_per_row": size / rows}


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        print(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000, Path(tmp)))
