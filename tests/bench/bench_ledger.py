"""Benchmark (not part of the test run): the ledger's cost per row on each backend, SQLite and
PostgreSQL, side by side in one run; and `tango-batch run` of 10,000 rows against the built-in
simulator with each (issue 13's goal: PostgreSQL at most 1.5x SQLite's time).

The PostgreSQL server is started here from the system's binaries, as the tests start theirs
(tests/pg.py: a temporary folder, a free port; torn down at the end). Its settings are the
server's defaults for durability (fsync on, synchronous_commit on), so that a commit costs there
what it costs in production; SQLite's ledger commits with synchronous=FULL, as the product does.

1. The ledger alone: what a run writes per row (the line item pending, the row recorded twice, the
   batch written ahead and its outcome, 100 lines an order) and reads (the lines of the file), on N
   rows: microseconds per row, and bytes per row (SQLite: the file and its -wal; PostgreSQL: the
   ledger's tables, their indexes and TOAST, as ``pg_total_relation_size`` says).
2. `tango-batch run` of the same rows in a fresh process against the built-in simulator, once
   with each ledger, interleaved, ``--repeat`` rounds: wall time, and the ratio PostgreSQL / SQLite.

Run: python tests/bench/bench_ledger.py [ROWS] [--repeat K]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).parent)]

import bench_run  # noqa: E402
import psycopg  # noqa: E402

from pipeline.ledger import Ledger, LineUpdate, RowRecord  # noqa: E402
from pipeline.model import BatchState, Status  # noqa: E402
from pipeline.state import Where, ledger_at  # noqa: E402
from tests import pg  # noqa: E402

TABLES = ("runs", "line_items", "rows", "batches", "batch_members", "files", "http_log", "ledger_checks")


class Item:
    """A line item as the ledger takes it (``Sendable``)."""
    def __init__(self, i: int) -> None:
        self.id, self.amount, self.quantity, self.delivery_method = f"L{i:08d}", Decimal(1), 1, "EMAIL"
        self.recipient, self.utid = f"email:person{i}@example.com", "U561593"
        self.details: dict[str, str | None] = {"firstName": f"Person{i}", "email": f"person{i}@example.com"}


def workload(where: Where, rows: int) -> float:
    """What a run of ``rows`` rows writes and reads in the ledger; seconds."""
    items = [Item(i) for i in range(rows)]
    records = [RowRecord(i + 2, item.id, Status.PENDING, None) for i, item in enumerate(items)]
    start = time.perf_counter()
    ledger = Ledger(where, "simulator")
    run = ledger.start_run("run")
    ledger.file_seen(run, "sha", "bench.csv", "/tmp/bench.csv", "2026-12-02", None, {})
    ledger.record_rows(run, "sha", "bench.csv", records)
    ledger.add_pending(run, items, "bench")
    ledger.lines(item.id for item in items)
    payload = {"customerIdentifier": "bench-corp", "accountIdentifier": "bench-acct", "lineItems": []}
    for b in range(0, rows, 100):
        members = [item.id for item in items[b:b + 100]]
        ref = f"B{b:08d}"
        ledger.begin_batch(run, ref, ref, 0, payload, members)
        ledger.log_http(run, "POST", "/asyncOrders", 201, "r", "accepted")
        ledger.end_batch(ref, BatchState.ACCEPTED, http=201, request_id="r", attempts=1, message=None, run_id=run,
                         lines=[LineUpdate(m, Status.COMPLETE, f"R{m}") for m in members], final=True)
    ledger.record_rows(run, "sha", "bench.csv", [r._replace(status=Status.COMPLETE) for r in records])
    ledger.finish_run(run, 0)
    ledger.close()
    return time.perf_counter() - start


def sqlite_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def postgres_bytes(url: str) -> int:
    with psycopg.connect(url) as db:
        return int(sum(db.execute("SELECT pg_total_relation_size(%s)", (t,)).fetchone()[0] for t in TABLES))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="?", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs", flush=True)
    server = pg.start(durable=True)
    times: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
    walls: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
    sizes: dict[str, int] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n in range(args.repeat):
                path = Path(tmp) / f"ledger{n}.sqlite"
                url = server.new_database()
                times["sqlite"].append(workload(path, args.rows))
                times["postgresql"].append(workload(ledger_at(url, {}), args.rows))
                sizes = {"sqlite": sqlite_bytes(path), "postgresql": postgres_bytes(url)}
            for kind in times:
                t = times[kind]
                print(f"ledger alone, {kind:10}: {args.rows:,} rows, {min(t):.2f} s min, {statistics.median(t):.2f} s "
                      f"median = {statistics.median(t) / args.rows * 1e6:.0f} us/row; "
                      f"{sizes[kind] / args.rows:,.0f} B/row", flush=True)
            for n in range(args.repeat):
                for kind in ("sqlite", "postgresql"):
                    url = server.new_database() if kind == "postgresql" else None
                    m: dict[str, Any] = bench_run.measure(args.rows, Path(tmp) / f"run-{kind}-{n}", ledger_url=url)
                    walls[kind].append(m["wall_s"])
                    size = postgres_bytes(url) if url else m["ledger_bytes"]
                    print(f"run {n + 1}, {kind:10}: {args.rows:,} rows to the built-in simulator in "
                          f"{m['wall_s']:.1f} s, CPU {m['cpu_s']:.1f} s, ledger {size / args.rows:,.0f} B/row",
                          flush=True)
    finally:
        server.stop()
    lite, post = statistics.median(walls["sqlite"]), statistics.median(walls["postgresql"])
    print(f"run of {args.rows:,} rows: SQLite median {lite:.1f} s (min {min(walls['sqlite']):.1f}), PostgreSQL "
          f"median {post:.1f} s (min {min(walls['postgresql']):.1f}): PostgreSQL / SQLite = {post / lite:.2f}x "
          f"(goal <= 1.5x); load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
