"""Fixtures: a state folder of each test's own, the rule data, the check of a few rows, a fake clock
the in-process simulator and the loopback one."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.simulator import Simulator
from pipeline.stages.check import check_file
from pipeline.stages.validate import Validated
from pipeline.state import LEDGER_ENV, Where, ledger_at
from rules import RuleBook
from tests import forkserver, pg
from tests.helpers import BOOK, LEDGERS, ROOT, TODAY, Clock, own_state, user_env, write_csv
from tests.web import anyio_backend, check_pool, desk  # noqa: F401  (the HR desk's fixtures: tests/web.py)


@pytest.fixture(autouse=True)
def own_state_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test has its own state folder, and the settings of ``helpers.own_state``, as the commands
    it starts have (``helpers.user_env``)."""
    folder = tmp_path / "state"
    own_state(monkeypatch, folder)
    return folder


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The desk's passwords hashed and checked, in the test's process, with argon2id's cheapest
    parameters: its recommended ones cost 0.25 s of CPU a hash or a check, by design, and the desk's
    tests sign in hundreds of times (36 s of the suite's CPU). ``tango-batch users``, in a process of its
    own, keeps the recommended ones, and test_users checks that the hashes it makes have them."""
    from argon2 import PasswordHasher, profiles

    from pipeline.jobs import users
    monkeypatch.setattr(users, "hasher", lambda: PasswordHasher.from_parameters(profiles.CHEAPEST))


@pytest.fixture(scope="session")
def postgres() -> Iterator[pg.PgServer]:
    """A PostgreSQL server of this test process's own (see tests/pg.py)."""
    server = pg.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            own_state_folder: Path) -> Iterator[Where]:
    """The test runs twice: on an SQLite ledger (a file in its folder), and on a PostgreSQL ledger (a
    database of its own), which ``tests.helpers.ledger_of`` and the command line (TANGO_BATCH_LEDGER) then
    use; its value is the ledger."""
    if request.param == "sqlite":
        yield tmp_path / "out" / "ledger.sqlite"
        return
    server: pg.PgServer = request.getfixturevalue("postgres")
    url = server.new_database()
    monkeypatch.setenv(LEDGER_ENV, url)
    where = ledger_at(url, {"XDG_STATE_HOME": str(own_state_folder)})
    LEDGERS[tmp_path] = where
    try:
        yield where
    finally:
        del LEDGERS[tmp_path]


@pytest.fixture(scope="session")
def book() -> RuleBook:
    return BOOK


@pytest.fixture
def check(tmp_path: Path) -> Callable[..., Validated]:
    """Run ingest → normalize → validate on rows given as dicts; returns the Validated result."""
    counter = iter(range(10_000))

    def run(rows: list[dict[str, Any]], defaults: dict[str, str] | None = None,
            today: dt.date = TODAY, book: RuleBook = BOOK) -> Validated:
        path = write_csv(tmp_path / f"upload{next(counter)}.csv", rows)
        return check_file(path, book, today=today, defaults=defaults or {}).validated
    return run


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(clock: Clock) -> Simulator:
    """The in-process simulator, processing orders at once."""
    return Simulator(None, processing_delay=0.0, clock=clock, sleep=clock.sleep)


@pytest.fixture
def tango(tmp_path: Path) -> Iterator[str]:
    """A loopback simulator, as `tango-batch simulate` runs it; its base URL."""
    server = forkserver.popen(["simulate", "--port", "0", "--state", str(tmp_path / "tango.json"),
                               "--processing-delay", "0"], cwd=ROOT, env=user_env(), stdout=True)
    try:
        assert server.stdout is not None
        yield server.stdout.readline().split("listening on ")[1].split()[0]
    finally:
        server.terminate()
        server.wait(timeout=10)


# the browser test (tests/test_web_browser.py): Debian's Chromium, never a browser Playwright downloads
CHROMIUM = os.environ.get("CHROMIUM_BIN") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def page() -> Iterator[Any]:
    """A page of a headless Chromium of the system's, driven by Playwright, for one test. Playwright's
    own loop is stopped when the test ends (a session-long one would stay the running event loop of
    the test process, and the desk's async tests after it could not start theirs). The flags spare
    this closed network Chromium's background connections (see ../shared/recipes/browser-tests.md)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--disable-background-networking", "--disable-component-update",
                                            "--no-first-run", "--disable-sync", "--disable-dev-shm-usage"])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            yield context.new_page()
            context.close()
        finally:
            browser.close()
