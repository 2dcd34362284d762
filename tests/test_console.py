"""The console and the log for their readers: progress per batch, the report paths at the end, HTTP
lines in the log file (on the console only with --verbose), warnings at their level, JSON log lines
with fields, and --json summaries on stdout."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import EMAIL_CAMPAIGN as CAMPAIGN
from tests.helpers import cli, people, write_csv


def _files(tmp_path: Path, n: int = 5) -> None:
    write_csv(tmp_path / "upload.csv", [*people(n), {"First Name": "Bad", "Email": "nope"}])
    (tmp_path / "c.toml").write_text(CAMPAIGN, encoding="utf-8")


def _run(tmp_path: Path, *more: str):
    return cli("run", "upload.csv", "--config", "c.toml", "--target", "simulator", "--output", "out", "--ledger",
               tmp_path / "ledger.sqlite", "--wait", "20", *more, cwd=tmp_path)


def test_json_log_lines_carry_the_fields_of_each_event(tmp_path):
    _files(tmp_path)
    done = _run(tmp_path, "--log-format", "json", "--batch-size", "2")
    assert done.returncode == 1, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]          # every line is one JSON object
    events = {}
    for line in lines:
        assert {"time", "level", "event", "message"} <= set(line)
        events.setdefault(line["event"], []).append(line)
    checked = events["file_checked"][0]
    assert (checked["file"], checked["rows"], checked["lines"]) == ("upload.csv", 6, 5)
    batches = events["batch"]
    assert [(b["batch"], b["batches"], b["lines"]) for b in batches] == [(1, 3, 2), (2, 3, 2), (3, 3, 1)]
    assert all(b["order"].startswith("B") and b["amount"] > 0 for b in batches)
    reported = events["file_reported"][0]
    assert reported["counts"]["INVALID"] == 1 and reported["rows"] == 6
    assert reported["report"].endswith("report.xlsx") and reported["failures"].endswith("failures.xlsx")
    end = events["run_end"][0]
    assert end["exit_code"] == 1 and end["duration"] > 0 and end["counts"]["posts"] == 3
    assert "http" not in events                         # each request is in the log file, not on the console
    logged = [json.loads(line) for f in (tmp_path / "out" / "logs").iterdir()
              for line in f.read_text(encoding="utf-8").splitlines()]
    http = [line for line in logged if line["event"] == "http"]
    assert http and all({"method", "path", "status", "request_id"} <= set(line) for line in http)


def test_the_console_shows_batches_and_paths_and_http_only_when_verbose(tmp_path):
    _files(tmp_path)
    done = _run(tmp_path, "--batch-size", "3")
    assert "batch 1/2: sending 3 line items ($75.00) as order" in done.stderr
    assert "batch 2/2: sending 2 line items" in done.stderr
    assert "X-REQUEST-ID" not in done.stderr
    assert "rows to fix: out/upload-" in done.stderr and "failures.xlsx" in done.stderr
    assert done.stderr.rstrip().splitlines()[-1].split(" INFO ")[1].startswith("orders sent:")
    verbose = tmp_path / "verbose"
    verbose.mkdir()
    _files(verbose)
    shown = _run(verbose, "--verbose")
    assert "POST /asyncOrders -> 201" in shown.stderr and "X-REQUEST-ID" in shown.stderr


def test_warnings_and_errors_are_logged_at_their_level(tmp_path):
    _files(tmp_path)
    (tmp_path / "broken.csv").write_text("not,a,sheet\n", encoding="utf-8")
    done = cli("run", "upload.csv", "broken.csv", "--config", "c.toml", "--target", "simulator", "--output", "out",
               "--ledger", tmp_path / "ledger.sqlite", "--no-wait", "--log-format", "json", cwd=tmp_path)
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert errors and all("broken.csv" in line["message"] for line in errors)
    assert all(line["level"] == "INFO" for line in lines if line["event"] in ("file_checked", "batch"))


def test_json_summaries_on_stdout_for_validate_and_run(tmp_path):
    _files(tmp_path)
    done = cli("validate", "upload.csv", "--output", "out", "--json", cwd=tmp_path)
    printed = json.loads(done.stdout)
    assert printed["exit_code"] == done.returncode == 1
    assert printed["files"][0]["status_counts"] == {"VALID": 5, "INVALID": 1}
    assert printed["files"][0]["report"].endswith("report.xlsx")
    ran = _run(tmp_path, "--json")
    printed = json.loads(ran.stdout)
    assert printed["exit_code"] == 1 and printed["files"][0]["mode"] == "run"
    assert sum(printed["files"][0]["status_counts"].values()) == 6
