"""Submission end to end against the in-process simulator: every row ordered exactly once.

Each test drives ``run_files`` (the ``run`` command's job) with a client whose transport is the
simulator and whose sleep is a no-op, then checks the rows' statuses, the ledger and what the
simulator actually created.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openpyxl
import pytest

from pipeline.jobs.run import run_files
from pipeline.ledger import Ledger
from pipeline.simulator import Faults, Simulator, SimulatorTransport
from pipeline.state import beside
from tests.helpers import (
    AUTH,
    METHODS,
    TARGET,
    Clock,
    assert_each_once,
    base_row,
    ledger_of,
    people,
    quiet,
    report_rows,
    run_settings,
    sim_client,
    statuses,
    write_csv,
)

pytestmark = pytest.mark.usefixtures("backend")     # each test on an SQLite and a PostgreSQL ledger

def run(tmp_path: Path, sim: Simulator, clock: Clock, files: list[Path], transport=None, **kw):
    client = sim_client(transport or SimulatorTransport(sim), clock)
    try:
        return run_files([str(f) for f in files], run_settings(tmp_path, **kw), quiet(), client)
    finally:
        client.close()


def test_happy_path_for_every_delivery_method(tmp_path, sim, clock):
    upload = write_csv(tmp_path / "all.csv", [base_row(m) for m in METHODS])
    result = run(tmp_path, sim, clock, [upload])
    assert result.code == 0
    assert statuses(result) == ["COMPLETE"] * len(METHODS)
    assert_each_once(sim, len(METHODS))
    rows = report_rows(result)
    assert all(r["Order ID"] and r["Line item ID"] and r["Reference line item ID"] for r in rows)
    summary = json.loads(Path(result.files[0]["report"]).with_name("summary.json").read_text())
    assert summary["target"] == "simulator" and summary["amount_accepted"] == summary["amount_sent"]
    assert summary["simulated"] is True and summary["sent_to_tango"] is False
    assert summary["status_counts"]["COMPLETE"] == len(METHODS)
    by_method = summary["delivery_methods"]        # each method's one row, accepted
    assert sorted(by_method) == sorted(set(METHODS)) and all(m["valid"] == m["rows"] for m in by_method.values())
    assert sum(m["amount_accepted"] for m in by_method.values()) == summary["amount_accepted"] > 0


def test_invalid_rows_are_reported_and_never_sent(tmp_path, sim, clock):
    upload = write_csv(tmp_path / "mixed.csv", [base_row("EMAIL"), base_row("PHONE", Mobile="12")])
    result = run(tmp_path, sim, clock, [upload])
    assert result.code == 1
    assert statuses(result) == ["COMPLETE", "INVALID"]
    assert_each_once(sim, 1)


def test_batches_respect_the_batch_size(tmp_path, sim, clock):
    upload = write_csv(tmp_path / "many.csv", people(7))
    run(tmp_path, sim, clock, [upload], batch_size=3)
    assert sorted(len(o["lineItems"]) for o in sim.orders()) == [1, 3, 3]
    assert_each_once(sim, 7)


@pytest.mark.parametrize("faults", [
    Faults(tps=1.0),                      # 429 above the rate
    Faults(error_rate=0.5, seed=3),       # 500/503 before commit
    Faults(drop_rate=1.0),                # commit, then the connection drops
    Faults(latency=0.2),
])
def test_each_fault_kind_still_orders_every_row_once(tmp_path, clock, faults):
    sim = Simulator(None, faults=faults, processing_delay=0.0, clock=clock, sleep=clock.sleep)
    upload = write_csv(tmp_path / "f.csv", people(9))
    result = run(tmp_path, sim, clock, [upload], batch_size=2)
    assert statuses(result) == ["COMPLETE"] * 9
    assert_each_once(sim, 9)


def test_commit_then_drop_then_retry_is_one_order(tmp_path, clock):
    sim = Simulator(None, faults=Faults(drop_rate=1.0), processing_delay=0.0, clock=clock, sleep=clock.sleep)
    upload = write_csv(tmp_path / "d.csv", people(3))
    result = run(tmp_path, sim, clock, [upload])
    assert len(sim.orders()) == 1 and sim.post_attempts() == 2      # the retry replayed the same ID
    assert result.figures["retries"] == 1
    assert_each_once(sim, 3)


class CrashAfterPost(httpx.BaseTransport):
    """The process dies right after Tango committed the order, before the ledger heard of it."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST":
            raise SystemExit("killed")
        return response


def test_crash_between_post_and_ledger_then_rerun_is_one_order(tmp_path, sim, clock):
    upload = write_csv(tmp_path / "c.csv", people(4))
    with pytest.raises(SystemExit):
        run(tmp_path, sim, clock, [upload], transport=CrashAfterPost(SimulatorTransport(sim)))
    ledger = Ledger(ledger_of(tmp_path), "simulator")
    assert [b.state for b in ledger.batches()] == ["sending"]     # written ahead, outcome unknown
    ledger.close()
    result = run(tmp_path, sim, clock, [upload])
    assert result.figures["reconciled"] == 1 and result.figures["posts"] == 0
    assert statuses(result) == ["COMPLETE"] * 4
    assert len(sim.orders()) == 1
    assert_each_once(sim, 4)


def test_a_batch_left_sending_that_tango_never_got_is_resent_with_the_same_id(tmp_path, sim, clock):
    upload = write_csv(tmp_path / "n.csv", people(2))

    class LostRequest(httpx.BaseTransport):
        def handle_request(self, request):
            if request.method == "POST":
                raise SystemExit("killed before the order request left")
            return SimulatorTransport(sim).handle_request(request)

    with pytest.raises(SystemExit):
        run(tmp_path, sim, clock, [upload], transport=LostRequest())
    ledger = Ledger(ledger_of(tmp_path), "simulator")
    ref = ledger.batches()[0].external_ref_id
    ledger.close()
    result = run(tmp_path, sim, clock, [upload])
    assert result.figures["resent"] == 1
    assert [o["externalRefID"] for o in sim.orders()] == [ref]
    assert_each_once(sim, 2)


def test_the_same_sheet_under_another_name_is_all_duplicate_and_sends_nothing(tmp_path, sim, clock):
    rows = people(5)
    first = run(tmp_path, sim, clock, [write_csv(tmp_path / "march.csv", rows)])
    attempts = sim.post_attempts()
    again = run(tmp_path, sim, clock, [write_csv(tmp_path / "march-final-v2.csv", rows)])
    assert statuses(again) == ["DUPLICATE"] * 5
    assert sim.post_attempts() == attempts
    row = report_rows(again)[0]
    assert f"Already ordered by run {first.run_id}" in row["Warnings"]
    assert row["Order ID"] == report_rows(first)[0]["Order ID"]
    assert again.code == 0


def test_a_partly_fixed_sheet_sends_only_the_fixed_rows(tmp_path, sim, clock):
    rows = people(4)
    rows[1]["Email"] = "p1@@example.com"
    rows[3]["Amount"] = "25.999"
    first = run(tmp_path, sim, clock, [write_csv(tmp_path / "v1.csv", rows)])
    assert statuses(first) == ["COMPLETE", "INVALID", "COMPLETE", "INVALID"]
    rows[1]["Email"] = "p1@example.com"
    rows[3]["Amount"] = "26"
    second = run(tmp_path, sim, clock, [write_csv(tmp_path / "v2.csv", rows)])
    assert statuses(second) == ["DUPLICATE", "COMPLETE", "DUPLICATE", "COMPLETE"]
    assert_each_once(sim, 4)


class SpendAfterFirstOrder(httpx.BaseTransport):
    """Someone else spends the account's money while the run is sending: the next order gets 402."""

    def __init__(self, sim: Simulator) -> None:
        self.sim, self.inner, self.posts = sim, SimulatorTransport(sim), 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST" and response.status_code < 300:
            self.posts += 1
            if self.posts == 1:
                self.sim.set_balance("acme-corp", "acme-rewards", 10.0)
        return response


def test_insufficient_funds_mid_run_then_rerun_after_top_up(tmp_path, sim, clock):
    upload = write_csv(tmp_path / "funds.csv", people(5))
    first = run(tmp_path, sim, clock, [upload], batch_size=2, transport=SpendAfterFirstOrder(sim))
    assert first.code == 3
    assert sorted(statuses(first)) == ["COMPLETE", "COMPLETE", "PENDING", "PENDING", "PENDING"]
    sim.set_balance("acme-corp", "acme-rewards", 1000.0)
    second = run(tmp_path, sim, clock, [upload], batch_size=2)
    assert second.code == 0
    assert statuses(second) == ["COMPLETE"] * 5             # the stopped run is continued
    third = run(tmp_path, sim, clock, [upload], batch_size=2)
    assert statuses(third) == ["DUPLICATE"] * 5             # a finished file uploaded again
    assert_each_once(sim, 5)
    refs = {o["externalRefID"] for o in sim.orders()}
    ledger = Ledger(ledger_of(tmp_path), "simulator")
    failed = [b for b in ledger.batches() if b.state == "failed"]
    ledger.close()
    assert len(failed) == 1 and failed[0].external_ref_id not in refs   # a 402'd ID is never reused


def test_preflight_stops_before_any_order_when_the_balance_is_short(tmp_path, sim, clock, capsys):
    sim.set_balance("acme-corp", "acme-rewards", 60.0)
    upload = write_csv(tmp_path / "short.csv", people(5))          # 5 x $25 = $125
    result = run(tmp_path, sim, clock, [upload])
    assert result.code == 3
    assert sim.post_attempts() == 0
    assert statuses(result) == ["PENDING"] * 5
    assert "short by $65.00" in capsys.readouterr().err


def test_preflight_catalog_makes_rows_that_do_not_fit_invalid(tmp_path, sim, clock):
    rows = people(5)
    rows[1]["UTID"] = "U999999"        # inactive
    rows[2]["UTID"] = "U123456"        # fixed $25: fits
    rows[3]["UTID"] = "U123456"
    rows[3]["Amount"] = "30"           # fixed $25: does not fit
    rows[4]["UTID"] = "U222222"
    rows[4]["Amount"] = "12.50"        # whole dollars only
    result = run(tmp_path, sim, clock, [write_csv(tmp_path / "cat.csv", rows)])
    assert statuses(result) == ["COMPLETE", "INVALID", "COMPLETE", "INVALID", "INVALID"]
    errors = [r["Errors"] for r in report_rows(result)]
    assert "not active" in errors[1] and "fixed value of $25.00" in errors[3] and "whole dollar" in errors[4]
    assert_each_once(sim, 2)
    catalog = beside(ledger_of(tmp_path), "catalog")
    cache = list(catalog.parent.glob(f"{catalog.name}-*.json"))      # beside the ledger (or in the state folder)
    assert len(cache) == 1


def test_the_catalog_is_cached_for_twelve_hours(tmp_path, sim, clock):
    from pipeline.stages.preflight import load_catalog
    from pipeline.tango import TangoClient
    calls = []

    class Counting(httpx.BaseTransport):
        def handle_request(self, request):
            calls.append(request.url.path)
            return SimulatorTransport(sim).handle_request(request)

    client = TangoClient(TARGET.base_url, AUTH, transport=Counting(), rate=0)
    t = [1000.0]
    load_catalog(client, tmp_path / "l.sqlite", "simulator", clock=lambda: t[0])
    t[0] += 11 * 3600
    load_catalog(client, tmp_path / "l.sqlite", "simulator", clock=lambda: t[0])
    assert len(calls) == 1
    t[0] += 2 * 3600
    load_catalog(client, tmp_path / "l.sqlite", "simulator", clock=lambda: t[0])
    assert len(calls) == 2


def stale_catalog(tmp_path: Path) -> None:
    """A catalog cached an hour ago that Tango has changed since: the pre-flight lets rows through."""
    import time
    items = [{"utid": "U761382", "status": "active", "valueType": "VARIABLE_VALUE", "minValue": 1,
              "maxValue": 10000}, {"utid": "U424242", "status": "active", "valueType": "VARIABLE_VALUE",
                                   "minValue": 1, "maxValue": 100}]
    cache = beside(ledger_of(tmp_path), "catalog-simulator.json")
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(
        {"fetched_at": time.time() - 3600, "catalog": {"brands": [{"items": items}]}}))


def test_lines_tango_refuses_are_rejected_and_the_rest_accepted(tmp_path, sim, clock):
    stale_catalog(tmp_path)
    rows = people(3)
    rows[1]["UTID"] = "U424242"          # well-formed, but not in the catalog
    rows[2]["Amount"] = "5000"           # outside the item's range
    result = run(tmp_path, sim, clock, [write_csv(tmp_path / "r.csv", rows)])
    assert statuses(result) == ["COMPLETE", "REJECTED", "REJECTED"]
    assert result.code == 1
    rejected = report_rows(result)[1]
    assert rejected["Errors"].startswith("Tango refused this line")
    assert_each_once(sim, 1)
    fix = openpyxl.load_workbook(result.files[0]["failures"]).worksheets[0]
    assert fix.max_row == 3                                      # the two rows to fix, under a header


def test_processing_failures_are_failed(tmp_path, sim, clock):
    rows = people(2)
    rows[1]["UTID"] = "U000666"          # the simulator's "delivery fails" item
    result = run(tmp_path, sim, clock, [write_csv(tmp_path / "p.csv", rows)])
    assert statuses(result) == ["COMPLETE", "FAILED"]
    assert "could not deliver" in report_rows(result)[1]["Errors"]


def test_bad_credentials_stop_the_run_with_rows_pending(tmp_path, sim, clock):
    bad = Simulator(None, platform_key="another-key", processing_delay=0.0, clock=clock, sleep=clock.sleep)
    result = run(tmp_path, bad, clock, [write_csv(tmp_path / "a.csv", people(2))])
    assert result.code == 3
    assert statuses(result) == ["PENDING", "PENDING"]
    assert bad.orders() == []


def test_no_wait_leaves_rows_submitted_and_status_finishes_them(tmp_path, clock):
    slow = Simulator(None, processing_delay=60.0, clock=clock, sleep=clock.sleep)
    result = run(tmp_path, slow, clock, [write_csv(tmp_path / "w.csv", people(2))], wait=0.0)
    assert statuses(result) == ["SUBMITTED", "SUBMITTED"]
    clock.now += 61
    from pipeline.jobs.status import status
    client = sim_client(SimulatorTransport(slow), clock)
    try:
        report = status(run_settings(tmp_path), quiet(), client=client)
    finally:
        client.close()
    assert report["line_items"] == {"COMPLETE": 2} and report["unfinished_orders"] == []
    rows = report_rows(result)            # the file's report was written again, in the same place
    assert [r["Status"] for r in rows] == ["COMPLETE", "COMPLETE"]


def test_dry_run_writes_payloads_and_sends_nothing(tmp_path, sim, clock):
    result = run(tmp_path, sim, clock, [write_csv(tmp_path / "dry.csv", people(3))], dry_run=True,
                 batch_size=2)
    assert sim.post_attempts() == 0
    plan_files = list((tmp_path / "out").glob("dry-run-*/plan.json"))
    plan = json.loads(plan_files[0].read_text())
    assert [b["lineItems"] for b in plan["batches"]] == [2, 1]
    payload = json.loads((plan_files[0].parent / "batches" / f"{plan['batches'][0]['externalRefID']}.json")
                         .read_text())
    assert payload["customerIdentifier"] == "acme-corp" and len(payload["lineItems"]) == 2
    assert statuses(result) == ["PLANNED"] * 3           # a status of its own: PENDING means "the run stopped early"
    where = ledger_of(tmp_path)
    assert (isinstance(where, Path) and not where.exists()) or Ledger(where, "simulator").counts() == {}


def test_a_dry_run_plans_each_reward_once_and_says_what_comes_next(tmp_path, sim, clock):
    """The same rows in two files: planned once (the plan's line items), the repeats DUPLICATE, as a real
    run would order them once; the Summary's next step says nothing was sent."""
    first = write_csv(tmp_path / "a.csv", people(2))
    second = write_csv(tmp_path / "b.csv", people(2))
    second.write_text(second.read_text() + "\n")              # the same rows, another file
    result = run(tmp_path, sim, clock, [first, second], dry_run=True)
    plan = json.loads(next((tmp_path / "out").glob("dry-run-*/plan.json")).read_text())
    assert sum(b["lineItems"] for b in plan["batches"]) == 2
    assert statuses(result, 0) == ["PLANNED", "PLANNED"] and statuses(result, 1) == ["DUPLICATE", "DUPLICATE"]
    assert result.files[0]["next_step"].startswith("Dry run: 2 rows would be ordered; nothing was sent.")


def test_targets_keep_separate_ledger_namespaces(tmp_path, sim, clock):
    upload = write_csv(tmp_path / "ns.csv", people(1))
    run(tmp_path, sim, clock, [upload])
    other = Ledger(ledger_of(tmp_path), "sandbox")
    assert other.counts() == {}
    other.close()


def test_against_the_loopback_server_over_real_http(tmp_path):
    """The simulator as its own process (as `tango-batch simulate` runs it), the pipeline over HTTP."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "simulate", "--port", "0", "--state", str(tmp_path / "sim.json"),
         "--processing-delay", "0", "--drop-rate", "0.3", "--seed", "5"],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = server.stdout.readline()
        url = line.split("listening on ")[1].split()[0]
        config = tmp_path / "campaign.toml"
        config.write_text('customerIdentifier = "acme-corp"\naccountIdentifier = "acme-rewards"\n')
        upload = write_csv(tmp_path / "http.csv", [base_row(m) for m in METHODS])
        proc = subprocess.run(
            [sys.executable, "-m", "pipeline", "run", str(upload), "--config", str(config), "--target", url,
             "--output", str(tmp_path / "out"), "--batch-size", "3", "--rate", "50", "--wait", "10"],
            cwd=root, capture_output=True, text=True, timeout=120,
            env={k: v for k, v in __import__("os").environ.items() if not k.startswith("TANGO_")})
        assert proc.returncode == 0, proc.stderr
        logged = "".join(f.read_text(encoding="utf-8") for f in (tmp_path / "out" / "logs").iterdir())
        assert "X-REQUEST-ID" in logged and "simulator-key" not in logged + proc.stderr   # requests: the log file
        state = httpx.get(url.replace("/raas/v2", "") + "/_simulator/state").json()
        counts = state["lineItemCounts"]
        assert len(counts) == len(METHODS) and set(counts.values()) == {1}
        summary = json.loads(next((tmp_path / "out").glob("http-*/summary.json")).read_text())
        assert summary["status_counts"]["COMPLETE"] == len(METHODS)
        assert summary["target"] == "url"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_row_already_ordered_keeps_its_status_when_the_catalog_changes(tmp_path, sim, clock):
    upload = write_csv(tmp_path / "keep.csv", people(2))
    run(tmp_path, sim, clock, [upload])
    catalog = beside(ledger_of(tmp_path), "catalog")
    for cache in catalog.parent.glob(f"{catalog.name}-*.json"):      # the item disappears from the catalog
        data = json.loads(cache.read_text())
        for brand in data["catalog"]["brands"]:
            brand["items"] = [i for i in brand["items"] if i["utid"] != "U761382"]
        cache.write_text(json.dumps(data))
    again = run(tmp_path, sim, clock, [write_csv(tmp_path / "more.csv", people(3))])
    assert statuses(again) == ["DUPLICATE", "DUPLICATE", "INVALID"]
    assert "not in this account's Tango catalog" in report_rows(again)[2]["Errors"]


def test_a_line_missing_from_the_order_is_rejected_even_when_the_answer_did_not_say(tmp_path, sim, clock):
    stale_catalog(tmp_path)

    class Forgetful(httpx.BaseTransport):
        """Answers without failedLineItems, as if Tango had not said which line it refused."""

        def handle_request(self, request):
            response = SimulatorTransport(sim).handle_request(request)
            if request.method != "POST" or response.status_code >= 300:
                return response
            body = json.loads(response.read())
            body["failedLineItems"] = []
            return httpx.Response(response.status_code, json=body, headers={"X-REQUEST-ID": "r"})

    rows = people(2)
    rows[1]["UTID"] = "U424242"
    result = run(tmp_path, sim, clock, [write_csv(tmp_path / "forget.csv", rows)], transport=Forgetful())
    assert statuses(result) == ["COMPLETE", "REJECTED"]
    assert "did not create this line" in report_rows(result)[1]["Errors"]


# --- regressions from a review of failure sequences ---------------------------------------------

def test_a_refusal_after_a_lost_answer_is_checked_with_tango_before_it_is_believed(tmp_path, sim, clock):
    """Attempt 1 commits but its answer is lost; attempt 2 of the same ID is answered 402."""

    class LostThen402(httpx.BaseTransport):
        posts = 0

        def handle_request(self, request):
            inner = SimulatorTransport(sim)
            if request.method == "POST":
                LostThen402.posts += 1
                if LostThen402.posts == 1:
                    inner.handle_request(request)
                    raise httpx.ReadTimeout("timed out", request=request)
                if LostThen402.posts == 2:
                    return httpx.Response(402, json={"i18nKey": "402.001", "message": "Insufficient funds"})
            return inner.handle_request(request)

    upload = write_csv(tmp_path / "lost.csv", people(3))
    first = run(tmp_path, sim, clock, [upload], transport=LostThen402())
    assert first.code == 0 and statuses(first) == ["COMPLETE"] * 3      # adopted, not failed
    again = run(tmp_path, sim, clock, [write_csv(tmp_path / "lost-again.csv", people(4))])
    assert statuses(again) == ["DUPLICATE"] * 3 + ["COMPLETE"]
    assert_each_once(sim, 4)


def test_lines_not_yet_listed_by_a_pending_order_are_not_taken_for_refused(tmp_path, sim, clock):
    class QueuedNoLines(httpx.BaseTransport):
        def handle_request(self, request):
            response = SimulatorTransport(sim).handle_request(request)
            if request.method == "GET" and "/asyncOrders/" in request.url.path:
                body = json.loads(response.read())
                body["orderStatus"], body["lineItems"] = "QUEUED", []
                return httpx.Response(200, json=body)
            return response

    first = run(tmp_path, sim, clock, [write_csv(tmp_path / "q.csv", people(3))], transport=QueuedNoLines())
    assert statuses(first) == ["SUBMITTED"] * 3
    second = run(tmp_path, sim, clock, [write_csv(tmp_path / "q2.csv", people(4))])
    assert statuses(second) == ["DUPLICATE"] * 3 + ["COMPLETE"]
    assert_each_once(sim, 4)


def test_an_order_that_stays_pending_is_followed_on_the_clients_clock_until_the_wait_is_over(tmp_path, sim, clock):
    """The follow-up's deadline and its pauses are on one clock, the client's: polled at 0, 1, 3 and
    7 s of a 10 s wait and once more as it ends, then left to the next run, however fast or slow the
    real clock goes."""
    reads: list[float] = []

    class Pending(httpx.BaseTransport):
        def handle_request(self, request):
            response = SimulatorTransport(sim).handle_request(request)
            if request.method == "GET" and "/asyncOrders/" in request.url.path:
                reads.append(clock())
                body = json.loads(response.read())
                body["orderStatus"], body["lineItems"] = "QUEUED", []
                return httpx.Response(200, json=body)
            return response

    started = clock()
    result = run(tmp_path, sim, clock, [write_csv(tmp_path / "p.csv", people(2))], transport=Pending(), wait=10.0)
    assert statuses(result) == ["SUBMITTED"] * 2
    assert [round(t - reads[0]) for t in reads] == [0, 1, 3, 7, 10]
    assert reads[0] >= started and clock() - reads[0] >= 10.0 - 1e-9


def test_a_killed_runs_file_gets_its_report_from_the_next_run(tmp_path, sim, clock):
    first = write_csv(tmp_path / "f.csv", people(2))
    with pytest.raises(SystemExit):
        run(tmp_path, sim, clock, [first], transport=CrashAfterPost(SimulatorTransport(sim)))
    run(tmp_path, sim, clock, [write_csv(tmp_path / "g.csv", people(2, Last_Name="Other"))])
    reports = list((tmp_path / "out").glob("f-*/report.xlsx"))
    assert len(reports) == 1
    ws = openpyxl.load_workbook(reports[0])["Rows"]
    header = [c.value for c in ws[1]]
    assert [r[header.index("Status")] for r in ws.iter_rows(min_row=2, values_only=True)] == ["COMPLETE"] * 2


def test_a_row_repeated_in_another_file_of_the_run_shares_the_first_rows_fate(tmp_path, sim, clock):
    stale_catalog(tmp_path)
    rows = people(2)
    rows[1]["UTID"] = "U424242"                       # Tango refuses this one
    a = write_csv(tmp_path / "a.csv", rows)
    b = write_csv(tmp_path / "b.csv", [rows[1]])
    result = run(tmp_path, sim, clock, [a, b])
    assert statuses(result, 0) == ["COMPLETE", "REJECTED"]
    assert statuses(result, 1) == ["REJECTED"]
    assert "Same reward as a.csv row 3 in this run, which is REJECTED" in report_rows(result, 1)[0]["Errors"]


def test_the_same_content_twice_in_one_run_is_processed_once(tmp_path, sim, clock):
    rows = people(2)
    result = run(tmp_path, sim, clock, [write_csv(tmp_path / "a.csv", rows), write_csv(tmp_path / "a-copy.csv", rows)])
    assert [o.same_as for o in result.outcomes] == [None, str(tmp_path / "a.csv")]
    assert statuses(result) == ["COMPLETE"] * 2 and len(result.files) == 1


def test_a_row_ordered_earlier_keeps_its_status_when_todays_date_rule_would_refuse_it(tmp_path, sim, clock):
    import datetime as dt
    today = dt.datetime.fromtimestamp(clock.now, dt.UTC).date()     # the simulator's day too
    rows = people(2, Delivery_Date=(today + dt.timedelta(days=8)).isoformat())
    upload = write_csv(tmp_path / "dated.csv", rows)
    first = run(tmp_path, sim, clock, [upload], batch_size=1, transport=SpendAfterFirstOrder(sim), today=today)
    assert sorted(statuses(first)) == ["COMPLETE", "PENDING"]
    sim.set_balance("acme-corp", "acme-rewards", 1000.0)
    clock.now += 3 * 86400
    later = run(tmp_path, sim, clock, [upload], today=today + dt.timedelta(days=3))
    assert sorted(statuses(later)) == ["COMPLETE", "INVALID"]      # the ordered row stays ordered
    ordered = next(r for r in report_rows(later) if r["Status"] == "COMPLETE")
    assert ordered["Errors"] is None and "went through" in ordered["Warnings"]
    assert_each_once(sim, 1)


def test_a_stopped_file_cannot_be_continued_under_another_campaign(tmp_path, sim, clock):
    upload = write_csv(tmp_path / "camp.csv", people(3))
    first = run(tmp_path, sim, clock, [upload], batch_size=1, transport=SpendAfterFirstOrder(sim))
    assert first.code == 3
    sim.set_balance("acme-corp", "acme-rewards", 1000.0)
    from pipeline.config import Campaign
    renamed = Campaign("acme-corp", "acme-rewards", campaign="Q4 recognition", path="c2.toml")
    again = run(tmp_path, sim, clock, [upload], campaign=renamed)
    assert again.code == 2 and "started with campaign = 'Q4'" in again.outcomes[0].error
    assert_each_once(sim, 1)
    done = run(tmp_path, sim, clock, [upload])                 # with the original campaign file
    assert sorted(statuses(done)) == ["COMPLETE"] * 3
    assert_each_once(sim, 3)


def test_a_refused_spelling_of_bulk_shipping_says_which_setting_to_try(tmp_path, clock):
    """Seed 004 and Tango's reference spell the bulk-shipping object two ways: a server taking the
    other one refuses the line, the message says which campaign setting to try, and with it the
    line goes through (ordered once)."""
    import dataclasses

    from tests.helpers import CAMPAIGN
    sim = Simulator(None, bulk_shipping="reference", processing_delay=0.0, clock=clock, sleep=clock.sleep)
    upload = write_csv(tmp_path / "bulk.csv", [base_row("BULKSHIPMENT"), base_row("EMAIL")])
    first = run(tmp_path, sim, clock, [upload])
    assert statuses(first) == ["REJECTED", "COMPLETE"]
    refused = report_rows(first)[0]["Errors"]
    assert ".shipping" in refused and 'set bulk_shipping = "reference" in the campaign file' in refused
    second = run(tmp_path, sim, clock, [upload], campaign=dataclasses.replace(CAMPAIGN, bulk_shipping="reference"))
    assert statuses(second) == ["COMPLETE", "DUPLICATE"]
    assert_each_once(sim, 2)


def test_physical_rewards_are_followed_until_delivered_and_the_report_says_so(tmp_path, sim, clock):
    """COMPLETE means Tango completed the line; a mailed reward's delivery is its own column, followed
    by `status` (and the nightly job) until Tango's delivery event is final."""
    from pipeline.jobs.status import status
    upload = write_csv(tmp_path / "mail.csv", [base_row("ADDRESS"), base_row("EMAIL")])
    first = run(tmp_path, sim, clock, [upload])
    rows = report_rows(first)
    assert [r["Status"] for r in rows] == ["COMPLETE", "COMPLETE"]
    assert [r["Delivery status"] for r in rows] == ["SHIPPED", "COMPLETED"]
    ledger = Ledger(ledger_of(tmp_path), "simulator")
    assert len(ledger.batches(deliveries=True)) == 1
    clock.advance(5)                                   # the simulator delivers 4 s after shipping
    client = sim_client(SimulatorTransport(sim), clock)
    try:
        status(run_settings(tmp_path), quiet(), client=client)
    finally:
        client.close()
    assert [r["Delivery status"] for r in report_rows(first)] == ["COMPLETED", "COMPLETED"]   # rewritten in place
    assert ledger.batches(deliveries=True) == []
    ledger.close()


def test_a_delivery_is_followed_for_a_limited_number_of_days(tmp_path, sim, clock):
    import datetime as dt

    from pipeline.stages.follow import Follower
    run(tmp_path, sim, clock, [write_csv(tmp_path / "slow.csv", [base_row("ADDRESS")])])
    ledger = Ledger(ledger_of(tmp_path), "simulator")
    client = sim_client(SimulatorTransport(sim), clock)
    follower = Follower(client, ledger, 0, physical=("ADDRESS", "BULKSHIPMENT"))
    assert follower.follow_deliveries(30, now=dt.datetime.now(dt.UTC)) == set()       # still shipped
    assert len(ledger.batches(deliveries=True)) == 1
    follower.follow_deliveries(30, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=31))
    assert ledger.batches(deliveries=True) == []
    client.close()
    ledger.close()


def test_an_order_larger_than_a_page_is_read_in_pages(tmp_path, clock):
    """An order of 10 lines from a server paging at 7: every line settles, nothing is read forever."""
    sim = Simulator(None, processing_delay=0.0, page_limit=7, clock=clock, sleep=clock.sleep)
    result = run(tmp_path, sim, clock, [write_csv(tmp_path / "ten.csv", people(10))], batch_size=10)
    assert statuses(result) == ["COMPLETE"] * 10
    assert_each_once(sim, 10)


def test_the_order_list_is_read_over_several_pages(tmp_path, sim, clock):
    run(tmp_path, sim, clock, [write_csv(tmp_path / "five.csv", people(5))], batch_size=1)
    paging = Simulator(None, processing_delay=0.0, page_limit=2, clock=clock, sleep=clock.sleep)
    for order in sim.orders():
        paging._orders[order["externalRefID"]] = order
    client = sim_client(SimulatorTransport(paging), clock)
    listed = [o["externalRefID"] for o in client.list_orders("acme-corp", "acme-rewards")]
    client.close()
    assert sorted(listed) == sorted(o["externalRefID"] for o in sim.orders()) and len(listed) == 5


def test_a_server_that_ignores_the_cursor_ends_the_following_with_a_message_not_a_loop(tmp_path, clock, capsys):
    sim = Simulator(None, processing_delay=0.0, page_limit=3, clock=clock, sleep=clock.sleep)

    class IgnoresCursor(httpx.BaseTransport):
        def handle_request(self, request):
            if request.method == "GET":
                params = {k: v for k, v in request.url.params.items() if k != "nextCursor"}
                request = httpx.Request("GET", request.url.copy_with(params=params), headers=request.headers)
            return SimulatorTransport(sim).handle_request(request)

    result = run(tmp_path, sim, clock, [write_csv(tmp_path / "five.csv", people(5))], transport=IgnoresCursor())
    assert statuses(result) == ["SUBMITTED"] * 5          # accepted; their lines could not be read back
    assert "same page of order" in capsys.readouterr().err
    assert_each_once(sim, 5)


def test_oauth_over_real_http_with_the_secrets_kept_out_of_every_log(tmp_path):
    """`tango-batch run` against a loopback simulator that takes bearer tokens only, with OAuth
    credentials from the environment: orders go through, and no secret reaches the console, the
    log file or the ledger."""
    import os
    import sqlite3
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    secret, password = "s3cret-client-Z9", "pa55word-Q7"
    server = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "simulate", "--port", "0", "--state", "", "--auth", "bearer",
         "--client-secret", secret, "--password", password, "--processing-delay", "0"],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = server.stdout.readline().split("listening on ")[1].split()[0]
        config = tmp_path / "campaign.toml"
        config.write_text('customerIdentifier = "acme-corp"\naccountIdentifier = "acme-rewards"\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith("TANGO_")}
        env.update(TANGO_CLIENT_ID="simulator-client", TANGO_CLIENT_SECRET=secret,
                   TANGO_AUTH_URL=url.replace("/raas/v2", "/oauth/token"), TANGO_USERNAME="simulator-user",
                   TANGO_PASSWORD=password)
        proc = subprocess.run(
            [sys.executable, "-m", "pipeline", "run", str(write_csv(tmp_path / "o.csv", people(3))), "--config",
             str(config), "--target", url, "--output", str(tmp_path / "out"), "--rate", "50", "--wait", "10",
             "--ledger", str(tmp_path / "out" / "ledger.sqlite"), "--debug"], cwd=root, capture_output=True,
            text=True, timeout=120, env=env)
        state = httpx.get(url.replace("/raas/v2", "") + "/_simulator/state").json()
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert proc.returncode == 0, proc.stderr
    assert len(state["lineItemCounts"]) == 3
    logs = "".join(p.read_text() for p in (tmp_path / "out" / "logs").glob("*.log"))
    ledger = sqlite3.connect(tmp_path / "out" / "ledger.sqlite")
    stored = json.dumps([ledger.execute(f"SELECT * FROM {t}").fetchall()
                         for t in ("runs", "batches", "http_log", "line_items", "files")])
    for where in (proc.stdout + proc.stderr, logs, stored):
        assert secret not in where and password not in where and "Bearer" not in where


# --- regressions from a review of the Tango API work --------------------------------------------

def _answer(response: httpx.Response, change) -> httpx.Response:
    body = json.loads(response.read())
    change(body)
    return httpx.Response(response.status_code, json=body, headers={"X-REQUEST-ID": "r"})


def test_a_rewritten_report_uses_the_rules_the_file_was_run_with(tmp_path, sim, clock):
    """Ordered with bulk_shipping = "reference" (no 50-character contact name there), the row stays
    COMPLETE when `status` rewrites its report, and is not offered as a row to fix."""
    import dataclasses

    from pipeline.jobs.status import status
    from tests.helpers import CAMPAIGN
    reference = Simulator(None, bulk_shipping="reference", processing_delay=0.0, clock=clock, sleep=clock.sleep)
    row = base_row("BULKSHIPMENT", First_Name="A" * 26, Last_Name="B" * 25)
    campaign = dataclasses.replace(CAMPAIGN, bulk_shipping="reference")
    first = run(tmp_path, reference, clock, [write_csv(tmp_path / "bulk.csv", [row])], campaign=campaign,
                wait=0.0)
    assert statuses(first) == ["SUBMITTED"]
    client = sim_client(SimulatorTransport(reference), clock)
    try:
        status(run_settings(tmp_path), quiet(), client=client)
    finally:
        client.close()
    assert statuses(first) == ["COMPLETE"]
    assert first.files[0]["failures"] is None              # nothing to fix: no failures workbook
    assert not (Path(first.files[0]["report"]).parent / "failures.xlsx").exists()


def test_a_line_still_submitted_keeps_its_order_followed_after_a_duplicate_report(tmp_path, sim, clock):
    answers = {"gets": 0}

    class Partial(httpx.BaseTransport):
        """The POST names one line in duplicateLineItemRefIds; the first read lists only that line."""

        def handle_request(self, request):
            response = SimulatorTransport(sim).handle_request(request)
            if request.method == "POST" and response.status_code < 300:
                ids = [li["externalRefLineItemID"] for li in json.loads(request.content)["lineItems"]]
                return _answer(response, lambda b: b.update(duplicateLineItemRefIds={ids[1]: 2}))
            if request.method == "GET" and "/asyncOrders/" in request.url.path and answers["gets"] == 0:
                answers["gets"] += 1

                def first_read(body):
                    body["orderStatus"], body["lineItems"] = "PENDING", body["lineItems"][1:]
                return _answer(response, first_read)
            return response

    result = run(tmp_path, sim, clock, [write_csv(tmp_path / "two.csv", people(2))], transport=Partial())
    assert statuses(result) == ["COMPLETE", "COMPLETE"]
    assert_each_once(sim, 2)


def test_a_line_tango_calls_a_duplicate_and_does_not_create_is_not_sent_again(tmp_path, sim, clock):
    class Named(httpx.BaseTransport):
        def handle_request(self, request):
            if request.method == "POST":
                body = json.loads(request.content)
                named = body["lineItems"][0]["externalRefLineItemID"]
                body["lineItems"] = body["lineItems"][1:]            # Tango creates the others only
                inner = httpx.Request("POST", request.url, headers=request.headers, json=body)
                response = SimulatorTransport(sim).handle_request(inner)
                return _answer(response, lambda b: b.update(duplicateLineItemRefIds={named: 2}))
            return SimulatorTransport(sim).handle_request(request)

    upload = write_csv(tmp_path / "named.csv", people(3))
    first = run(tmp_path, sim, clock, [upload], transport=Named())
    assert sorted(statuses(first)) == ["COMPLETE", "COMPLETE", "DUPLICATE"]
    held = next(r for r in report_rows(first) if r["Status"] == "DUPLICATE")
    assert "reported this line as a duplicate" in held["Warnings"]
    posts = sim.post_attempts()
    again = run(tmp_path, sim, clock, [upload])
    assert sim.post_attempts() == posts                     # nothing sent again
    assert statuses(again) == ["DUPLICATE"] * 3             # the same file again: every row said before


def test_the_bulk_shipping_hint_is_not_given_for_the_shipping_method():
    from pipeline.stages.submit import Submitter
    hinted = Submitter.__new__(Submitter)
    hinted.hints = [("shipping", "try the other spelling"), ("bulkShipping", "try the other spelling")]
    assert "other spelling" not in hinted._hinted(["lineItems[0].shippingMethod: must be one of ..."])
    assert "other spelling" in hinted._hinted(["lineItems[0].shipping: is not accepted"])
    assert "other spelling" in hinted._hinted(["lineItems[2].bulkShipping.contactFirstName: is required"])


def test_a_ledger_from_a_newer_version_is_refused(tmp_path):
    import sqlite3

    from pipeline.errors import UsageError
    path = tmp_path / "ledger.sqlite"
    Ledger(path, "simulator").close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(UsageError, match="newer tango-batch"):
        Ledger(path, "simulator")


def test_a_run_over_the_campaigns_max_run_amount_sends_nothing(tmp_path, sim, clock, capsys):
    import dataclasses
    from decimal import Decimal

    from tests.helpers import CAMPAIGN
    capped = dataclasses.replace(CAMPAIGN, max_run_amount=Decimal(100))
    result = run(tmp_path, sim, clock, [write_csv(tmp_path / "five.csv", people(5))], campaign=capped)  # $125
    assert result.code == 3 and sim.post_attempts() == 0
    assert statuses(result) == ["PENDING"] * 5
    assert "above the campaign's max_run_amount of $100.00: nothing was sent" in capsys.readouterr().err
