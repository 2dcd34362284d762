"""Benchmark (not part of the test run): submission pace against the loopback simulator.

The simulator runs as its own process with Tango's documented limit, 1 call per second on every
endpoint (429 above it); the pipeline sends 5,000 valid rows in batches of 100 at --rate 1. It runs
twice in one go: on the machine as it is, and beside CPU-bound processes that keep every core busy.
Goal, both times: at least 98% of the allowed pace (100 rows/s in orders of 100) and no 429.
Also printed: the pipeline's own CPU time per row, which excludes every wait.

Run: make bench-submit   (about two minutes)
"""

from __future__ import annotations

import csv
import datetime as dt
import multiprocessing
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROWS, BATCH, RATE = 5000, 100, 1.0


def write_rows(path: Path, n: int, amount: Callable[[int], int] = lambda i: 10 + i % 40) -> None:
    """``n`` valid EMAIL rows, each a distinct recipient, of a variable-value reward (row i: ``amount(i)``)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["First Name", "Last Name", "Email", "Delivery Method", "UTID", "Amount"])
        for i in range(n):
            out.writerow([f"Person{i}", "Bench", f"person{i}@example.com", "EMAIL", "U761382", amount(i)])


def burn() -> None:
    while True:
        pass


def measure(tmp_path: Path, upload: Path, config: Path, label: str) -> dict[str, float]:
    state, out, ledger = tmp_path / f"sim-{label}.json", tmp_path / f"out-{label}", tmp_path / f"ledger-{label}.sqlite"
    server = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "simulate", "--port", "0", "--state", str(state),
         "--tps", str(RATE), "--processing-delay", "1", "--balance", "10000000"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = server.stdout.readline().split("listening on ")[1].split()[0] if server.stdout else ""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TANGO_")}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "pipeline", "run", str(upload), "--config", str(config), "--target", url,
             "--batch-size", str(BATCH), "--rate", str(RATE), "--no-wait", "--output", str(out),
             "--ledger", str(ledger)],
            cwd=ROOT, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        server.terminate()
        server.wait(timeout=10)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    db = sqlite3.connect(ledger)
    posts = [dt.datetime.fromisoformat(r[0]) for r in db.execute(
        "SELECT at FROM http_log WHERE method = 'POST' AND status BETWEEN 200 AND 299 ORDER BY id")]
    limited = db.execute("SELECT COUNT(*) FROM http_log WHERE status = 429").fetchone()[0]
    calls = db.execute("SELECT COUNT(*) FROM http_log").fetchone()[0]
    span = (posts[-1] - posts[0]).total_seconds()
    # n accepted orders at the allowed pace need (n - 1) intervals between the first and the last
    pace = (len(posts) - 1) / span / RATE if span else float("inf")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"orders": len(posts), "calls": calls, "pace": pace, "limited": limited, "wall": wall, "cpu": cpu}


def show(label: str, m: dict[str, float], rows: int) -> None:
    print(f"  {label:<28} {m['pace']:7.2%} of the allowed pace ({m['pace'] * RATE * BATCH:.1f} rows/s); "
          f"429 answers: {m['limited']:.0f} of {m['calls']:.0f} calls; wall {m['wall']:.1f} s; "
          f"pipeline CPU {m['cpu'] / rows * 1000:.3f} ms per row")


def main() -> int:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else ROWS
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        upload = tmp_path / "bench.csv"
        write_rows(upload, rows)
        config = tmp_path / "campaign.toml"
        config.write_text('customerIdentifier = "bench-corp"\naccountIdentifier = "bench-acct"\n')
        quiet = measure(tmp_path, upload, config, "quiet")
        burners = [multiprocessing.Process(target=burn, daemon=True) for _ in range(os.cpu_count() or 2)]
        for b in burners:
            b.start()
        try:
            loaded = measure(tmp_path, upload, config, "loaded")
        finally:
            for b in burners:
                b.terminate()
    print(f"{rows:,} rows in orders of {BATCH}, --rate {RATE:g}/s, simulator limit {RATE:g} call/s on every endpoint")
    show("machine as it is", quiet, rows)
    show(f"beside {len(burners)} CPU-bound processes", loaded, rows)
    ok = all(m["pace"] >= 0.98 and m["limited"] == 0 for m in (quiet, loaded))
    print("within goals (>= 98% of the allowed pace, no 429)" if ok else "OUTSIDE GOALS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
