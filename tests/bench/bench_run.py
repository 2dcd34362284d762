"""Benchmark (not part of the test run): `tango-batch run` of N valid rows against the built-in simulator.

A CSV of N valid EMAIL rows ($1 each, so that 100,000 of them fit the simulator's default balance of
$100,000) is ordered by `tango-batch run` in a fresh process, against the built-in, in-process
simulator, with the ledger, the simulator's state (beside the ledger) and the reports in a temporary
folder: every row is sent, accepted, followed until COMPLETE and reported. `--rate` is raised well
above Tango's 1 call per second, so the pipeline's own work is measured, not the pace it keeps.

Printed: wall time, the run's peak RSS and CPU time (its own rusage, from wait4), and the ledger's
and the simulator state's bytes per row. `measure(rows, tmp)` is the same as a function, for other
benchmarks to call.

Run: python tests/bench/bench_run.py [ROWS] [--batch-size N] [--repeat K] [--root CHECKOUT]
(`--root`: run another checkout's pipeline with this interpreter, to compare two versions side by side)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import bench_submit

ROOT = Path(__file__).resolve().parents[2]
ROWS, BATCH, RATE = 100_000, 100, 100_000.0


def write_rows(path: Path, n: int) -> None:
    """``n`` valid EMAIL rows, each a distinct recipient, $1 of a variable-value reward."""
    bench_submit.write_rows(path, n, amount=lambda i: 1)


def measure(rows: int, tmp: Path, *, batch_size: int = BATCH, root: Path = ROOT,
            python: str = sys.executable, ledger_url: str | None = None) -> dict[str, Any]:
    """Run `tango-batch run` of ``rows`` valid rows in a fresh process, everything under ``tmp``.

    Returns wall_s, cpu_s, peak_rss_mb (the run's own, from wait4), exit_code, the ledger's and the
    simulator state's bytes (and per row), and the rows per status from the run's summary.json.
    Raises RuntimeError when the run does not order every row (exit code not 0, rows not COMPLETE).
    ``ledger_url``: the ledger in that PostgreSQL database instead (its bytes are then not counted here).
    """
    tmp.mkdir(parents=True, exist_ok=True)
    upload, config, out = tmp / "bench-run.csv", tmp / "campaign.toml", tmp / "out"
    write_rows(upload, rows)
    config.write_text('customerIdentifier = "bench-corp"\naccountIdentifier = "bench-acct"\n', encoding="utf-8")
    ledger = out / "ledger.sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANGO_")}
    env["XDG_STATE_HOME"] = str(tmp / "state")          # nothing of the user's own state is read
    command = [python, "-m", "pipeline", "run", str(upload), "--config", str(config), "--target", "simulator",
               "--output", str(out), "--ledger", ledger_url or str(ledger), "--yes", "--rate", f"{RATE:g}",
               "--batch-size", str(batch_size)]
    with open(tmp / "run.log", "wb") as log:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        _, status, usage = os.wait4(process.pid, 0)     # this child's own rusage, not every child's so far
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    summaries = list(out.glob("bench-run-*/summary.json"))
    counts = json.loads(summaries[0].read_text())["status_counts"] if len(summaries) == 1 else {}
    if process.returncode != 0 or counts.get("COMPLETE") != rows:
        tail = (tmp / "run.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"the run did not order every row (exit {process.returncode}, {counts}):\n{tail}")
    ledger_bytes = sum(p.stat().st_size for p in out.glob("ledger.sqlite*") if p.suffix != ".lock")
    states = ((tmp / "state").rglob("*.simulator-state.json*") if ledger_url
              else out.glob("ledger.simulator-state.json*"))
    state_bytes = sum(p.stat().st_size for p in states)
    return {"rows": rows, "batch_size": batch_size, "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": usage.ru_maxrss / 1024, "exit_code": process.returncode,
            "ledger_bytes": ledger_bytes, "ledger_bytes_per_row": ledger_bytes / rows,
            "state_bytes": state_bytes, "state_bytes_per_row": state_bytes / rows,
            "status_counts": {k: v for k, v in counts.items() if v}}


def show(label: str, m: dict[str, Any]) -> str:
    return (f"{label}: {m['rows']:,} rows in orders of {m['batch_size']}: wall {m['wall_s']:.1f} s, CPU "
            f"{m['cpu_s']:.1f} s, peak RSS {m['peak_rss_mb']:.0f} MB, ledger {m['ledger_bytes_per_row']:.0f} B/row, "
            f"simulator state {m['state_bytes_per_row']:.0f} B/row")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="?", type=int, default=ROWS)
    parser.add_argument("--batch-size", type=int, default=BATCH)
    parser.add_argument("--repeat", type=int, default=1, help="runs, each in a fresh folder (default 1)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose pipeline runs (default: this)")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs", flush=True)
    walls = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.repeat):
            m = measure(args.rows, Path(tmp) / f"run{n}", batch_size=args.batch_size, root=args.root.resolve())
            walls.append(m["wall_s"])
            print(show(f"run {n + 1}", m), flush=True)
    walls.sort()
    print(f"wall min {walls[0]:.1f} s, median {walls[len(walls) // 2]:.1f} s; load average after: "
          f"{os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
