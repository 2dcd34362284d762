"""The simulator's state file (``pipeline/simulator/journal.py``): each change appended, and flushed,
before it is answered; a killed server loses nothing it answered; a change cut short by a kill is
ignored, then cut off; a damaged line is named; the state files of version 1 still load; the file
is compacted when its changes outgrow it, and a clean stop leaves one JSON document."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from pipeline.simulator import Simulator, journal
from tests.helpers import Clock
from tests.test_simulator import ACCOUNT, AUTH, CUSTOMER, START, client_for, line, order, simulator

ROOT = Path(__file__).resolve().parents[1]

# as the simulator of version 1 wrote it (commit d31178b): one JSON document, no newline at its end
VERSION_1 = (
    '{"version":1,"orders":{"ORD1":{"externalRefID":"ORD1","customerIdentifier":"cust-0001","accountIdentifier":'
    '"acct-0001","createdAt":"2026-05-28T20:26:40.000Z","createdTs":1780000000.0,"amountCharged":40,"lineItems":'
    '[{"referenceLineItemId":"RLCD4774369371","externalRefLineItemID":"ORD1-1","utid":"U761382","amount":25,'
    '"quantity":1,"deliveryMethod":"EMAIL","recipient":{"firstName":"Ann","lastName":"Lee","email":'
    '"ann@example.com"}},{"referenceLineItemId":"RL4CF57E7F6C0A","externalRefLineItemID":"ORD1-2","utid":'
    '"U761382","amount":15,"quantity":1,"deliveryMethod":"EMAIL","recipient":{"firstName":"Bo","lastName":"Lee",'
    '"email":"bo@example.com"}}],"failedLineItems":[],"duplicateLineItemRefIds":{}}},"accounts":{"acct-0001":'
    '{"customerIdentifier":"cust-0001","currencyCode":"USD","currentBalance":99960.0,"status":"ACTIVE",'
    '"displayName":"Simulator account acct-0001"}},"lineItemCounts":{"ORD1-1":1,"ORD1-2":1}}')


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


def refs(sim: Simulator) -> list[str]:
    return [o["externalRefID"] for o in sim.orders()]


def test_each_order_appends_one_line_and_leaves_what_was_written_untouched(tmp_path: Path, clock: Clock) -> None:
    state = tmp_path / "state.json"
    with client_for(simulator(clock, state_path=state)) as c:
        assert c.post("/asyncOrders", json=order("ORD1")).status_code == 201
        before = state.read_bytes()                      # read while the simulator runs: already there
        assert c.post("/asyncOrders", json=order("ORD2", line("L1"), line("L2"))).status_code == 201
        after = state.read_bytes()
    assert after.startswith(before)                      # nothing rewritten
    added = after[len(before):]
    assert added.count(b"\n") == 1 and added.endswith(b"\n")
    change = json.loads(added)
    assert change["kind"] == "order" and change["order"]["externalRefID"] == "ORD2"
    assert change["balance"] == 100_000 - 3 * 25
    assert json.loads(before.split(b"\n")[0])["version"] == journal.STATE_VERSION


def test_a_server_killed_after_answering_loses_no_order(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    server = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "simulate", "--port", "0", "--state", str(state),
         "--processing-delay", "0"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split("listening on ")[1].split()[0]
        with httpx.Client(base_url=url, auth=AUTH, timeout=10) as c:
            answers = [c.post("/asyncOrders", json=order(f"ORD{n}", line(f"L{n}", amount=10 + n))).status_code
                       for n in range(5)]
        server.send_signal(signal.SIGKILL)          # no clean stop: what it answered must be on disk already
        server.wait(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert answers == [201] * 5
    again = Simulator(state, processing_delay=0.0)
    assert refs(again) == [f"ORD{n}" for n in range(5)]
    assert again.balance(CUSTOMER, ACCOUNT) == 100_000 - sum(10 + n for n in range(5))
    with client_for(again) as c:                     # a retry of an answered order creates nothing
        assert c.post("/asyncOrders", json=order("ORD3", line("L3", amount=13))).status_code == 200
    assert again.line_item_counts() == {f"L{n}": 1 for n in range(5)}


def test_a_change_cut_short_by_a_kill_is_ignored_then_cut_off(tmp_path: Path, clock: Clock) -> None:
    state = tmp_path / "state.json"
    with client_for(simulator(clock, state_path=state)) as c:
        c.post("/asyncOrders", json=order("ORD1"))
        c.post("/asyncOrders", json=order("ORD2"))
    whole = state.read_bytes()
    # what a kill in the middle of appending the next change leaves: a line without its end
    torn = whole.split(b"\n")[-2].replace(b"ORD2", b"ORD3")
    state.write_bytes(whole + torn[: len(torn) // 2])

    again = simulator(clock, state_path=state)
    assert refs(again) == ["ORD1", "ORD2"]              # never answered, so never committed
    assert again.balance(CUSTOMER, ACCOUNT) == 100_000 - 2 * 25
    assert state.read_bytes() == whole + torn[: len(torn) // 2]   # loading writes nothing
    with client_for(again) as c:
        assert c.post("/asyncOrders", json=order("ORD4")).status_code == 201
    content = state.read_bytes()
    assert content.startswith(whole) and content.count(b"\n") == whole.count(b"\n") + 1
    assert refs(simulator(clock, state_path=state)) == ["ORD1", "ORD2", "ORD4"]


def test_a_damaged_line_is_named_not_skipped(tmp_path: Path, clock: Clock) -> None:
    state = tmp_path / "state.json"
    with client_for(simulator(clock, state_path=state)) as c:
        c.post("/asyncOrders", json=order("ORD1"))
        c.post("/asyncOrders", json=order("ORD2"))
    lines = state.read_bytes().split(b"\n")
    assert len(lines) == 5                               # snapshot, account, ORD1, ORD2, and the end
    lines[2] = lines[2][:40]                            # ORD1, cut short, yet followed by ORD2
    state.write_bytes(b"\n".join(lines))
    with pytest.raises(ValueError, match=r"state\.json: line 3 is damaged"):
        simulator(clock, state_path=state)


def test_a_state_file_of_version_1_loads_and_becomes_version_2_at_its_next_change(tmp_path: Path,
                                                                                 clock: Clock) -> None:
    state = tmp_path / "state.json"
    state.write_text(VERSION_1)
    old = simulator(clock, state_path=state)
    assert refs(old) == ["ORD1"] and old.line_item_counts() == {"ORD1-1": 1, "ORD1-2": 1}
    assert old.balance(CUSTOMER, ACCOUNT) == 99_960
    with client_for(old) as c:
        assert c.get(f"/asyncOrders/customers/{CUSTOMER}/accounts/{ACCOUNT}/ORD1").json()["totalLineItems"] == 2
        assert state.read_text() == VERSION_1          # reading changes nothing
        assert c.post("/asyncOrders", json=order("ORD1", line("ORD1-1"))).status_code == 200   # a replay
        assert state.read_text() == VERSION_1
        assert c.post("/asyncOrders", json=order("ORD2")).status_code == 201
    first, *changes = state.read_text().splitlines()
    assert json.loads(first)["version"] == 2 and len(changes) == 1
    again = simulator(clock, state_path=state)
    assert refs(again) == ["ORD1", "ORD2"] and again.balance(CUSTOMER, ACCOUNT) == 99_960 - 25
    # version 1 as a person may have indented it
    state.write_text(json.dumps(json.loads(VERSION_1), indent=2))
    assert refs(simulator(clock, state_path=state)) == ["ORD1"]


@pytest.mark.parametrize(("content", "said"), [
    ('{"version": 3, "orders": {}, "accounts": {}, "lineItemCounts": {}}\n', "unknown simulator state version 3"),
    ("orders: none\n", "not a simulator state file"),
    ('{"name": "a config file"}', "not a simulator state file"),
])
def test_a_file_that_is_no_state_file_of_this_simulator_is_said_plainly(tmp_path: Path, clock: Clock,
                                                                         content: str, said: str) -> None:
    state = tmp_path / "state.json"
    state.write_text(content)
    with pytest.raises(ValueError, match=said):
        simulator(clock, state_path=state)


def test_the_file_is_compacted_when_its_changes_outgrow_it(tmp_path: Path, clock: Clock,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal, "COMPACT_AT", 0)        # compaction due as soon as the changes outweigh it
    state = tmp_path / "sim" / "state.json"
    with client_for(simulator(clock, state_path=state)) as c:
        for n in range(6):
            assert c.post("/asyncOrders", json=order(f"ORD{n}")).status_code == 201
    assert sorted(os.listdir(state.parent)) == ["state.json"]       # no temporary file left behind
    # an account line and six order lines, but compacted: fewer lines after the snapshot
    assert len(state.read_bytes().splitlines()) < 1 + 1 + 6
    again = simulator(clock, state_path=state)
    assert refs(again) == [f"ORD{n}" for n in range(6)]
    assert again.balance(CUSTOMER, ACCOUNT) == 100_000 - 6 * 25
    assert again.line_item_counts() == {f"ORD{n}-1": 1 for n in range(6)}


def test_checkpoint_folds_the_changes_into_one_snapshot(tmp_path: Path, clock: Clock) -> None:
    state = tmp_path / "state.json"
    sim = simulator(clock, state_path=state)
    with client_for(sim) as c:
        c.post("/asyncOrders", json=order("ORD1"))
        c.post("/asyncOrders", json=order("ORD2"))
    assert len(state.read_text().splitlines()) == 4
    sim.checkpoint()
    document = json.loads(state.read_text())             # one JSON document again
    assert sorted(document["orders"]) == ["ORD1", "ORD2"] and document["lineItemCounts"] == {"ORD1-1": 1, "ORD2-1": 1}
    with client_for(sim) as c:                           # and changes go on being appended after it
        c.post("/asyncOrders", json=order("ORD3"))
    assert len(state.read_text().splitlines()) == 2
    assert refs(simulator(clock, state_path=state)) == ["ORD1", "ORD2", "ORD3"]
