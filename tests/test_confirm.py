"""Before money moves: ``run`` on a terminal shows what it is about to order and asks, driven here
through a real pseudo-terminal, as a person at a shell would meet it."""

from __future__ import annotations

import json
import os
import pty
import select
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import forkserver
from tests.helpers import EMAIL_CAMPAIGN as CAMPAIGN
from tests.helpers import cli, people, user_env, write_csv


def _setup(tmp_path: Path) -> list[str]:
    rows = [*people(3), {"First Name": "Bad", "Email": "not-an-email"}]
    rows[0]["Amount"] = "40"
    write_csv(tmp_path / "upload.csv", rows)
    (tmp_path / "c.toml").write_text(CAMPAIGN, encoding="utf-8")
    return ["run", "upload.csv", "--config", "c.toml", "--target", "simulator", "--output", "out",
            "--ledger", str(tmp_path / "ledger.sqlite"), "--no-wait"]


def _on_terminal(tmp_path: Path, args: list[str], answer: str | None, seconds: float | str = 60,
                 meanwhile: Callable[[], None] = lambda: None) -> tuple[int, str]:
    """``tango-batch ARGS`` with a pseudo-terminal for stdin and stderr; ``answer`` typed at the question.
    (A process of its own from the tests' fork server, its streams on the terminal as a shell's child
    has them.)"""
    main, secondary = pty.openpty()
    env = user_env(TANGO_BATCH_ANSWER_SECONDS=str(seconds))
    proc = forkserver.start(args, cwd=tmp_path, env=env, stdin=secondary, stdout=secondary, stderr=secondary)
    os.close(secondary)
    said, asked, deadline = b"", False, time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(main, 4096)
            except OSError:          # the other end closed: the command ended
                break
            if not chunk:
                break
            said += chunk
        if not asked and b"Type yes to send" in said and answer is not None:
            meanwhile()
            os.write(main, answer.encode() + b"\n")
            asked = True
        if proc.poll() is not None and not ready:
            break
    code = proc.wait(timeout=60)
    os.close(main)
    return code, said.decode("utf-8", "replace").replace("\r\n", "\n")


def _counts(tmp_path: Path) -> dict[str, int]:
    """The rows per status of the run's report (summary.json)."""
    summary = json.loads(next((tmp_path / "out").glob("upload-*/summary.json")).read_text(encoding="utf-8"))
    return {s: n for s, n in summary["status_counts"].items() if n}


def test_run_on_a_terminal_shows_the_order_and_a_no_sends_nothing(tmp_path):
    code, said = _on_terminal(tmp_path, _setup(tmp_path), "no")
    assert code == 4, said
    assert "About to order on the built-in Tango SIMULATOR" in said
    assert "3 rows, $90.00 in all" in said
    assert "reward U761382: 3 rows, $90.00" in said
    assert "by delivery method: EMAIL 3" in said
    assert "1 other rows will not be sent" in said
    assert "not confirmed: nothing was sent" in said
    assert not list((tmp_path / "out").glob("upload-*"))         # no report: nothing read into a run
    assert not (tmp_path / "ledger.sqlite").exists()


def test_a_yes_sends_and_no_answer_in_time_is_a_no(tmp_path):
    code, said = _on_terminal(tmp_path, _setup(tmp_path), None, seconds=1)
    assert code == 4 and "no answer: nothing sent" in said
    assert not (tmp_path / "ledger.sqlite").exists()
    code, said = _on_terminal(tmp_path, _setup(tmp_path), "yes")
    assert code == 1, said                                # the invalid row is to fix
    counts = _counts(tmp_path)
    assert counts["INVALID"] == 1 and counts.get("SUBMITTED", 0) + counts.get("COMPLETE", 0) == 3


@pytest.mark.parametrize("seconds", ["soon", "0", "-5", "nan", "inf", "1e10"])
def test_a_wait_for_the_answer_that_is_not_a_number_of_seconds_is_exit_64_before_anything(tmp_path, seconds):
    code, said = _on_terminal(tmp_path, _setup(tmp_path), "yes", seconds=seconds)
    assert code == 64, said
    assert f"TANGO_BATCH_ANSWER_SECONDS must be a number of seconds more than 0 and at most 86,400; it is " \
           f"'{seconds}'" in said
    assert "Traceback" not in said and "About to order" not in said
    assert not (tmp_path / "ledger.sqlite").exists()


def test_yes_and_no_terminal_never_ask(tmp_path):
    code, said = _on_terminal(tmp_path, [*_setup(tmp_path), "--yes"], None)
    assert code == 1 and "Type yes" not in said and "About to order" not in said
    cron = tmp_path / "cron"
    cron.mkdir()
    done = cli(*_setup(cron), cwd=cron)                  # no terminal: as cron runs it
    assert done.returncode == 1 and "Type yes" not in done.stderr
    assert _counts(cron)["INVALID"] == 1


def test_a_file_changed_while_the_person_reads_is_not_sent(tmp_path):
    def edit() -> None:                 # someone saves the sheet again, with one more row, before the yes
        write_csv(tmp_path / "upload.csv", people(5))
    code, said = _on_terminal(tmp_path, _setup(tmp_path), "yes", meanwhile=edit)
    assert code == 4 and "changed while you read: upload.csv" in said
    assert not (tmp_path / "ledger.sqlite").exists()
