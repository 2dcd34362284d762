"""What the desk's tests share: a desk of the test's own (its ledger, inbox, output and state under
``tmp_path``; the ledger on SQLite or, with the ``backend`` fixture, PostgreSQL), its users, a client
over httpx's ASGI transport, signing in, and the forms' CSRF tokens read from the pages."""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import re
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.config import Campaign, load_campaign
from pipeline.jobs import users as user_records
from pipeline.ledger import Ledger
from pipeline.ledger.desk import Decision
from pipeline.web.app import create_app
from pipeline.web.settings import DeskSettings
from pipeline.web.throttle import Throttle
from tests.helpers import BOOK, ROOT, TARGET, ledger_of

SAMPLE = ROOT / "samples" / "recipients.xlsx"
DESK_CAMPAIGN = load_campaign(ROOT / "samples" / "campaign-desk.toml", BOOK)
PASSWORD = "correct horse battery staple"
USERS = {"uma": "uploader", "bea": "approver", "ada": "admin", "ann": "approver"}
BASE = "http://desk.test"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="session")
def check_pool() -> Iterator[Executor]:
    """One worker process ("spawn", as the desk's own) for the checks of a test process's desks."""
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def settings_for(tmp_path: Path, campaign: Campaign = DESK_CAMPAIGN, **kw: Any) -> DeskSettings:
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    base: dict[str, Any] = dict(campaign=campaign, book=BOOK, target=TARGET, ledger=ledger_of(tmp_path), inbox=inbox,
                                output=tmp_path / "out", state=tmp_path / "desk", secret_key="s" * 48)
    return DeskSettings(**{**base, **kw})


def add_users(settings: DeskSettings, users: dict[str, str] = USERS) -> None:
    ledger = Ledger(settings.ledger, settings.target.namespace)
    try:
        hashed = user_records.hasher().hash(PASSWORD)       # the cheapest argon2id: see conftest
        for name, role in users.items():
            ledger.add_user(name, role, hashed)
    finally:
        ledger.close()


class Desk:
    """A desk under test: its settings, its application, and clients of it."""

    def __init__(self, settings: DeskSettings, executor: Executor | None, throttle: Throttle | None = None) -> None:
        self.settings = settings
        self.app = create_app(settings, executor, throttle)

    def client(self, address: str = "127.0.0.1", base_url: str = BASE) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app, client=(address, 1234)),
                                 base_url=base_url)

    def ledger(self) -> Ledger:
        return Ledger(self.settings.ledger, self.settings.target.namespace)

    def close(self) -> None:
        self.app.state.desk.checker.close()

    def replace(self, **kw: Any) -> None:
        """The same desk with other settings (its ledger and folders kept)."""
        self.settings = dataclasses.replace(self.settings, **kw)
        self.app.state.desk.settings = self.settings


@pytest.fixture
def desk(tmp_path: Path, check_pool: Executor) -> Iterator[Desk]:
    settings = settings_for(tmp_path)
    add_users(settings)
    made = Desk(settings, check_pool)
    try:
        yield made
    finally:
        made.close()


def csrf(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text[:500]
    return found[1]


async def sign_in(client: httpx.AsyncClient, name: str, password: str = PASSWORD) -> httpx.Response:
    token = csrf(await client.get("/signin"))
    return await client.post("/signin", data={"name": name, "password": password, "csrf_token": token,
                                              "next": "/upload"})


async def signed_in(desk: Desk, name: str, address: str = "127.0.0.1") -> httpx.AsyncClient:
    client = desk.client(address)
    answer = await sign_in(client, name)
    assert answer.status_code == 303 and answer.headers["location"] == "/upload", answer.text[:300]
    return client


async def token(client: httpx.AsyncClient, page: str = "/upload") -> str:
    return csrf(await client.get(page))


async def upload(client: httpx.AsyncClient, name: str, content: bytes, *, with_token: bool = True,
                 mime: str = "application/octet-stream") -> httpx.Response:
    data = {"csrf_token": await token(client)} if with_token else {}
    return await client.post("/upload", data=data, files={"file": (name, content, mime)})


async def checked(client: httpx.AsyncClient, answer: httpx.Response, seconds: float = 120) -> dict[str, Any]:
    """Follow an upload's check to its end; its last progress."""
    assert answer.status_code == 303, answer.text[:500]
    job = answer.headers["location"]
    assert job.startswith("/checks/")
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        progress: dict[str, Any] = (await client.get(f"{job}/progress")).json()
        if progress["state"] in ("done", "failed"):
            return {**progress, "job": job}
        await asyncio.sleep(0.1)
    raise AssertionError(f"the check of {job} did not end in {seconds} s")


def events(desk: Desk, sha256: str) -> list[tuple[str, str | None]]:
    ledger = desk.ledger()
    try:
        return [(e.event, e.actor) for e in ledger.file_events(sha256)]
    finally:
        ledger.close()


def decision(desk: Desk, sha256: str) -> Decision | None:
    ledger = desk.ledger()
    try:
        return ledger.decision(sha256)
    finally:
        ledger.close()
