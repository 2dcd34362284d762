"""The Tango simulator, exercised as the pipeline will use it: through httpx.

Almost every test goes through ``SimulatorTransport`` (no sockets) with a fake clock and a no-op
sleep, so order processing is driven by moving the clock rather than by waiting. One test runs the
real threaded server on a free loopback port, and one runs ``python -m pipeline.simulator``.
"""

from __future__ import annotations

import copy
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.simulator import (
    BASE_PATH,
    DEFAULT_PLATFORM_KEY,
    DEFAULT_PLATFORM_NAME,
    Faults,
    Simulator,
    SimulatorTransport,
    make_server,
)
from tests.helpers import Clock

BASE_URL = "http://simulator" + BASE_PATH
AUTH = (DEFAULT_PLATFORM_NAME, DEFAULT_PLATFORM_KEY)
CUSTOMER, ACCOUNT = "cust-0001", "acct-0001"
DETAIL = f"/asyncOrders/customers/{CUSTOMER}/accounts/{ACCOUNT}"
START = 1_780_000_000.0  # 2026-05-28, any fixed instant will do

ADDRESS = {"streetLine1": "12 Beacon St", "city": "Boston", "stateOrProvince": "MA",
           "postalCode": "02108", "country": "US"}
# The smallest valid line of each delivery method (seed 004's matrix).
BY_METHOD: dict[str, dict[str, Any]] = {
    "EMAIL": {"recipient": {"firstName": "Ann", "lastName": "Lee", "email": "ann@example.com"}},
    "PHONE": {"recipient": {"firstName": "Ann", "mobileNumber": "+14155552671"}},
    "EMBEDDED": {"recipient": {"firstName": "Ann", "email": "ann@example.com"}},
    "NONE": {"recipient": {"firstName": "Ann"}},
    "ADDRESS": {"recipient": {"firstName": "Ann", "lastName": "Lee", "address": ADDRESS},
                "shippingMethod": "usps1stclass"},
    "BULKDIGITAL": {"quantity": 25},
    "BULKSHIPMENT": {"quantity": 40, "shippingMethod": "upsground",
                     "shipping": {"contactName": "Ann Lee", "address": ADDRESS}},
}


def line(ref: str, method: str = "EMAIL", *, utid: str = "U761382", amount: float = 25,
         **extra: Any) -> dict[str, Any]:
    item = {"externalRefLineItemID": ref, "utid": utid, "amount": amount, "deliveryMethod": method,
            **copy.deepcopy(BY_METHOD[method])}
    item.update(extra)
    return item


def order(ref: str, *lines: dict[str, Any]) -> dict[str, Any]:
    return {"externalRefID": ref, "customerIdentifier": CUSTOMER, "accountIdentifier": ACCOUNT,
            "lineItems": list(lines) or [line(f"{ref}-1")]}


def client_for(sim: Simulator, auth: Any = AUTH) -> httpx.Client:
    return httpx.Client(transport=SimulatorTransport(sim), base_url=BASE_URL, auth=auth)


def simulator(clock: Clock, **options: Any) -> Simulator:
    return Simulator(clock=clock, sleep=lambda seconds: None, **options)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def sim(clock: Clock) -> Simulator:
    return simulator(clock)


@pytest.fixture
def client(sim: Simulator):
    with client_for(sim) as c:
        yield c


def error_paths(response: httpx.Response) -> list[str]:
    return [error["path"] for error in response.json()["errors"]]


# ------------------------------------------------------------------ auth, routing, plain reads

def test_auth_is_required_except_for_inspection(sim: Simulator) -> None:
    for auth in (None, ("simulator", "wrong-key")):
        with client_for(sim, auth) as c:
            response = c.post("/asyncOrders", json=order("A1"))
            assert response.status_code == 401
            assert response.json()["i18nKey"] == "401.001"
            assert c.get("/catalogs").status_code == 401
            assert c.get("/_simulator/state").status_code == 200
    assert sim.post_attempts() == 2 and sim.orders() == []


def test_error_body_and_request_id(client: httpx.Client) -> None:
    response = client.get("/no/such/thing")
    body = response.json()
    assert response.status_code == 404
    assert set(body) == {"timestamp", "requestId", "path", "httpCode", "httpPhrase", "i18nKey",
                         "message", "errors"}
    assert body["requestId"] == response.headers["X-REQUEST-ID"]
    assert body["path"] == "/raas/v2/no/such/thing" and body["httpPhrase"] == "Not Found"
    assert client.get(f"{DETAIL}/NOSUCHORDER").status_code == 404


def test_catalog_lists_the_fixed_items(client: httpx.Client) -> None:
    body = client.get("/catalogs").json()
    items = {item["utid"]: item for brand in body["brands"] for item in brand["items"]}
    assert {"U761382", "U579023", "U123456", "U222222", "U999999", "U000666"} <= set(items)
    assert items["U123456"]["valueType"] == "FIXED_VALUE" and items["U123456"]["faceValue"] == 25
    assert items["U222222"]["isWholeAmountValueRequired"] is True
    assert items["U999999"]["status"] == "inactive"


def test_latency_uses_the_injected_sleep(clock: Clock) -> None:
    naps: list[float] = []
    sim = Simulator(clock=clock, sleep=naps.append, faults=Faults(latency=0.25))
    with client_for(sim) as c:
        c.get("/catalogs")
        c.post("/asyncOrders", json=order("A1"))
    assert naps == [0.25, 0.25]


# ------------------------------------------------------------------ creating orders

@pytest.mark.parametrize("method", list(BY_METHOD))
def test_each_delivery_method_is_created_then_completes(client: httpx.Client, clock: Clock,
                                                        method: str) -> None:
    response = client.post("/asyncOrders", json=order("ORD1", line("L1", method)))
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["externalRefID"], body["status"], body["totalLineItems"]) == ("ORD1", "PENDING", 1)
    assert body["failedLineItems"] == [] and body["duplicateLineItemRefIds"] == {}

    pending = client.get(f"{DETAIL}/ORD1").json()
    assert pending["orderStatus"] == "PENDING" and pending.get("completedAt") is None   # absent, not null
    assert pending["lineItems"][0]["lineItemStatus"] == "PENDING"
    assert pending["lineItems"][0]["deliveryStatus"] == "IN_PROGRESS"

    clock.advance(2.01)
    done = client.get(f"{DETAIL}/ORD1").json()
    assert done["orderStatus"] == "COMPLETE" and done["completedAt"] is not None
    [item] = done["lineItems"]
    assert item["lineItemStatus"] == "COMPLETE" and item["lineItemErrors"] == []
    assert item["referenceLineItemId"].startswith("RL") and len(item["referenceLineItemId"]) == 14
    assert item["referenceLineItemId"] == pending["lineItems"][0]["referenceLineItemId"]
    physical = method in ("ADDRESS", "BULKSHIPMENT")
    assert item["deliveryStatus"] == ("SHIPPED" if physical else "COMPLETED")
    clock.advance(4.0)                                   # a physical reward arrives later
    assert client.get(f"{DETAIL}/ORD1").json()["lineItems"][0]["deliveryStatus"] == "COMPLETED"


def test_replayed_external_ref_returns_the_order_and_creates_nothing(
        client: httpx.Client, sim: Simulator, clock: Clock) -> None:
    first = client.post("/asyncOrders", json=order("ORD1", line("L1"), line("L2")))
    assert first.status_code == 201
    counts = sim.line_item_counts()
    clock.advance(5)
    replay = client.post("/asyncOrders", json=order("ORD1", line("L1"), line("L9")))
    assert replay.status_code == 200
    assert replay.json()["externalRefID"] == "ORD1" and replay.json()["status"] == "COMPLETE"
    assert sim.line_item_counts() == counts == {"L1": 1, "L2": 1}
    assert len(sim.orders()) == 1


def test_nested_response_shape(clock: Clock) -> None:
    with client_for(simulator(clock, nested_response=True)) as c:
        body = c.post("/asyncOrders", json=order("ORD1", line("L1"), line("L2"))).json()
    assert body["externalRefID"] == "ORD1"
    assert body["order"] == {"externalRefID": "ORD1", "status": "pending", "totalLineItems": "2",
                             "created_at": body["order"]["created_at"]}
    assert body["failedLineItems"] == [] and body["duplicateLineItemRefIds"] == {}


def test_duplicate_line_ids_in_one_request_are_created_once(client: httpx.Client,
                                                            sim: Simulator) -> None:
    body = client.post("/asyncOrders", json=order("ORD1", line("L1"), line("L1"), line("L2"))).json()
    assert body["duplicateLineItemRefIds"] == {"L1": 2} and body["totalLineItems"] == 2
    assert sim.line_item_counts() == {"L1": 1, "L2": 1}


# ------------------------------------------------------------------ 422 request validation

@pytest.mark.parametrize("bad_line, path", [
    (line("L2", "PHONE", recipient={"firstName": "Ann"}), "lineItems[1].recipient.mobileNumber"),
    (line("L2", "EMAIL", quantity=2), "lineItems[1].quantity"),
    (line("L2", "EMAIL", recipient={"firstName": "Ann", "email": "ann@example.com",
                                    "address": ADDRESS}), "lineItems[1].recipient.address"),
    (line("L2", "EMAIL", recipient={"email": "ann@example.com"}), "lineItems[1].recipient.firstName"),
    (line("L2", "BULKDIGITAL", recipient={"firstName": "Ann"}), "lineItems[1].recipient"),
    (line("L2", "BULKSHIPMENT", shipping=None), "lineItems[1].shipping"),
    (line("L2", "ADDRESS", shippingMethod=None), "lineItems[1].shippingMethod"),
    (line("L2", "PHONE", recipient={"firstName": "Ann", "mobileNumber": "+442071234567"}),
     "lineItems[1].recipient.mobileNumber"),
])
def test_invalid_line_gets_422_naming_it(client: httpx.Client, sim: Simulator,
                                         bad_line: dict[str, Any], path: str) -> None:
    response = client.post("/asyncOrders", json=order("ORD1", line("L1"), bad_line))
    assert response.status_code == 422
    assert error_paths(response) == [path]
    error = response.json()["errors"][0]
    assert error["i18nKey"].startswith("422.") and path in error["message"]
    assert sim.orders() == [] and sim.line_item_counts() == {}


def _set(where: str, **fields: Any):
    """A change to the order ("order"), its first line ("line") or that line's recipient."""
    def change(body: dict[str, Any]) -> None:
        target = {"order": body, "line": body["lineItems"][0],
                  "recipient": body["lineItems"][0].get("recipient")}[where]
        target.update(fields)
    return change


@pytest.mark.parametrize("change, path", [
    (_set("order", notes="x" * 151), "notes"),
    (_set("order", campaign="x" * 1025), "campaign"),
    (_set("order", purchaseOrderNumber="x" * 101), "purchaseOrderNumber"),
    (_set("order", sender={"firstName": "x" * 101}), "sender.firstName"),
    (_set("order", accountIdentifier="acct_0001"), "accountIdentifier"),
    (_set("order", lineItems=[]), "lineItems"),
    (_set("line", externalRefLineItemID="x" * 151), "lineItems[0].externalRefLineItemID"),
    (_set("line", amount="25"), "lineItems[0].amount"),
    (_set("line", quantity=0), "lineItems[0].quantity"),
    (_set("line", deliveryMethod="email"), "lineItems[0].deliveryMethod"),
    (_set("line", message="x" * 1025), "lineItems[0].message"),
    (_set("line", lineItemNote="x" * 151), "lineItems[0].lineItemNote"),
    (_set("line", shipping={"address": ADDRESS}), "lineItems[0].shipping"),
    (_set("line", deliveryDate="2026-05-30"), "lineItems[0].deliveryDate"),
    (_set("recipient", firstName="Ann/Lee"), "lineItems[0].recipient.firstName"),
    (_set("recipient", email=None), "lineItems[0].recipient.email"),
])
def test_field_rules(client: httpx.Client, change: Any, path: str) -> None:
    body = order("ORD1", line("L1"))
    change(body)
    response = client.post("/asyncOrders", json=body)
    assert response.status_code == 422 and error_paths(response) == [path]


def test_physical_names_are_stricter(client: httpx.Client) -> None:
    recipient = {"firstName": "A" * 26, "lastName": "O'Neil", "address": ADDRESS}
    response = client.post("/asyncOrders", json=order("ORD1", line("L1", "ADDRESS",
                                                                  recipient=recipient)))
    assert error_paths(response) == ["lineItems[0].recipient.firstName",
                                     "lineItems[0].recipient.lastName"]


def test_all_errors_of_a_request_are_reported_at_once(client: httpx.Client) -> None:
    body = order("ORD-1", line("L1", "PHONE", recipient={"firstName": "A<b>"}),
                 line("L2", "ADDRESS", recipient={"firstName": "Ann", "address": {"city": "X"}}))
    body["customerIdentifier"] = "abc"
    response = client.post("/asyncOrders", json=body)
    assert response.status_code == 422
    assert set(error_paths(response)) >= {
        "externalRefID", "customerIdentifier", "lineItems[0].recipient.firstName",
        "lineItems[0].recipient.mobileNumber", "lineItems[1].recipient.lastName",
        "lineItems[1].recipient.address.streetLine1", "lineItems[1].recipient.address.country"}


def test_body_that_is_not_json_gets_400(client: httpx.Client) -> None:
    response = client.post("/asyncOrders", content=b"{not json",
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400


# ------------------------------------------------------------------ catalog checks per line

def test_failed_lines_are_reported_while_the_others_are_created(client: httpx.Client,
                                                                sim: Simulator) -> None:
    response = client.post("/asyncOrders", json=order(
        "ORD1", line("L1"), line("L2", utid="U424242"), line("L3", utid="U579023", amount=501)))
    assert response.status_code == 201
    body = response.json()
    assert body["totalLineItems"] == 1
    failed = {f["externalRefLineItemID"]: f["errors"][0]["errorCodeName"]
              for f in body["failedLineItems"]}
    assert failed == {"L2": "INVALID_UTID", "L3": "AMOUNT_OUT_OF_RANGE"}
    assert sim.line_item_counts() == {"L1": 1}


@pytest.mark.parametrize("utid, amount, code", [
    ("U123456", 20, "FIXED_VALUE_MISMATCH"),
    ("U222222", 10.5, "WHOLE_AMOUNT_REQUIRED"),
    ("U999999", 10, "ITEM_NOT_ACTIVE"),
])
def test_catalog_rules(client: httpx.Client, utid: str, amount: float, code: str) -> None:
    body = client.post("/asyncOrders",
                       json=order("ORD1", line("L1"), line("L2", utid=utid, amount=amount))).json()
    assert [e["errorCodeName"] for e in body["failedLineItems"][0]["errors"]] == [code]


def test_order_where_every_line_fails_is_422_and_not_stored(client: httpx.Client,
                                                             sim: Simulator) -> None:
    response = client.post("/asyncOrders", json=order("ORD1", line("L1", utid="U424242")))
    assert response.status_code == 422
    assert error_paths(response) == ["lineItems[0].utid"]
    assert sim.orders() == []


def test_processing_failure_makes_the_order_partial_or_failed(client: httpx.Client,
                                                              clock: Clock) -> None:
    client.post("/asyncOrders", json=order("ORD1", line("L1"), line("L2", utid="U000666")))
    client.post("/asyncOrders", json=order("ORD2", line("L3", utid="U000666")))
    clock.advance(3)
    partial = client.get(f"{DETAIL}/ORD1").json()
    assert partial["orderStatus"] == "PARTIAL"
    statuses = {i["externalRefLineItemID"]: i["lineItemStatus"] for i in partial["lineItems"]}
    assert statuses == {"L1": "COMPLETE", "L2": "FAILED"}
    assert partial["lineItems"][1]["lineItemErrors"]
    assert client.get(f"{DETAIL}/ORD2").json()["orderStatus"] == "FAILED"


# ------------------------------------------------------------------ balance

def test_balance_goes_down_by_amount_times_quantity(client: httpx.Client, sim: Simulator) -> None:
    client.post("/asyncOrders", json=order("ORD1", line("L1", amount=10),
                                           line("L2", "BULKDIGITAL", amount=5, quantity=4)))
    assert sim.balance(CUSTOMER, ACCOUNT) == 100_000 - 10 - 20
    account = client.get(f"/accounts/{ACCOUNT}").json()
    assert account["currentBalance"] == 100_000 - 30
    assert (account["customerIdentifier"], account["status"], account["currencyCode"]) == (
        CUSTOMER, "ACTIVE", "USD")


def test_short_balance_gives_402_and_creates_nothing(client: httpx.Client, sim: Simulator) -> None:
    sim.set_balance(CUSTOMER, ACCOUNT, 50)
    response = client.post("/asyncOrders", json=order("ORD1", line("L1", amount=30),
                                                      line("L2", amount=30)))
    assert response.status_code == 402 and response.json()["i18nKey"] == "402.001"
    assert sim.orders() == [] and sim.line_item_counts() == {}
    assert sim.balance(CUSTOMER, ACCOUNT) == 50


def test_account_belongs_to_one_customer(client: httpx.Client, sim: Simulator) -> None:
    client.post("/asyncOrders", json=order("ORD1"))
    other = order("ORD2") | {"customerIdentifier": "other-customer"}
    response = client.post("/asyncOrders", json=other)
    assert response.status_code == 422 and error_paths(response) == ["accountIdentifier"]
    with pytest.raises(ValueError):
        sim.set_balance("other-customer", ACCOUNT, 10)


# ------------------------------------------------------------------ injected faults

def test_over_the_rate_limit_gives_429_with_retry_after(clock: Clock) -> None:
    sim = simulator(clock, faults=Faults(tps=2))
    with client_for(sim) as c:
        assert [c.post("/asyncOrders", json=order(f"ORD{n}")).status_code
                for n in range(2)] == [201, 201]
        limited = c.post("/asyncOrders", json=order("ORD2"))
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "1" and limited.json()["i18nKey"] == "429.001"
        clock.advance(1.01)
        assert c.post("/asyncOrders", json=order("ORD2")).status_code == 201
    assert sim.post_attempts() == 4 and len(sim.orders()) == 3


def test_error_rate_gives_500_or_503_and_creates_nothing(clock: Clock) -> None:
    sim = simulator(clock, faults=Faults(error_rate=1.0, seed=7))
    with client_for(sim) as c:
        responses = [c.post("/asyncOrders", json=order("ORD1")) for _ in range(12)]
    assert {r.status_code for r in responses} == {500, 503}
    assert {r.json()["i18nKey"] for r in responses if r.status_code == 503} == {"503.502"}
    assert sim.orders() == [] and sim.line_item_counts() == {} and sim.post_attempts() == 12


def test_dropped_reply_raises_but_the_order_exists(clock: Clock) -> None:
    sim = simulator(clock, faults=Faults(drop_rate=1.0))
    with client_for(sim) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            c.post("/asyncOrders", json=order("ORD1", line("L1")))
        assert [o["externalRefID"] for o in sim.orders()] == ["ORD1"]
        # The safe retry: same externalRefID, answered from the existing order, nothing new.
        retry = c.post("/asyncOrders", json=order("ORD1", line("L1")))
        assert retry.status_code == 200
    assert sim.line_item_counts() == {"L1": 1}


# ------------------------------------------------------------------ persistence, pagination

def test_state_file_is_reloaded_by_a_new_simulator(tmp_path: Path, clock: Clock) -> None:
    state = tmp_path / "sim" / "state.json"
    with client_for(simulator(clock, state_path=state)) as c:
        c.post("/asyncOrders", json=order("ORD1", line("L1", amount=40)))
    assert sorted(os.listdir(state.parent)) == ["state.json"]  # no temp file left behind

    again = simulator(clock, state_path=state)
    assert [o["externalRefID"] for o in again.orders()] == ["ORD1"]
    assert again.line_item_counts() == {"L1": 1}
    assert again.balance(CUSTOMER, ACCOUNT) == 100_000 - 40
    with client_for(again) as c:
        assert c.post("/asyncOrders", json=order("ORD1", line("L1"))).status_code == 200
        assert c.get(f"{DETAIL}/ORD1").json()["lineItems"][0]["externalRefLineItemID"] == "L1"


def test_order_detail_pages_with_a_cursor(client: httpx.Client) -> None:
    client.post("/asyncOrders", json=order("ORD1", line("L1"), line("L2"), line("L3")))
    first = client.get(f"{DETAIL}/ORD1", params={"maxResults": 2}).json()
    assert [i["externalRefLineItemID"] for i in first["lineItems"]] == ["L1", "L2"]
    assert first["totalLineItems"] == 3 and first["pagination"]["maxResults"] == 2
    cursor = first["pagination"]["nextCursor"]
    assert first["pagination"]["nextPageAvailable"] is True and first["pagination"]["numberOfElements"] == 2
    second = client.get(f"{DETAIL}/ORD1", params={"maxResults": 2, "nextCursor": cursor}).json()
    assert [i["externalRefLineItemID"] for i in second["lineItems"]] == ["L3"]
    assert second["pagination"]["nextCursor"] == "" and second["pagination"]["nextPageAvailable"] is False
    back = client.get(f"{DETAIL}/ORD1", params={"maxResults": 2, "prevCursor": second["pagination"]["prevCursor"]})
    assert [i["externalRefLineItemID"] for i in back.json()["lineItems"]] == ["L1", "L2"]
    # a parameter the reference does not define is ignored, as servers do: the first page again
    ignored = client.get(f"{DETAIL}/ORD1", params={"maxResults": 2, "cursor": cursor}).json()
    assert [i["externalRefLineItemID"] for i in ignored["lineItems"]] == ["L1", "L2"]
    assert client.get(f"{DETAIL}/ORD1", params={"maxResults": 501}).status_code == 422
    assert client.get(f"{DETAIL}/ORD1", params={"maxResults": 0}).status_code == 422


def test_concurrent_posts_create_each_order_once(sim: Simulator) -> None:
    # Four threads send the same eight orders: each externalRefID must be created exactly once.
    def send() -> list[int]:
        with client_for(sim) as c:
            return [c.post("/asyncOrders", json=order(f"ORD{n}")).status_code for n in range(8)]

    results: list[list[int]] = []
    threads = [threading.Thread(target=lambda: results.append(send())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(code for codes in results for code in codes) == [200] * 24 + [201] * 8
    assert sim.line_item_counts() == {f"ORD{n}-1": 1 for n in range(8)}
    assert sim.balance(CUSTOMER, ACCOUNT) == 100_000 - 8 * 25


# ------------------------------------------------------------------ over real sockets

def test_real_server_round_trip_and_dropped_reply(clock: Clock) -> None:
    faults = Faults()
    sim = simulator(clock, faults=faults)
    server = make_server(sim, port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        with httpx.Client(base_url=f"http://{host}:{port}{BASE_PATH}", auth=AUTH,
                          timeout=5) as c:
            created = c.post("/asyncOrders", json=order("ORD1", line("L1"), line("L2")))
            assert created.status_code == 201 and created.headers["X-REQUEST-ID"]
            detail = c.get(f"{DETAIL}/ORD1", params={"maxResults": 1})
            assert detail.status_code == 200 and len(detail.json()["lineItems"]) == 1

            faults.drop_rate = 1.0  # the simulator reads its faults on every request
            with pytest.raises(httpx.RemoteProtocolError):
                c.post("/asyncOrders", json=order("ORD2", line("L3")))
            state = c.get("/_simulator/state").json()
        assert [o["externalRefID"] for o in state["orders"]] == ["ORD1", "ORD2"]
        assert state["lineItemCounts"] == {"L1": 1, "L2": 1, "L3": 1}
        assert state["postAttempts"] == 2
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_the_real_server_sends_its_replies_at_once_not_after_nagles_delay(clock: Clock) -> None:
    # a reply is written as its head and then its body: with Nagle's algorithm on, the body waited
    # for the client's delayed ACK of the head (40 ms on Linux) on every call of a kept-alive connection
    server = make_server(simulator(clock), port=0)
    no_delay: list[int] = []
    finish, served = server.finish_request, threading.Event()

    def finish_request(request: Any, address: Any) -> None:
        finish(request, address)
        no_delay.append(request.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        served.set()

    server.finish_request = finish_request  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        with httpx.Client(base_url=f"http://{host}:{port}{BASE_PATH}", auth=AUTH, timeout=5) as c:
            assert [c.post("/asyncOrders", json=order(f"ORD{n}")).status_code for n in range(3)] == [201] * 3
        assert served.wait(timeout=10)      # the connection's handler has ended (the client closed it)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert no_delay == [1]           # one kept-alive connection, its replies sent with TCP_NODELAY


def test_command_line_serves_until_sigterm(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline.simulator", "--port", "0", "--state", str(state),
         "--processing-delay", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 10)
        assert ready, "the simulator did not announce itself"
        banner = process.stdout.readline().strip()
        assert banner.startswith("simulator listening on http://127.0.0.1:")
        assert banner.endswith(f"/raas/v2 (state: {state})")
        url = banner.split()[3]
        with httpx.Client(base_url=url, auth=AUTH, timeout=5) as c:
            assert c.post("/asyncOrders", json=order("ORD1")).status_code == 201
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert json.loads(state.read_text())["lineItemCounts"] == {"ORD1-1": 1}
