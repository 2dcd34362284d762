"""Benchmark (not part of the test run): submission throughput against the loopback simulator.

The simulator runs as its own process with Tango's documented limit (1 order request per second);
the pipeline sends 5,000 valid rows in batches of 100 at --rate 1. Goal: sustained throughput of
at least 95% of the allowed 100 rows/s. Also printed: the pipeline's own CPU time per row, which
excludes every wait (rate limiting, the server's answers).

Run: make bench-submit   (about a minute)
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROWS, BATCH, RATE = 5000, 100, 1.0


def write_rows(path: Path, n: int) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["First Name", "Last Name", "Email", "Delivery Method", "UTID", "Amount"])
        for i in range(n):
            out.writerow([f"Person{i}", "Bench", f"person{i}@example.com", "EMAIL", "U761382", 10 + i % 40])


def main() -> int:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else ROWS
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        upload = tmp_path / "bench.csv"
        write_rows(upload, rows)
        config = tmp_path / "campaign.toml"
        config.write_text('customerIdentifier = "bench-corp"\naccountIdentifier = "bench-acct"\n')
        server = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "simulate", "--port", "0", "--state", str(tmp_path / "sim.json"),
             "--tps", str(RATE), "--processing-delay", "1", "--balance", "10000000"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            url = server.stdout.readline().split("listening on ")[1].split()[0]
            env = {k: v for k, v in os.environ.items() if not k.startswith("TANGO_")}
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "pipeline", "run", str(upload), "--config", str(config), "--target", url,
                 "--batch-size", str(BATCH), "--rate", str(RATE), "--no-wait", "--output", str(tmp_path / "out")],
                cwd=ROOT, capture_output=True, text=True, env=env)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        finally:
            server.terminate()
            server.wait(timeout=10)
        if proc.returncode != 0:
            print(proc.stderr[-3000:])
            return 1
        db = sqlite3.connect(tmp_path / "out" / "ledger.sqlite")
        posts = [dt.datetime.fromisoformat(r[0]) for r in db.execute(
            "SELECT at FROM http_log WHERE method = 'POST' AND status BETWEEN 200 AND 299 ORDER BY id")]
        limited = db.execute("SELECT COUNT(*) FROM http_log WHERE status = 429").fetchone()[0]
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    span = (posts[-1] - posts[0]).total_seconds()
    # n accepted requests at the allowed rate need (n - 1) intervals between the first and the last
    allowed = (len(posts) - 1) * BATCH / span if span else float("inf")
    throughput = min(allowed, RATE * BATCH * 10)
    print(f"{rows:,} rows in {len(posts)} orders of {BATCH}, --rate {RATE:g}/s, simulator limit {RATE:g} TPS")
    print(f"  sustained throughput {throughput:.1f} rows/s = {throughput / (RATE * BATCH):.1%} of the "
          f"allowed {RATE * BATCH:.0f} rows/s (goal >= 95%); 429 answers: {limited}")
    print(f"  whole run {wall:.1f} s wall; pipeline CPU {cpu:.2f} s = {cpu / rows * 1000:.3f} ms per row "
          "(waits excluded)")
    return 0 if throughput >= 0.95 * RATE * BATCH else 1


if __name__ == "__main__":
    sys.exit(main())
