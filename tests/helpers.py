"""What the tests share: tiny upload files written on the fly, the settings and client of a run
against the in-process simulator, one fake clock, and reports read back as a user gets them.

Every run a test makes points its output, ledger and caches at the test's own temporary folder.
"""

from __future__ import annotations

import csv
import datetime as dt
import locale
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

import httpx
import openpyxl
import polars as pl
import pytest
import xlsxwriter

import rules
from pipeline.config import Campaign, RunSettings
from pipeline.jobs.nightly import nightly
from pipeline.jobs.results import RunResult
from pipeline.jobs.run import run_files
from pipeline.progress import Progress
from pipeline.simulator import Simulator
from pipeline.simulator.transport import SimulatorTransport
from pipeline.stages.validate import Validated
from pipeline.state import Where
from pipeline.tango import TangoClient
from pipeline.target import BasicCredentials, Target
from tests import forkserver

ROOT = Path(__file__).resolve().parents[1]
TODAY = dt.date(2026, 6, 1)
BOOK = rules.load()
AUTH = ("simulator", "simulator-key")
TARGET = Target("simulator", "http://simulator/raas/v2", "simulator", BasicCredentials(*AUTH))
CAMPAIGN = Campaign("acme-corp", "acme-rewards", campaign="Q4", path="c.toml")
METHODS = ["EMAIL", "PHONE", "EMBEDDED", "NONE", "ADDRESS", "BULKDIGITAL", "BULKSHIPMENT"]
# a campaign file whose defaults make an EMAIL row of a first name and an e-mail complete
EMAIL_CAMPAIGN = """customerIdentifier = "acme-corp"
accountIdentifier = "acme-rewards"
[defaults]
utid = "U761382"
amount = 25
deliveryMethod = "EMAIL"
"""

BASE = {
    "EMAIL": {"First Name": "Ann", "Last Name": "Lee", "Email": "ann.lee@example.com"},
    "PHONE": {"First Name": "Ann", "Last Name": "Lee", "Mobile": "+14155552671"},
    "EMBEDDED": {"First Name": "Ann", "Email": "ann.lee@example.com"},
    "NONE": {"First Name": "Ann"},
    "ADDRESS": {"First Name": "Ann", "Last Name": "Lee", "Street": "12 Beacon St", "City": "Boston",
                "State": "MA", "ZIP": "02108", "Country": "US", "Shipping Method": "usps1stclass"},
    "BULKDIGITAL": {"Qty": "25"},
    "BULKSHIPMENT": {"First Name": "Ann", "Last Name": "Lee", "Street": "12 Beacon St",
                     "City": "Boston", "State": "MA", "ZIP": "02108", "Country": "US",
                     "Shipping Method": "upsground", "Qty": "40"},
}


# --- upload files ------------------------------------------------------------------------------
def base_row(method: str, **cells: Any) -> dict[str, Any]:
    row = {"Delivery Method": method, "UTID": "U761382", "Amount": "25", **BASE[method]}
    for key, value in cells.items():
        row[key.replace("_", " ")] = value
    return row


def people(n: int, method: str = "EMAIL", **cells: Any) -> list[dict[str, Any]]:
    return [base_row(method, First_Name=f"P{i}", Email=f"p{i}@example.com", **cells) for i in range(n)]


def write_csv(path: Path, rows: list[dict[str, Any]], *, encoding: str = "utf-8",
              above: list[list[str]] | None = None) -> Path:
    header: list[str] = []
    for row in rows:
        header += [k for k in row if k not in header]
    with open(path, "w", newline="", encoding=encoding) as fh:
        out = csv.writer(fh)
        for line in above or []:
            out.writerow(line)
        out.writerow(header)
        for row in rows:
            out.writerow(["" if row.get(h) is None else row.get(h) for h in header])
    return path


def write_xlsx(path: Path, grid: list[list[Any]], *, sheet: str = "Sheet1",
               more: dict[str, list[list[Any]]] | None = None, report: bool = False) -> Path:
    """A workbook whose first sheet holds ``grid`` from A1 (None = empty cell; numbers stay numbers);
    ``report``: it carries the marker of the pipeline's own reports."""
    from pipeline.model import REPORT_MARKER
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False,
                                           "strings_to_urls": False})
    if report:
        book.set_custom_property(REPORT_MARKER, "1")
    date_fmt = book.add_format({"num_format": "yyyy-mm-dd"})
    for name, cells in {sheet: grid, **(more or {})}.items():
        ws = book.add_worksheet(name)
        for r, row in enumerate(cells):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, dt.date):
                    ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_fmt)
                elif isinstance(value, (int, float)):
                    ws.write_number(r, c, value)
                else:
                    ws.write_string(r, c, value)
    book.close()
    return path


# --- what the checks say ------------------------------------------------------------------------
def errors(result: Validated, idx: int = 0) -> set[str]:
    issues = result.issues.filter((pl.col("__idx__") == idx) & (pl.col("severity") == "error"))
    return set(issues["rule"].to_list())


def messages(result: Validated, idx: int = 0, severity: str = "error") -> list[str]:
    issues = result.issues.filter((pl.col("__idx__") == idx) & (pl.col("severity") == severity))
    return issues["text"].to_list()


def value(result: Validated, field: str, idx: int = 0) -> Any:
    return result.frame[field][idx]


# --- time ---------------------------------------------------------------------------------------
class Clock:
    """A fake clock: ``sleep`` moves time on at once (retries, rate limits and follow-ups take no
    time), and a test can move it by hand with ``advance``."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    advance = sleep


# --- runs against the in-process simulator ------------------------------------------------------
LEDGERS: dict[Path, Where] = {}             # a test's ledger in PostgreSQL (the ``backend`` fixture)


def ledger_of(tmp_path: Path) -> Where:
    """The ledger of the test whose folder is ``tmp_path``: its own database when the test runs on
    PostgreSQL (see the ``backend`` fixture), else a file in its folder."""
    return LEDGERS.get(tmp_path, tmp_path / "out" / "ledger.sqlite")


def run_settings(tmp_path: Path, **kw: Any) -> RunSettings:
    """Settings of a run whose output, ledger and caches are all under ``tmp_path``."""
    base: dict[str, Any] = dict(book=BOOK, campaign=CAMPAIGN, output=tmp_path / "out", today=TODAY, target=TARGET,
                                batch_size=100, wait=5.0, ledger=ledger_of(tmp_path))
    return RunSettings(**{**base, **kw})


def sim_client(transport: httpx.BaseTransport, clock: Clock) -> TangoClient:
    """A client that needs no sockets and spends no real time."""
    return TangoClient(TARGET.base_url, AUTH, transport=transport, rate=0, sleep=clock.sleep,
                       clock=clock)


def run_on(sim: Simulator, clock: Clock, files: list[Path], settings: RunSettings) -> RunResult:
    """``run`` of ``files`` against the in-process simulator ``sim``."""
    client = sim_client(SimulatorTransport(sim), clock)
    try:
        return run_files([str(f) for f in files], settings, quiet(), client)
    finally:
        client.close()


def nightly_on(sim: Simulator, clock: Clock, inbox: Path, settings: RunSettings) -> RunResult:
    """``nightly`` of ``inbox`` against the in-process simulator ``sim``."""
    client = sim_client(SimulatorTransport(sim), clock)
    try:
        return nightly(inbox, settings, quiet(), client)
    finally:
        client.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def quiet() -> Progress:
    return Progress(bar=False)


# --- reports read back as HR gets them -----------------------------------------------------------
def report_path(source: RunResult | Path | str, file_index: int = 0) -> Path:
    if isinstance(source, RunResult):
        return Path(source.files[file_index]["report"])
    return Path(source)


def report_rows(source: RunResult | Path | str, file_index: int = 0) -> list[dict[str, Any]]:
    ws = openpyxl.load_workbook(report_path(source, file_index))["Rows"]
    header = [c.value for c in ws[1]]
    return [dict(zip(header, row, strict=True)) for row in ws.iter_rows(min_row=2, values_only=True)]


def statuses(source: RunResult | Path | str, file_index: int = 0) -> list[str]:
    """The Status column of a report (a run's ``file_index``-th file, or a report.xlsx path)."""
    return [row["Status"] for row in report_rows(source, file_index)]


def assert_each_once(sim: Any, expected: int) -> None:
    """The simulator created ``expected`` line items, each exactly once."""
    counts = sim.line_item_counts()
    assert len(counts) == expected
    assert set(counts.values()) == {1}, {k: v for k, v in counts.items() if v != 1}


# --- the command line against the loopback simulator (the ``tango`` fixture) -------------------
# what the tests set for every command they run, in their own process or started: calls to the
# simulators paced at 50 a second (TANGO_BATCH_RATE), not Tango's 1, which would have the suite wait a
# second for each call, and the built-in simulator's orders completed at once (TANGO_SIMULATOR_DELAY),
# not after 2 s; pacing and pending orders are tested on their own (test_client, test_cli, test_submit)
TEST_SETTINGS = {"TANGO_BATCH_RATE": "50", "TANGO_SIMULATOR_DELAY": "0"}


def own_state(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """This process's environment for a test: the state folder ``folder`` (no test reads or writes the
    ledgers of the machine's user, under $XDG_STATE_HOME), no ledger from the environment, and
    ``TEST_SETTINGS``."""
    monkeypatch.setenv("XDG_STATE_HOME", str(folder))
    monkeypatch.delenv("TANGO_BATCH_LEDGER", raising=False)
    for name, value in TEST_SETTINGS.items():
        monkeypatch.setenv(name, value)


def user_env(**more: str) -> dict[str, str]:
    """The environment of a user's shell for ``tango-batch``: the caller's without its TANGO_* settings,
    the project on PYTHONPATH, ``TEST_SETTINGS`` (a test of other settings gives them), and ``more``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TANGO_")}
    return {**environment, "PYTHONPATH": str(ROOT), **TEST_SETTINGS, **more}


def cli(*args: object, cwd: Path, env: dict[str, str] | None = None,
        input: str | None = None) -> subprocess.CompletedProcess[str]:
    """``tango-batch ARGS`` as a user runs it (``user_env``, and ``env``), ``input`` on its stdin (else
    nothing): a process of its own, forked from one that has imported the pipeline already
    (``tests.forkserver``), or a fresh one when ``env`` changes what Python reads as it starts."""
    environment = user_env(**(env or {}))
    command = [sys.executable, "-m", "pipeline", *map(str, args)]
    if not forkserver.can_start(environment):
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=180, env=environment,
                              input=input or "")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as stdin:
        stdin.write((input or "").encode(locale.getpreferredencoding(False)))     # as subprocess.run does
        stdin.seek(0)
        started = forkserver.start(command[3:], cwd=cwd, env=environment, stdin=stdin.fileno(),
                                   stdout=out.fileno(), stderr=err.fileno())
        try:
            code = started.wait(timeout=180)
        except subprocess.TimeoutExpired:
            started.kill()
            started.wait()
            raise
        return subprocess.CompletedProcess(command, code, _text(out), _text(err))


def _text(file: IO[bytes]) -> str:
    """What ``subprocess.run(..., text=True)`` makes of a stream's bytes."""
    file.seek(0)
    text = file.read().decode(locale.getpreferredencoding(False))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def created(url: str) -> dict[str, int]:
    """externalRefLineItemID -> how many times the loopback simulator at ``url`` created it."""
    state = httpx.get(url.replace("/raas/v2", "") + "/_simulator/state", timeout=10).json()
    return dict(state["lineItemCounts"])
