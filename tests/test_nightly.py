"""The nightly job: inbox in arrival order, files known by content, one run at a time, logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.errors import Locked
from pipeline.jobs.nightly import nightly
from pipeline.lock import AdvisoryLocks, RunLock, run_lock
from pipeline.simulator import Simulator, SimulatorTransport
from pipeline.state import Where
from tests.helpers import (
    assert_each_once,
    base_row,
    ledger_of,
    people,
    quiet,
    run_settings,
    sim_client,
    statuses,
    write_csv,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def inbox(tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder

pytestmark = pytest.mark.usefixtures("backend")     # each test on an SQLite and a PostgreSQL ledger


def default_ledger(customer: str) -> Where:
    """Where the command keeps a customer's ledger when nothing says otherwise (the test's own state folder,
    or the test's PostgreSQL database, from TANGO_BATCH_LEDGER)."""
    from pipeline.state import choose_ledger
    return choose_ledger(None, os.environ, customer, None)


def held(tmp_path: Path) -> RunLock | AdvisoryLocks:
    """The lock a run of the test campaign (acme-corp, acme-rewards) holds on its ledger."""
    return run_lock(run_settings(tmp_path, ledger=default_ledger("acme-corp")))


def drop(inbox: Path, name: str, rows: list[dict], age: float = 0.0) -> Path:
    path = write_csv(inbox / name, rows)
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def night(tmp_path, inbox, sim, clock, **kw):
    client = sim_client(SimulatorTransport(sim), clock)
    try:
        return nightly(inbox, run_settings(tmp_path, **kw), quiet(), client)
    finally:
        client.close()


def test_files_are_processed_in_arrival_order_and_moved(tmp_path, inbox, sim, clock):
    drop(inbox, "b-newer.csv", people(2, Last_Name="New"), age=10)
    drop(inbox, "a-older.csv", people(2, Last_Name="Old"), age=100)
    result = night(tmp_path, inbox, sim, clock)
    assert result.code == 0
    assert [Path(o.path).name for o in result.outcomes] == ["a-older.csv", "b-newer.csv"]
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == ["a-older.csv", "b-newer.csv"]
    assert [p for p in inbox.iterdir() if p.is_file()] == []
    assert_each_once(sim, 4)


def test_the_same_file_dropped_again_is_reported_not_rerun(tmp_path, inbox, sim, clock):
    rows = people(3)
    drop(inbox, "march.csv", rows)
    night(tmp_path, inbox, sim, clock)
    attempts = sim.post_attempts()
    drop(inbox, "march (1).csv", rows)             # same bytes, another name
    result = night(tmp_path, inbox, sim, clock)
    assert result.outcomes == [] and sim.post_attempts() == attempts
    note = (inbox / "processed" / "march (1).csv.why.txt").read_text()
    assert "already processed as 'march.csv'" in note


def test_unreadable_files_are_rejected_with_a_note_and_the_rest_go_on(tmp_path, inbox, sim, clock):
    (inbox / "scan.pdf").write_bytes(b"%PDF-1.4")
    broken = inbox / "broken.xlsx"
    broken.write_bytes(b"not a workbook")
    drop(inbox, "good.csv", people(1))
    result = night(tmp_path, inbox, sim, clock)
    assert result.code == 2
    rejected = sorted(p.name for p in (inbox / "rejected").iterdir())
    assert rejected == ["broken.xlsx", "broken.xlsx.why.txt", "scan.pdf", "scan.pdf.why.txt"]
    assert "not a readable Excel workbook" in (inbox / "rejected" / "broken.xlsx.why.txt").read_text()
    assert (inbox / "processed" / "good.csv").exists()


def test_a_file_with_pending_rows_stays_and_is_continued_the_next_night(tmp_path, inbox, sim, clock):
    sim.set_balance("acme-corp", "acme-rewards", 30.0)
    drop(inbox, "bonus.csv", people(3))
    first = night(tmp_path, inbox, sim, clock)
    assert first.code == 3 and (inbox / "bonus.csv").exists()
    sim.set_balance("acme-corp", "acme-rewards", 1000.0)
    second = night(tmp_path, inbox, sim, clock)
    assert second.code == 0 and (inbox / "processed" / "bonus.csv").exists()
    assert statuses(Path(second.files[0]["report"])) == ["COMPLETE"] * 3
    assert Path(first.files[0]["report"]) == Path(second.files[0]["report"])   # one folder per file
    assert_each_once(sim, 3)


def test_orders_completing_later_rewrite_the_files_report(tmp_path, inbox, clock):
    slow = Simulator(None, processing_delay=3600.0, clock=clock, sleep=clock.sleep)
    drop(inbox, "slow.csv", people(2))
    first = night(tmp_path, inbox, slow, clock, wait=0.0)
    report = Path(first.files[0]["report"])
    assert statuses(report) == ["SUBMITTED", "SUBMITTED"]
    clock.now += 3601
    night(tmp_path, inbox, slow, clock, wait=5.0)          # an empty inbox: it finishes earlier work
    assert statuses(report) == ["COMPLETE", "COMPLETE"]


def test_one_run_at_a_time(tmp_path):
    ledger = tmp_path / "ledger.sqlite"
    with RunLock(ledger), pytest.raises(Locked, match="another tango-batch run is in progress \\(pid"), \
            RunLock(ledger):
        pass
    with RunLock(ledger):       # released: the next one gets it
        pass


def test_a_second_run_exits_75_at_once(tmp_path, inbox, capsys):
    config = tmp_path / "c.toml"
    config.write_text('customerIdentifier = "acme-corp"\naccountIdentifier = "acme-rewards"\n')
    with held(tmp_path):
        code = main(["nightly", "--inbox", str(inbox), "--config", str(config), "--output", str(tmp_path / "out")])
    assert code == 75
    assert "another tango-batch run" in capsys.readouterr().err


def test_a_lock_left_by_a_killed_run_does_not_block_the_next(tmp_path):
    ledger = tmp_path / "ledger.sqlite"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from pipeline.lock import RunLock\n"
        f"lock = RunLock(Path({str(ledger)!r})).__enter__(); print('locked', flush=True); time.sleep(60)")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(Locked), RunLock(ledger):
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with RunLock(ledger):
        pass


def test_logs_are_json_lines_masked_and_in_the_output_folder(tmp_path, inbox, capsys, monkeypatch):
    monkeypatch.setenv("TANGO_PLATFORM_KEY", "not-used-by-the-simulator")
    config = tmp_path / "c.toml"
    config.write_text('customerIdentifier = "acme-corp"\naccountIdentifier = "acme-rewards"\n')
    drop(inbox, "log.csv", [base_row("PHONE", Email="ann.lee@example.com", Mobile="12345678901234567")])
    out = tmp_path / "out"
    code = main(["nightly", "--inbox", str(inbox), "--config", str(config), "--output", str(out),
                 "--no-wait", "--log-format", "json"])
    assert code == 1
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "event", "message"} <= set(line) for line in lines)
    text = "\n".join(line["message"] for line in lines)
    assert "log.csv" in text and "rejected" not in text
    files = list((out / "logs").glob("tango-batch-*.log"))
    assert len(files) == 1 and files[0].read_text().count("\n") == len(lines)


def test_every_log_line_is_masked_and_secrets_blotted_out(tmp_path, capsys):
    import logging

    from pipeline.logs import setup
    path = setup(tmp_path, "text", secrets=["s3cr3t-key"])
    logging.getLogger("tango_batch.submit").info("Tango refused %s: recipient.email ann.lee@example.com, "
                                                 "mobile +14155552671, auth s3cr3t-key", "B1")
    for text in (capsys.readouterr().err, path.read_text()):
        assert "Tango refused B1" in text
        assert "ann.lee@example.com" not in text and "a***@example.com" in text
        assert "+14155552671" not in text and "s3cr3t-key" not in text


def test_masking():
    from pipeline.logs import mask
    assert mask("to jane.doe@example.com and +1 (415) 555-2671") == "to j***@example.com and +* (***) ***-**71"
    assert mask("mobile +14155552671.") == "mobile +*********71."
    untouched = ("order B448f9a4b8132c36ca row 12 amount 1000.50 id 71fda7f8-8d74-4def-bf18-d83b771c2023 "
                 "report output/recipients-20261122-083711/report.xlsx started 2026-11-22 08:37:11")
    assert mask(untouched) == untouched


def test_a_file_processed_but_not_moved_is_just_moved(tmp_path, inbox, sim, clock):
    path = drop(inbox, "late.csv", people(2))
    night(tmp_path, inbox, sim, clock)
    # as if killed between the report and the move: the file, and the ledger's note of it, in the inbox
    (inbox / "processed" / "late.csv").rename(path)
    from pipeline.jobs.nightly import _sha256
    from pipeline.ledger import Ledger
    ledger = Ledger(ledger_of(tmp_path), "simulator")
    ledger.file_update(_sha256(path), path=str(path.resolve()))
    ledger.close()
    attempts = sim.post_attempts()
    night(tmp_path, inbox, sim, clock)
    assert (inbox / "processed" / "late.csv").exists() and not (inbox / "processed" / "late.csv.why.txt").exists()
    assert sim.post_attempts() == attempts


def test_status_during_a_run_reads_the_ledger_without_acting(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text('customerIdentifier = "acme-corp"\naccountIdentifier = "acme-rewards"\n')
    upload = write_csv(tmp_path / "st.csv", [base_row("EMAIL"), base_row("PHONE", Mobile="1")])
    out = tmp_path / "out"
    assert main(["run", str(upload), "--config", str(config), "--output", str(out), "--no-wait"]) == 1
    capsys.readouterr()
    with held(tmp_path):
        assert main(["status", "--output", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["rows"] == {"INVALID": 1, "SUBMITTED": 1}
    assert report["unfinished_orders"] and "a run is in progress" in captured.err
    assert "GET /asyncOrders" not in captured.err


def test_a_secret_shaped_like_a_phone_number_is_blotted_out_whole():
    import logging

    from pipeline.logs import _Mask
    record = logging.LogRecord("tango_batch", logging.INFO, __file__, 1, "key is 4155552671 ok", None, None)
    _Mask(["4155552671"]).filter(record)
    assert record.getMessage() == "key is [secret] ok"
