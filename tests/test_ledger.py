"""Where the ledger lives, and how it holds against what HR and operators really do: the same
sheet fixed and run into another output folder, a new machine with an empty state folder, a ledger
left in an old output folder. Against the loopback simulator, through the command line. Then the
ledger's writes, directly: a batch's outcome line by line, the HTTP log, rows recorded twice."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from pipeline.ledger import Ledger, LineUpdate, RowRecord
from pipeline.model import BatchState, Status
from pipeline.state import LedgerURL, Where, choose_ledger
from tests.helpers import base_row, cli, created, people, report_rows, write_csv

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGN = 'customerIdentifier = "acme-corp"\naccountIdentifier = "acme-rewards"\ncampaign = "Q4"\n'


def test_the_ledger_lives_in_the_state_folder_not_under_output(tmp_path, tango, own_state_folder):
    config = tmp_path / "c.toml"
    config.write_text(CAMPAIGN)
    done = cli("run", write_csv(tmp_path / "a.csv", people(2)), "--config", config, "--target", tango,
               "--output", tmp_path / "A", "--wait", "5", "--rate", "20", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    ledger = own_state_folder / "tango-batch" / "ledgers" / "acme-corp.sqlite"
    assert ledger == choose_ledger(None, os.environ, "acme-corp", None) and ledger.is_file()
    assert not (tmp_path / "A" / "ledger.sqlite").exists()
    assert list((tmp_path / "A").glob("a-*/report.xlsx"))             # reports go where --output says
    where = cli("ledger", "where", "--config", config, cwd=tmp_path)
    assert where.stdout.strip() == str(ledger)


def test_a_fixed_sheet_rerun_into_another_output_folder_with_another_batch_size_orders_only_the_fixed_row(
        tmp_path, tango):
    config = tmp_path / "c.toml"
    config.write_text(CAMPAIGN)
    rows = people(21)
    rows[7]["Email"] = "p7@@example.com"                        # one row to fix
    first = cli("run", write_csv(tmp_path / "march.csv", rows), "--config", config, "--target", tango,
                "--output", tmp_path / "A", "--wait", "5", "--rate", "20", cwd=tmp_path)
    assert first.returncode == 1, first.stderr
    assert len(created(tango)) == 20
    rows[7]["Email"] = "p7@example.com"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    second = cli("run", write_csv(tmp_path / "march-fixed.csv", rows), "--config", config, "--target", tango,
                 "--output", elsewhere / "B", "--batch-size", "7", "--wait", "5", "--rate", "20", cwd=elsewhere)
    assert second.returncode == 0, second.stderr
    counts = created(tango)
    assert len(counts) == 21 and set(counts.values()) == {1}       # the fixed row only, once


def test_a_new_machine_stops_before_sending_and_after_a_rebuild_orders_only_what_tango_lacks(tmp_path, tango):
    config = tmp_path / "c.toml"
    config.write_text(CAMPAIGN)
    rows = people(6)
    first = cli("run", write_csv(tmp_path / "june.csv", rows[:4]), "--config", config, "--target", tango,
                "--output", tmp_path / "out", "--batch-size", "2", "--wait", "5", "--rate", "20", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert len(created(tango)) == 4
    # another machine: an empty state folder, another working folder; the same sheet with two more rows
    other = {"XDG_STATE_HOME": str(tmp_path / "other-machine" / "state")}
    (tmp_path / "other-machine").mkdir()
    sheet = write_csv(tmp_path / "june-all.csv", rows)
    stopped = cli("run", sheet, "--config", config, "--target", tango, "--output", "out", "--wait", "5",
                  "--rate", "20", cwd=tmp_path / "other-machine", env=other)
    assert stopped.returncode == 3
    assert "Tango holds 2 orders placed by tango-batch that the ledger" in stopped.stderr
    assert "ledger rebuild" in stopped.stderr
    assert len(created(tango)) == 4                             # nothing sent
    rebuilt = cli("ledger", "rebuild", "--config", config, "--target", tango, "--rate", "20",
                  cwd=tmp_path / "other-machine", env=other)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "2 read back" in rebuilt.stderr
    again = cli("run", sheet, "--config", config, "--target", tango, "--output", "out", "--wait", "5",
                "--rate", "20", cwd=tmp_path / "other-machine", env=other)
    assert again.returncode == 0, again.stderr
    counts = created(tango)
    assert len(counts) == 6 and set(counts.values()) == {1}      # the two new rows only


def test_a_ledger_left_in_an_old_output_folder_is_merged_not_abandoned(tmp_path, tango, own_state_folder):
    """Versions before this one kept the ledger at OUTPUT/ledger.sqlite."""
    config = tmp_path / "c.toml"
    config.write_text(CAMPAIGN)
    sheet = write_csv(tmp_path / "old.csv", people(3))
    old = cli("run", sheet, "--config", config, "--target", tango, "--output", tmp_path / "out",
              "--ledger", tmp_path / "out" / "ledger.sqlite", "--wait", "5", "--rate", "20", cwd=tmp_path)
    assert old.returncode == 0, old.stderr
    again = cli("run", sheet, "--config", config, "--target", tango, "--output", tmp_path / "out", "--wait", "5",
                "--rate", "20", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "merged the ledger found at" in again.stderr
    assert "3 DUPLICATE" in again.stderr                       # what the old ledger knew, the new one knows
    assert list((tmp_path / "out").glob("ledger.sqlite.merged-*")) and not (tmp_path / "out" / "ledger.sqlite").exists()
    assert set(created(tango).values()) == {1}
    merged = sqlite3.connect(own_state_folder / "tango-batch" / "ledgers" / "acme-corp.sqlite")
    assert merged.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 2


def test_merging_keeps_the_record_that_went_furthest(tmp_path, backend):
    from decimal import Decimal

    from pipeline.ledger import Ledger, LineUpdate
    from pipeline.ledger.merge import merge
    from pipeline.model import BatchState, Status
    from pipeline.stages.plan import LineItem

    def Item(id: str) -> LineItem:
        return LineItem(id, 0, 2, Decimal(5), 1, "EMAIL", {"utid": "U1"})

    a, b = Ledger(backend, "simulator"), Ledger(tmp_path / "b.sqlite", "simulator")
    for ledger in (a, b):
        run = ledger.start_run("run")
        ledger.add_pending(run, [Item("L1"), Item("L2")])
    run = b.start_run("run")
    payload = {"customerIdentifier": "acme-corp", "accountIdentifier": "acme-rewards"}
    b.begin_batch(run, "B1", "k", 0, payload, ["L1"])
    b.end_batch("B1", BatchState.ACCEPTED, http=201, request_id=None, attempts=1, message=None,
                lines=[LineUpdate("L1", Status.COMPLETE, "RL1")], run_id=run, final=True)
    b.close()
    merge(a, tmp_path / "b.sqlite")
    lines = a.lines(["L1", "L2"])
    assert lines["L1"].status == Status.COMPLETE and lines["L1"].reference_line_item_id == "RL1"
    assert lines["L2"].status == Status.PENDING
    assert a.batch("B1") is not None and [r["command"] for r in a.runs_since(None)] == ["run", "run", "run"]
    a.close()


def test_a_corrected_typo_is_held_not_paid_twice(tmp_path, tango):
    config = tmp_path / "c.toml"
    config.write_text(CAMPAIGN)
    row = base_row("EMAIL", First_Name="Ann", Last_Name="Smtih", Email="ann@example.com", Amount="50")
    first = cli("run", write_csv(tmp_path / "v1.csv", [row]), "--config", config, "--target", tango,
                "--output", tmp_path / "out", "--wait", "5", "--rate", "20", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    fixed = {**row, "Last Name": "Smith", "Amount": "5"}
    second = cli("run", write_csv(tmp_path / "v2.csv", [fixed]), "--config", config, "--target", tango,
                 "--output", tmp_path / "out", "--wait", "5", "--rate", "20", cwd=tmp_path)
    assert second.returncode == 1 and "1 HELD" in second.stderr
    assert len(created(tango)) == 1                              # not paid twice
    report = next((tmp_path / "out").glob("v2-*/report.xlsx"))
    [held] = report_rows(report)
    assert held["Status"] == "HELD"
    assert "Last Name was 'Smtih', now 'Smith'" in held["Errors"] and "Amount was '50', now '5'" in held["Errors"]
    assert "v1.csv, row 2" in held["Errors"] and "give this row its own Reference" in held["Errors"]
    meant = cli("run", write_csv(tmp_path / "v3.csv", [{**fixed, "Reference": "second-reward"}]), "--config",
                config, "--target", tango, "--output", tmp_path / "out", "--wait", "5", "--rate", "20", cwd=tmp_path)
    assert meant.returncode == 0, meant.stderr
    assert len(created(tango)) == 2                              # a second reward, on purpose


def test_a_row_of_the_same_file_ordered_under_an_older_id_is_never_ordered_again(tmp_path, tango):
    """A newer version reads a row a little differently (an invisible character now taken out of a
    name), so the row's line-item ID changes; the same file run again must not order it a second
    time, whoever the recipient (a NONE row has none for the recipient guard to find)."""
    config = tmp_path / "c.toml"
    config.write_text(CAMPAIGN)
    upload = write_csv(tmp_path / "up.csv", [base_row("NONE", First_Name="Ann"), base_row("NONE", First_Name="Cid",
                                                                                          Amount="35")])
    ledger = tmp_path / "ledger.sqlite"
    args = ("--config", config, "--target", tango, "--output", tmp_path / "out", "--ledger", ledger, "--no-wait",
            "--rate", "20")
    assert cli("run", upload, *args, cwd=tmp_path).returncode == 0
    # as if the version that ordered them had given Ann's row another ID than this version does
    db = sqlite3.connect(ledger)
    [(new_id,)] = db.execute("SELECT line_item_id FROM rows WHERE row_number = 2").fetchall()
    with db:
        db.execute("UPDATE line_items SET line_item_id = 'Lolder-version' WHERE line_item_id = ?", (new_id,))
        db.execute("UPDATE rows SET line_item_id = 'Lolder-version' WHERE line_item_id = ?", (new_id,))
        db.execute("UPDATE batch_members SET line_item_id = 'Lolder-version' WHERE line_item_id = ?", (new_id,))
    db.close()
    before = created(tango)
    again = cli("run", upload, *args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert created(tango) == before and sum(before.values()) == 2          # nothing ordered again
    last = sorted((tmp_path / "out").glob("up-*/report.xlsx"), key=lambda p: p.stat().st_mtime)[-1]
    rows = report_rows(last)
    assert [r["Status"] for r in rows] == ["DUPLICATE", "DUPLICATE"], rows
    assert rows[0]["Line item ID"] == "Lolder-version" and "Already ordered by run 1" in rows[0]["Warnings"]


# --- the ledger's writes, directly ---------------------------------------------------------------

@dataclass(frozen=True)
class Item:
    """A line item about to be sent, as the ledger takes it (``Sendable``)."""
    id: str
    amount: Decimal = Decimal("25")
    quantity: int = 1
    delivery_method: str = "EMAIL"
    recipient: str | None = None
    utid: str = "U761382"
    details: dict[str, str | None] = field(default_factory=dict)


def read(where: Where, sql: str) -> list[tuple]:
    """Rows of the ledger, as a database tool reads them (not through the ledger's own code)."""
    if isinstance(where, LedgerURL):
        with psycopg.connect(where.url) as db:
            return [tuple(r) for r in db.execute(sql).fetchall()]
    db = sqlite3.connect(where)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_a_batch_outcome_records_each_line_as_its_update_says(backend):
    ledger = Ledger(backend, "simulator")
    run = ledger.start_run("run")
    ids = ["L1", "L2", "L3", "L4"]
    ledger.add_pending(run, [Item(i, recipient=f"email:{i}@example.com") for i in ids])
    payload = {"customerIdentifier": "acme-corp", "accountIdentifier": "acme-rewards", "lineItems": []}
    ledger.begin_batch(run, "B1", "key", 0, payload, ids)
    assert {r.status for r in ledger.lines(ids).values()} == {Status.SENDING}
    ledger.end_batch("B1", BatchState.ACCEPTED, http=201, request_id="r1", attempts=1, message=None, run_id=run,
                     lines=[LineUpdate("L1", Status.SUBMITTED, "RL1"),
                            LineUpdate("L2", Status.PENDING),
                            LineUpdate("L3", Status.REJECTED, None, "Tango refused this line"),
                            LineUpdate("L4", Status.COMPLETE, "RL4", delivery="COMPLETED")])
    ledger.end_batch("B1", BatchState.ACCEPTED, http=200, request_id=None, attempts=0, message=None, run_id=run + 1,
                     lines=[LineUpdate("L1", Status.COMPLETE, None, delivery="COMPLETED")])
    got = ledger.lines(ids)
    # asked for more values than it holds (a million-row file), the ledger reads its own and matches them
    from pipeline.ledger.history import NARROW_FROM
    assert ledger.lines([*ids, *(f"Lnew{n}" for n in range(NARROW_FROM))]) == got
    recipients = [f"email:{i}@example.com" for i in ids]
    accepted = sorted(ledger.ordered_to(recipients), key=repr)
    assert [o.line_item_id for o in accepted] == ["L1", "L4"]
    more = [*recipients, *(f"email:n{n}@example.com" for n in range(NARROW_FROM))]
    assert sorted(ledger.ordered_to(more), key=repr) == accepted
    import polars as pl  # the guard asks with a polars column of its keys
    assert sorted(ledger.ordered_to(pl.Series(more)), key=repr) == accepted
    assert sorted(ledger.ordered_to(pl.Series(recipients)), key=repr) == accepted
    ledger.close()
    # Tango's reference kept when a later answer leaves it out; the run that had it accepted kept too
    assert (got["L1"].status, got["L1"].reference_line_item_id, got["L1"].batch_ref, got["L1"].accepted_run,
            got["L1"].delivery_status) == (Status.COMPLETE, "RL1", "B1", run, "COMPLETED")
    assert (got["L2"].status, got["L2"].batch_ref, got["L2"].accepted_run) == (Status.PENDING, None, None)
    assert (got["L3"].status, got["L3"].message, got["L3"].batch_ref, got["L3"].accepted_run) == (
        Status.REJECTED, "Tango refused this line", "B1", None)
    assert (got["L4"].status, got["L4"].reference_line_item_id, got["L4"].accepted_run) == (Status.COMPLETE, "RL4", run)


def test_http_log_rows_are_written_with_the_next_state_change_and_at_close(backend):
    ledger = Ledger(backend, "simulator")
    run = ledger.start_run("run")
    ledger.log_http(run, "GET", "/accounts/acme-rewards", 200, "r1", "ok")
    with pytest.raises(RuntimeError), ledger.tx():          # a state change that fails: they wait for the next
        raise RuntimeError("a bug in the middle of a state change")
    ledger.finish_run(run, 0)
    ledger.log_http(run, "POST", "/asyncOrders", None, None, "no answer")     # no state change after it
    ledger.close()
    assert read(backend, "SELECT run_id, method, path, status, request_id, outcome FROM http_log ORDER BY id") \
        == [(run, "GET", "/accounts/acme-rewards", 200, "r1", "ok"), (run, "POST", "/asyncOrders", None, None,
                                                                        "no answer")]


def test_rows_recorded_twice_in_a_run_are_one_row_each_with_the_last_status(backend):
    ledger = Ledger(backend, "simulator")
    run = ledger.start_run("run")
    ledger.record_rows(run, "sha", "a.csv", [RowRecord(2, "L1", Status.PENDING, None),
                                             RowRecord(3, None, Status.INVALID, "Email: not an e-mail address")])
    ledger.record_rows(run, "sha", "a.csv", [RowRecord(2, "L1", Status.COMPLETE, None),
                                             RowRecord(3, None, Status.INVALID, "Email: still not one")])
    query = "SELECT row_number, line_item_id, status, message FROM rows ORDER BY row_number"
    assert read(backend, query) == [(2, "L1", "COMPLETE", None), (3, None, "INVALID", "Email: still not one")]
    # a row whose line item changed is recorded with the new one
    ledger.record_rows(run, "sha", "a.csv", [RowRecord(2, "L1", Status.COMPLETE, None),
                                             RowRecord(3, "L3", Status.PENDING, None)])
    ledger.close()
    assert read(backend, query) == [(2, "L1", "COMPLETE", None), (3, "L3", "PENDING", None)]
    assert read(backend, "SELECT COUNT(*) FROM rows WHERE target = 'simulator' AND line_item_id = 'L3'") == [(1,)]
