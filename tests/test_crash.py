"""Exactly-once under crashes: SIGKILL two nightly workers at random moments, then let them finish.

Against the loopback simulator with faults on (10% 5xx before commit, 5% commit-then-drop, a TPS
limit of 50 calls a second), `tango-batch nightly` works on a sheet of 520 rows (500 valid, about
100 orders) and is killed at least 20 times at random moments, then runs to the end. A kill lands at
a random moment of start-up, reading and pre-flight, or right after an order went out (its answer
maybe not yet recorded), or a little after one was accepted: the moments are chosen by watching the
ledger, not by a fixed sleep, so that on a fast or a slow machine alike the kills land while work
remains. The killed runs go at 10 calls a second; the two last go at 80, above the simulator's
limit, so they may meet its 429s and wait them out (the summary printed counts the retries). Then:
every valid row was ordered exactly once at the simulator, no valid row was lost, and the final
report agrees with the simulator row by row.

Two workers share the inbox, the output folder and the ledger, as a nightly worker and its standby
on two machines would: on PostgreSQL, they share the database (its advisory locks keep one at work
per account); on SQLite, the file (its lock file does the same on one machine). Each round starts
both at once, in an order drawn for the round; whichever holds the lock works, the other finds it
held (exit 75) or starts after it; the one at work is killed. The test runs on both ledgers (the
``backend`` fixture). The workers and the simulator are processes of their own, forked from one
that has imported the pipeline (tests/forkserver.py), so a worker's start-up is its own work, not
Python importing polars; one worker of every third round, and one of the two last runs, is a fresh
interpreter, whose string hashes are seeded otherwise.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openpyxl
import psycopg

from pipeline.state import LedgerURL, Where
from tests import forkserver
from tests.forkserver import Started
from tests.helpers import base_row, user_env, write_csv

ROOT = Path(__file__).resolve().parents[1]
KILLS = 20
VALID, INVALID = 500, 20
METHODS = ["EMAIL", "EMAIL", "PHONE", "EMBEDDED", "NONE", "ADDRESS", "BULKDIGITAL", "BULKSHIPMENT"]


def sheet_rows() -> list[dict]:
    rows = []
    for i in range(VALID):
        method = METHODS[i % len(METHODS)]
        cells = {"Employee": f"E{i:04d}", "First Name": f"Person{i}", "Amount": str(10 + i % 50)}
        if method in ("EMAIL", "EMBEDDED", "PHONE"):
            cells["Email"] = f"person{i}@example.com"
        if method == "PHONE":
            cells["Mobile"] = f"+1415555{i:04d}"
        if method == "BULKDIGITAL":
            cells = {"Employee": f"E{i:04d}", "Amount": str(10 + i % 50), "Reference": f"BULK-{i}"}
        rows.append(base_row(method, **cells))
    for i in range(INVALID):
        rows.append(base_row("EMAIL", Employee=f"X{i}", First_Name=f"Bad{i}", Email=f"bad{i}@@example.com"))
    random.Random(1).shuffle(rows)
    return rows


def start_simulator(state: Path) -> tuple[Started, str]:
    server = forkserver.popen(
        ["simulate", "--port", "0", "--state", str(state), "--tps", "50", "--error-rate", "0.10", "--drop-rate",
         "0.05", "--processing-delay", "0.3", "--seed", "7", "--balance", "10000000"],
        cwd=ROOT, env=user_env(), stdout=True)
    assert server.stdout is not None
    url = server.stdout.readline().split("listening on ")[1].split()[0]
    return server, url


def query(ledger: Where, sql: str) -> list[tuple]:
    """The ledger's rows, read as a database tool would (never through the code under test)."""
    if isinstance(ledger, LedgerURL):
        with psycopg.connect(ledger.url) as pg:
            return pg.execute(sql).fetchall()
    db = sqlite3.connect(ledger)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


class Watcher:
    """The ledger watched while the workers work, through one session kept open (autocommit: it holds no
    lock between its reads), not one each time: the test reads it every 10 ms, and a PostgreSQL session
    is a server process started for it."""

    STATE = ("SELECT (SELECT COUNT(*) FROM line_items WHERE status IN ('SUBMITTED', 'COMPLETE', 'FAILED', "
             "'DUPLICATE')), (SELECT COUNT(*) FROM batches WHERE state = 'sending')")

    def __init__(self, ledger: Where) -> None:
        self.ledger, self.db = ledger, None

    def state(self) -> tuple[int, int]:
        """Line items Tango accepted so far, and batches whose outcome the ledger does not know."""
        if self.db is None:
            if isinstance(self.ledger, LedgerURL):
                self.db = psycopg.connect(self.ledger.url, autocommit=True)
            elif self.ledger.exists():
                self.db = sqlite3.connect(self.ledger, isolation_level=None)
            else:
                return 0, 0
        try:
            [(accepted, sending)] = self.db.execute(self.STATE).fetchall()
        except (sqlite3.OperationalError, psycopg.errors.UndefinedTable):   # killed before the tables were made
            return 0, 0
        return accepted, sending

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


Worker = Started | subprocess.Popen[bytes]


def nightly(inbox: Path, config: Path, url: str, out: Path, ledger: Where, rate: int = 10,
            fresh: bool = False) -> Worker:
    """A worker: ``tango-batch nightly``, a process of its own, from the fork server (see forkserver),
    or ``fresh``: a new interpreter, whose string hashes are seeded otherwise than the server's, so
    that workers which order sets differently meet on one ledger."""
    env = {k: v for k, v in user_env().items() if not k.startswith("TANGO_")}
    args = ["nightly", "--inbox", str(inbox), "--config", str(config), "--target", url, "--output", str(out),
            "--ledger", ledger.url if isinstance(ledger, LedgerURL) else str(ledger), "--batch-size", "5",
            "--rate", str(rate), "--wait", "30"]
    if fresh:
        return subprocess.Popen([sys.executable, "-m", "pipeline", *args], cwd=ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return forkserver.popen(args, cwd=ROOT, env=env)


def let_it_work(job: Worker, ledger: Watcher, accepted_before: int, rng: random.Random) -> None:
    """Return at a random moment of the job's work: in start-up or pre-flight, with an order in
    flight, or a little after an order was accepted (no more than a few orders later)."""
    moment = rng.random()
    if moment < 0.25:
        time.sleep(rng.uniform(0.1, 1.5))
        return
    deadline = time.monotonic() + 60
    while job.poll() is None and time.monotonic() < deadline:
        accepted, sending = ledger.state()
        if accepted > accepted_before or (moment < 0.6 and sending > 0):
            time.sleep(rng.uniform(0.0, 0.25))
            return
        time.sleep(0.01)


def at_work(workers: list[Worker]) -> Worker | None:
    """The worker that holds the lock: the other ends at once (75), or waits its turn in start-up."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        running = [w for w in workers if w.poll() is None]
        if len(running) <= 1:
            return running[0] if running else None
        time.sleep(0.02)
    return workers[0]            # both still starting: kill the first, the other goes on


def test_sigkill_of_two_workers_at_random_moments_still_orders_every_valid_row_exactly_once(tmp_path, backend):
    rng = random.Random(2026)
    inbox, out, ledger = tmp_path / "inbox", tmp_path / "out", backend
    inbox.mkdir()
    write_csv(inbox / "q4-rewards.csv", sheet_rows())
    config = tmp_path / "campaign.toml"
    config.write_text('customerIdentifier = "acme-corp"\naccountIdentifier = "acme-rewards"\n'
                      'campaign = "crash test"\n')
    server, url = start_simulator(tmp_path / "sim.json")
    watcher = Watcher(ledger)
    try:
        kills, finished_early, mid_send, progressed, accepted, locked_out = 0, 0, 0, 0, 0, 0
        killed_by_worker = [0, 0]
        rounds = 0
        while kills < KILLS:
            # started one after the other, in an order drawn each round: the first started mostly gets
            # the lock (a forked worker starts in milliseconds), and each must be killed at work
            first = rng.randrange(2)
            started = {i: nightly(inbox, config, url, out, ledger, fresh=i == 1 and rounds % 3 == 2)
                       for i in (first, 1 - first)}
            rounds += 1
            workers = [started[0], started[1]]
            job = at_work(workers)
            if job is not None:
                let_it_work(job, watcher, accepted, rng)
            if job is not None and job.poll() is None:
                job.send_signal(signal.SIGKILL)
                job.wait()
                kills += 1
                killed_by_worker[workers.index(job)] += 1
                now_accepted, sending = watcher.state()
                mid_send += sending > 0              # killed with an order's outcome unknown
                progressed += now_accepted > accepted
                accepted = now_accepted
            else:
                finished_early += 1               # it got to the end first: try again
                assert finished_early < 2 * KILLS, "the job keeps finishing before it can be killed"
            for worker in workers:                # the other: it found the lock held, or works on now
                if worker is not job:
                    code = worker.wait(timeout=300)
                    locked_out += code == 75
                    assert code in (0, 1, 3, 75), code
        final = [nightly(inbox, config, url, out, ledger, rate=80, fresh=i == 1) for i in range(2)]
        codes = sorted(w.wait(timeout=300) for w in final)
        assert codes in ([1, 1], [1, 75]), codes       # 1: the invalid rows are there to fix; 75: lock held
        state = httpx.get(url.replace("/raas/v2", "") + "/_simulator/state", timeout=10).json()
        # the simulator's own record (its inspection endpoint is not rate-limited like the API)
        details = {line["externalRefLineItemID"]: (order["externalRefID"], line["referenceLineItemId"],
                                                   state["lineItemStatuses"][line["externalRefLineItemID"]])
                   for order in state["orders"] for line in order["lineItems"]}
        post_attempts = state["postAttempts"]
    finally:
        watcher.close()
        server.terminate()
        server.wait(timeout=10)

    counts = state["lineItemCounts"]
    duplicates = {k: v for k, v in counts.items() if v != 1}
    reports = list(out.glob("q4-rewards-*/report.xlsx"))
    assert len(reports) == 1, reports                    # one report per file, rewritten in place
    ws = openpyxl.load_workbook(reports[0])["Rows"]
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)]
    valid = [r for r in rows if r["Status"] != "INVALID"]
    lost = [r["Employee"] for r in valid if r["Line item ID"] not in counts]
    [(transient,)] = query(ledger, "SELECT COUNT(*) FROM http_log WHERE method = 'POST' AND (status IS NULL OR "
                                   "status >= 500 OR status = 429)")
    print(f"\ncrash test ({type(ledger).__name__}): {kills} kills ({killed_by_worker} per worker; {progressed} after "
          f"some orders went through, {mid_send} with an order in flight; {finished_early} runs ended before their "
          f"kill; {locked_out} found the other at work), {post_attempts} "
          f"order requests, {transient} of them retried after a 5xx/429/dropped answer, {len(counts)} line "
          f"items created, {len(duplicates)} duplicates, {len(lost)} lost")

    assert kills >= KILLS and min(killed_by_worker) > 0     # both workers were killed at work
    assert duplicates == {}
    assert lost == []
    assert len(rows) == VALID + INVALID and len(valid) == VALID
    assert len(counts) == VALID
    assert (inbox / "processed" / "q4-rewards.csv").exists()
    for row in valid:                                    # the report agrees with the simulator, row by row
        ref, reference, line_status = details[row["Line item ID"]]
        assert row["Status"] == "COMPLETE" == line_status, row
        assert row["Order ID"] == ref and row["Reference line item ID"] == reference
    summary = json.loads(reports[0].with_name("summary.json").read_text())
    assert summary["status_counts"]["COMPLETE"] == VALID and summary["status_counts"]["INVALID"] == INVALID
