"""Fixtures: the rule data, the check of a few rows, a fake clock and the in-process simulator."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.simulator import Simulator
from pipeline.stages.check import check_file
from pipeline.stages.validate import Validated
from rules import RuleBook
from tests.helpers import BOOK, TODAY, Clock, write_csv


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
