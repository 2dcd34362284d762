"""The ledger in PostgreSQL, shared by workers on several machines: a URL the tool cannot use is
refused (never taken for a file name), a password never shown; the schema migrated on start; an
SQLite ledger imported whole; the audit trail exported; and the locks: per account, released by
the server when a worker dies, never blocking a run of another account.

Against a real PostgreSQL server the tests start themselves (see tests/pg.py)."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from pipeline.errors import Locked, UsageError
from pipeline.ledger import Ledger
from pipeline.ledger.schema import MIGRATIONS
from pipeline.lock import AdvisoryLocks, run_lock
from pipeline.state import LedgerURL, ledger_at, masked_url
from tests import pg
from tests.helpers import ROOT, cli, created, people, run_settings, write_csv

SCHEMA = len(MIGRATIONS)
CAMPAIGN = 'customerIdentifier = "acme-corp"\naccountIdentifier = "acme-rewards"\ncampaign = "Q4"\n'


def test_a_url_of_another_kind_is_refused_not_taken_for_a_file_name(tmp_path):
    for url in ("mysql://user@db.example.com/rewards", "sqlite:///tmp/x.sqlite", "postgresql:/no-host/db",
                "https://example.com/ledger"):
        with pytest.raises(UsageError, match=r"a ledger is an SQLite file .* or a PostgreSQL database"):
            ledger_at(url, {})
    done = cli("ledger", "where", "--ledger", "mysql://user:hunter2@db.example.com/rewards", cwd=tmp_path)
    assert done.returncode == 64 and "hunter2" not in done.stderr and "'mysql://***@db.example.com" in done.stderr
    assert list(tmp_path.iterdir()) == []                       # no folder named 'mysql:'
    assert ledger_at("C:/ledgers/acme.sqlite", {}) == Path("C:/ledgers/acme.sqlite")    # a drive is no scheme


def test_an_unreachable_server_stops_with_its_address_and_never_its_password(tmp_path):
    """The report of the issue: --ledger postgresql://... once made an SQLite file in a folder named
    'postgresql:'. Now: a message naming the server (the password masked), exit 3, no such folder."""
    (tmp_path / "c.toml").write_text(CAMPAIGN)
    url = "postgresql://tango:s3cret-pw@127.0.0.1:9/rewards"       # port 9: nobody listens
    done = cli("run", write_csv(tmp_path / "a.csv", people(1)), "--config", tmp_path / "c.toml", "--ledger", url,
               "--output", tmp_path / "out", "--yes", cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    assert "the ledger postgresql://***@127.0.0.1:9/rewards cannot be reached" in done.stderr
    assert "PGPASSWORD" in done.stderr and "s3cret-pw" not in done.stderr + done.stdout
    assert not list(tmp_path.rglob("postgresql:*"))
    assert "s3cret-pw" not in "".join(p.read_text() for p in (tmp_path / "out").rglob("*.log"))
    assert masked_url("postgresql://u@h/db?password=x&sslmode=require") == \
        "postgresql://u@h/db?password=***&sslmode=require"
    assert masked_url("postgresql://tango:s3cret-pw@127.0.0.1:9/rewards") == "postgresql://tango:***@127.0.0.1:9/rewards"
    # libpq takes '#', '?' and '/' in a password as they are: so does the masking
    for secret in ("1234#Secret", "9999?Secret", "hunter#x", "p/w@rd"):
        assert masked_url(f"postgresql://tango:{secret}@db.internal/rewards") == \
            "postgresql://tango:***@db.internal/rewards"
    assert masked_url("postgresql://u@h/db?sslpassword=x") == "postgresql://u@h/db?sslpassword=***"
    shown = cli("ledger", "where", "--ledger", "postgresql://tango:1234#Secret@db.internal/rewards", cwd=tmp_path)
    assert shown.returncode == 0 and "Secret" not in shown.stdout + shown.stderr
    multi = cli("ledger", "where", "--ledger", "postgresql://db1:5432,db2:5433/rewards", cwd=tmp_path)
    assert multi.returncode == 0 and multi.stdout.strip() == "postgresql://db1:5432,db2:5433/rewards"


def test_a_campaign_file_may_not_hold_the_databases_password(tmp_path):
    for password in ("pw", "9999?Secret", "1#2"):
        (tmp_path / "c.toml").write_text(CAMPAIGN + f'ledger = "postgresql://tango:{password}@db.internal/rewards"\n')
        done = cli("ledger", "where", "--config", tmp_path / "c.toml", cwd=tmp_path)
        assert done.returncode == 64 and "PGPASSWORD" in done.stderr and password not in done.stderr + done.stdout
    (tmp_path / "c.toml").write_text(CAMPAIGN + 'ledger = "postgresql://tango@db.internal/rewards"\n')
    done = cli("ledger", "where", "--config", tmp_path / "c.toml", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == "postgresql://tango@db.internal/rewards"


def test_the_schema_is_migrated_on_start_and_by_ledger_migrate(tmp_path, postgres):
    url = postgres.new_database()
    first = cli("ledger", "migrate", "--ledger", url, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"schema {SCHEMA} (was 0)" in first.stderr
    again = cli("ledger", "migrate", "--ledger", url, cwd=tmp_path)
    assert f"schema {SCHEMA}, up to date" in again.stderr
    with psycopg.connect(url) as db:
        assert db.execute("SELECT version FROM ledger_schema").fetchall() == [(SCHEMA,)]
        columns = db.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'line_items'"
                             " ORDER BY ordinal_position").fetchall()
    sqlite = Ledger(tmp_path / "l.sqlite", "simulator")
    same = [r[1] for r in sqlite.db.execute("PRAGMA table_info(line_items)")]
    sqlite.close()
    assert [c[0] for c in columns] == same                      # one schema: the columns in the same order


def test_several_processes_opening_a_new_database_migrate_it_once(postgres):
    """Workers starting at the same moment on a new database: one migrates, the others wait and find
    it done."""
    url = postgres.new_database()
    code = ("import sys; from pipeline.ledger import Ledger; from pipeline.state import ledger_at\n"
            "Ledger(ledger_at(sys.argv[1], {}), 'simulator').close()")
    procs = [subprocess.Popen([sys.executable, "-c", code, url], cwd=ROOT, stderr=subprocess.PIPE, text=True)
             for _ in range(8)]
    for proc in procs:
        assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    with psycopg.connect(url) as db:
        assert db.execute("SELECT version FROM ledger_schema").fetchall() == [(SCHEMA,)]


def test_an_sqlite_ledger_imported_into_postgresql_orders_nothing_twice_and_exports_its_audit_trail(
        tmp_path, tango, postgres):
    (tmp_path / "c.toml").write_text(CAMPAIGN)
    sheet = write_csv(tmp_path / "=march.csv", people(5))        # a file name Excel would take for a formula
    old = tmp_path / "old.sqlite"
    common = ("--config", tmp_path / "c.toml", "--target", tango, "--output", tmp_path / "out", "--rate", "20")
    first = cli("run", sheet, *common, "--ledger", old, "--batch-size", "2", "--wait", "5", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert len(created(tango)) == 5
    url = postgres.new_database()
    imported = cli("ledger", "import", old, *common, "--ledger", url, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert "(1 runs, 5 line items, 3 orders)" in imported.stderr and list(tmp_path.glob("old.sqlite.merged-*"))
    again = cli("run", sheet, *common, "--ledger", url, "--wait", "5", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "5 DUPLICATE" in again.stderr and set(created(tango).values()) == {1}      # nothing ordered twice
    # the run ids continue after the imported ones
    with psycopg.connect(url) as db:
        assert [r[0] for r in db.execute("SELECT id FROM runs ORDER BY id")] == [1, 2]

    exported = cli("ledger", "export", "--ledger", url, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    records = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(records) == 5 and {r["status"] for r in records} == {"COMPLETE"}
    assert {r["order"] for r in records} == {r["externalRefID"] for r in _orders(tango)}
    assert {r["account"] for r in records} == {"acme-rewards"}
    assert {r["file"] for r in records} == {"'=march.csv"}             # the latest run's row; never a formula
    assert sorted(int(r["row"]) for r in records) == [2, 3, 4, 5, 6]
    assert "@example.com" not in exported.stdout                       # no personal data
    jsonl = cli("ledger", "export", "--ledger", url, "--format", "jsonl", "--to", tmp_path / "audit.jsonl",
                cwd=tmp_path)
    assert jsonl.returncode == 0 and "5 line items exported" in jsonl.stderr
    lines = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert {line["file"] for line in lines} == {"=march.csv"} and all(Decimal(line["amount"]) for line in lines)


def _orders(tango: str) -> list[dict]:
    import httpx
    return list(httpx.get(tango.replace("/raas/v2", "") + "/_simulator/state", timeout=10).json()["orders"])


# --- the locks --------------------------------------------------------------------------------------

def _locks(where: LedgerURL, *accounts: str) -> AdvisoryLocks:
    return AdvisoryLocks(where, "simulator", [("acme-corp", a) for a in accounts])


def test_one_worker_per_account_and_the_whole_ledger_alone(postgres, own_state_folder):
    where = ledger_at(postgres.new_database(), {})
    assert isinstance(where, LedgerURL)
    with _locks(where, "acme-rewards"):
        with pytest.raises(Locked, match=r"holds account acme-rewards .*tango-batch pid \d+ on "):
            _locks(where, "acme-rewards").__enter__()
        with pytest.raises(Locked, match="holds account acme-rewards"):        # several: none taken
            _locks(where, "acme-bonus", "acme-rewards").__enter__()
        with _locks(where, "acme-bonus"):                                     # another account: at once
            pass
        with pytest.raises(Locked, match="the whole ledger"):                  # merge, import: alone
            AdvisoryLocks(where, "simulator", None).__enter__()
    with _locks(where, "acme-bonus", "acme-rewards"):                          # released: the next gets them
        pass
    settings = run_settings(Path("."), ledger=where)
    lock = run_lock(settings)
    assert isinstance(lock, AdvisoryLocks) and lock.accounts == [("acme-corp", "acme-rewards")]


def test_locks_are_given_back_before_their_session_ends(postgres):
    # closing the session alone releases them only once the server's process has seen it close, a
    # moment later: a run started in that moment was told another held them (a flaky test found it).
    # The count is asked on a session opened before, so it comes at once after the release.
    import psycopg
    where = ledger_at(postgres.new_database(), {})
    assert isinstance(where, LedgerURL)
    query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    with psycopg.connect(where.url, autocommit=True) as observer:
        for _ in range(20):
            with _locks(where, "acme-rewards"):
                with pytest.raises(Locked):                                   # refused: it keeps none
                    _locks(where, "acme-bonus", "acme-rewards").__enter__()
                assert observer.execute(query).fetchone()[0] == 2             # the whole ledger, the account
            assert observer.execute(query).fetchone()[0] == 0


def test_a_killed_worker_never_blocks_the_next(postgres):
    url = postgres.new_database()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pipeline.lock import AdvisoryLocks; from pipeline.state import ledger_at\n"
        "lock = AdvisoryLocks(ledger_at(sys.argv[1], {}), 'simulator', [('acme-corp', 'acme-rewards')])\n"
        "lock.__enter__()\n"
        "print('locked', flush=True); time.sleep(60)"), url], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    where = ledger_at(url, {})
    assert isinstance(where, LedgerURL)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(Locked):
            _locks(where, "acme-rewards").__enter__()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the server notices the closed connection at once; allow it a moment
    for _ in range(50):
        try:
            with _locks(where, "acme-rewards"):
                return
        except Locked:
            import time
            time.sleep(0.1)
    raise AssertionError("the lock of a killed worker was never released")


def test_validate_reads_a_postgresql_ledger_and_writes_nothing_there(tmp_path, tango, postgres):
    """validate --config with an older ledger under --output: merged into a view of the ledger
    (a transaction never committed), so the database is left as it was."""
    (tmp_path / "c.toml").write_text(CAMPAIGN)
    sheet = write_csv(tmp_path / "v.csv", people(3))
    old = tmp_path / "out" / "ledger.sqlite"                    # where versions before 0.2 kept it
    common = ("--config", tmp_path / "c.toml", "--target", tango, "--output", tmp_path / "out")
    assert cli("run", sheet, *common, "--ledger", old, "--wait", "5", "--rate", "20", cwd=tmp_path).returncode == 0
    url = postgres.new_database()
    assert cli("ledger", "migrate", "--ledger", url, cwd=tmp_path).returncode == 0
    checked = cli("validate", sheet, *common, "--ledger", url, "--json", cwd=tmp_path)
    assert checked.returncode in (0, 1), checked.stderr
    statuses = {k: v for k, v in json.loads(checked.stdout)["files"][0]["status_counts"].items() if v}
    assert statuses == {"DUPLICATE": 3}, statuses                # the older ledger's orders were seen
    with psycopg.connect(url) as db:
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone() == (0,)
        assert db.execute("SELECT COUNT(*) FROM line_items").fetchone() == (0,)


def test_the_test_server_runs_as_an_unprivileged_user(postgres):
    """initdb refuses root: as root, the fixture runs the server as another user."""
    with psycopg.connect(postgres.url()) as db:
        folder = db.execute("SHOW data_directory").fetchone()[0]
    owner = Path(folder).stat().st_uid
    assert (postgres.runner is None) or (owner == postgres.runner.pw_uid != 0)
    assert pg.bin_folder().joinpath("initdb").exists()


def test_a_server_lost_mid_run_stops_it_with_a_message_not_a_traceback(postgres):
    """The server restarts, or a DBA ends the session: the next state change says so by name (exit 3:
    run the same command again), and what was committed before is there."""
    from pipeline.errors import LedgerUnusable
    where = ledger_at(postgres.new_database(), {})
    ledger = Ledger(where, "simulator")
    run = ledger.start_run("run")
    with psycopg.connect(postgres.url(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE "
                      "'tango-batch pid %'")
    with pytest.raises(LedgerUnusable, match=r"cannot (be reached|be used) .*nothing already recorded was lost"):
        ledger.finish_run(run, 0)
    ledger.log_http(run, "GET", "/accounts/x", 200, None, "ok")
    ledger.close()                                  # a lost server: closing says nothing more, raises nothing
    again = Ledger(where, "simulator")
    try:
        assert [r["id"] for r in again.runs_since(None)] == [run]
    finally:
        again.close()


def test_a_run_whose_locks_were_lost_sends_nothing_more(postgres):
    """The server ends the session that holds a worker's locks (a restart, an administrator): another
    worker may take them now, so this one must not write ahead, let alone send, another batch."""
    from pipeline.errors import LedgerUnusable
    where = ledger_at(postgres.new_database(), {})
    assert isinstance(where, LedgerURL)
    locks = _locks(where, "acme-rewards").__enter__()
    ledger = Ledger(where, "simulator")
    try:
        run = ledger.start_run("run")
        payload = {"customerIdentifier": "acme-corp", "accountIdentifier": "acme-rewards"}
        ledger.begin_batch(run, "B1", "k1", 0, payload, [])                  # held: written ahead
        with psycopg.connect(postgres.url(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (locks.db.info.backend_pid,))
        with pytest.raises(LedgerUnusable, match=r"locks in the ledger .* were lost"):
            ledger.begin_batch(run, "B2", "k2", 0, payload, [])
        assert ledger.batch("B2") is None and ledger.batch("B1") is not None
        with _locks(where, "acme-rewards"):                                    # another worker may now
            pass
    finally:
        ledger.close()
        locks.__exit__(None, None, None)
