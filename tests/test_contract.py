"""Contract tests against Tango's own API reference, not against the client's assumptions.

The reference's operations and schemas are a fixture, ``tests/contract/tango_reference.json``,
copied verbatim (with its provenance) from the public assembly of Tango's reference pages. Every
request body the planner can build is validated against ``CreateAsyncOrderCriteria``; every
request the client sends and every answer the simulator gives in a run that touches every path
(all delivery methods, both bulk-shipping spellings, paging, the order list, errors of each kind,
OAuth) is checked against the operation's parameters and response schemas.

Where the product departs from the reference on purpose, the departure is listed below, once,
with its source; no other difference passes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from pipeline.errors import InsufficientFunds
from pipeline.simulator import Faults, OAuthClient, Simulator, SimulatorTransport
from pipeline.stages.plan import line_items, order_fields, plan_batches
from pipeline.tango import TangoClient
from pipeline.tango.auth import BearerToken
from pipeline.target import OAuthCredentials
from tests.helpers import BOOK, CAMPAIGN, METHODS, TODAY, Clock, base_row, people, quiet, run_settings, write_csv

REFERENCE = json.loads((Path(__file__).parent / "contract" / "tango_reference.json").read_text(encoding="utf-8"))
REGISTRY = Registry().with_resource("urn:tango", Resource.from_contents(REFERENCE, default_specification=DRAFT202012))
AUTH_REFERENCE = REFERENCE["auth"]
BULK = ("BULKDIGITAL", "BULKSHIPMENT")


def validator(ref: str) -> Draft202012Validator:
    """A validator for a ``#/components/schemas/...`` reference of the fixture."""
    return Draft202012Validator({"$ref": f"urn:tango{ref}"}, registry=REGISTRY)


# --- the deliberate departures, each with its source -------------------------------------------
@dataclass(frozen=True)
class Departure:
    why: str
    matches: Callable[[ValidationError, dict[str, Any]], bool]   # (error, the line item it is about)


def _field(error: ValidationError) -> str:
    return str(list(error.absolute_path)[-1]) if error.absolute_path else ""


REQUEST_DEPARTURES = [
    Departure("BULKDIGITAL and BULKSHIPMENT are delivery methods in seed 004's matrix; the reference's "
              "request enum lists them only in its response and query enums",
              lambda e, line: e.validator == "enum" and _field(e) == "deliveryMethod" and e.instance in BULK),
    Departure("seed 004 forbids a recipient on BULKDIGITAL and BULKSHIPMENT lines; the reference's LineItem "
              "requires one",
              lambda e, line: e.validator == "required" and "'recipient'" in e.message
              and line.get("deliveryMethod") in BULK),
]
# answers the simulator gives that the reference does not list for the operation
STATUS_DEPARTURES = {
    201: "seed 004 lists 201 Created for a new order; the reference lists 200 and 202 (same body)",
    409: "Tango's best-practices page documents 409.002 'still in process' for a replayed externalRefID",
    429: "Tango's best-practices page documents 1 TPS for every endpoint; the reference lists 429 for the "
         "order endpoints only",
}


def request_violations(payload: dict[str, Any], used: set[str]) -> list[str]:
    """What in a POST /asyncOrders body the reference refuses, but for the listed departures."""
    wrong = []
    for error in validator("#/components/schemas/CreateAsyncOrderCriteria").iter_errors(payload):
        path = list(error.absolute_path)
        line = payload["lineItems"][path[1]] if len(path) > 1 and path[0] == "lineItems" else {}
        departure = next((d for d in REQUEST_DEPARTURES if d.matches(error, line)), None)
        if departure is None:
            wrong.append(f"{'/'.join(map(str, path))}: {error.message}")
        else:
            used.add(departure.why)
    return wrong


# --- every payload the planner can build --------------------------------------------------------
FULL_EMAIL = {"Delivery Date": (TODAY + dt.timedelta(days=10)).isoformat(), "ETID": "E000001",
              "Expiration Date": "2027-06-30", "Email Subject": "Thank you", "Message": "Well done",
              "Note": "Q4", "Reference": "REF-1", "PTID": "P123"}


@pytest.mark.parametrize("form", sorted(BOOK.shipping_forms))
def test_every_payload_the_planner_builds_is_what_the_reference_takes(check, form):
    book = BOOK.sending(form)
    rows = [base_row(m, Company="Acme", Mobile="+14155552671" if m != "EMAIL" else "", Reference=f"R-{m}")
            if m == "BULKSHIPMENT" else base_row(m, Reference=f"R-{m}") for m in METHODS]
    rows.append(base_row("EMAIL", First_Name="Bo", Email="bo@example.com", **FULL_EMAIL))
    validated = check(rows, book=book)
    assert validated.frame["status"].to_list() == ["VALID"] * len(rows)
    campaign = dataclasses.replace(CAMPAIGN, sender={"firstName": "Acme", "lastName": "HR", "email": "hr@acme.test"},
                                   purchaseOrderNumber="PO-7", notes="night run")
    [batch] = plan_batches(line_items(validated.frame, campaign, book), order_fields(campaign), 100)
    used: set[str] = set()
    assert request_violations(batch.payload, used) == []
    assert used == {d.why for d in REQUEST_DEPARTURES}       # the list of departures is not stale
    shipped = next(li for li in batch.payload["lineItems"] if li["deliveryMethod"] == "BULKSHIPMENT")
    assert book.bulk_shipping.object in shipped
    if form == "reference":                                  # the reference's own object, checked in full
        assert list(validator("#/components/schemas/ShippingCriteria").iter_errors(shipped["bulkShipping"])) == []


def test_a_departure_does_not_hide_a_real_mistake():
    line = {"externalRefLineItemID": "L1", "utid": "761382", "amount": -1, "deliveryMethod": "BULKDIGITAL"}
    payload = {"externalRefID": "B1", "customerIdentifier": "acme-corp", "accountIdentifier": "acme-rewards",
               "lineItems": [line]}
    wrong = request_violations(payload, set())
    assert len(wrong) == 2 and any("utid" in w for w in wrong) and any("amount" in w for w in wrong)


def test_the_token_request_is_the_references_password_grant():
    credentials = OAuthCredentials("http://auth.test/oauth/token", "client", "secret", "user", "pass")
    form = BearerToken(credentials)._form()
    schema = AUTH_REFERENCE["paths"]["/oauth/token"]["post"]["requestBody"]["content"][
        "application/x-www-form-urlencoded"]["schema"]
    assert list(Draft202012Validator(schema).iter_errors(form)) == []


# --- every request and answer of a run that touches every path ----------------------------------
def _templates() -> list[tuple[str, re.Pattern[str], dict[str, Any]]]:
    out = []
    for template, operations in REFERENCE["paths"].items():
        pattern = re.compile("^/raas/v2" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")
        for method, operation in operations.items():
            out.append((method.upper(), pattern, operation))
    return out


class ContractTransport(httpx.BaseTransport):
    """The simulator, with every request and answer checked against the reference on the way."""

    def __init__(self, simulator: Simulator) -> None:
        self.inner = SimulatorTransport(simulator)
        self.violations: list[str] = []
        self.seen: set[tuple[str, str, int]] = set()
        self.departures: set[str] = set()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path.endswith("/oauth/token"):
            return response
        operation = next((op for method, pattern, op in _templates()
                          if method == request.method and pattern.match(request.url.path)), None)
        where = f"{request.method} {request.url.path}"
        if operation is None:
            self.violations.append(f"{where}: no such operation in the reference")
            return response
        self._check_request(where, request, operation)
        self._check_answer(where, response, operation)
        return response

    def _check_request(self, where: str, request: httpx.Request, operation: dict[str, Any]) -> None:
        declared = {p["name"]: p["schema"] for p in operation.get("parameters", []) if p["in"] == "query"}
        for name, value in request.url.params.items():
            if name not in declared:
                self.violations.append(f"{where}: query parameter {name!r} is not the reference's")
                continue
            typed: Any = int(value) if declared[name].get("type") == "integer" else value
            for error in Draft202012Validator(declared[name]).iter_errors(typed):
                self.violations.append(f"{where}: {name}={value}: {error.message}")
        if request.method == "POST":
            self.violations += [f"{where}: {w}" for w in request_violations(json.loads(request.content),
                                                                             self.departures)]

    def _check_answer(self, where: str, response: httpx.Response, operation: dict[str, Any]) -> None:
        status = response.status_code
        self.seen.add((where.split()[0], operation.get("operationId", "?"), status))
        answers = operation["responses"]
        listed = str(status) if str(status) in answers else None
        if listed is None and status in STATUS_DEPARTURES:
            self.departures.add(STATUS_DEPARTURES[status])
            listed = "200" if status < 300 else next(k for k in answers if k.startswith("4"))
        if listed is None:
            self.violations.append(f"{where}: answered {status}, which the reference does not list")
            return
        schema = answers[listed].get("content", {}).get("application/json", {}).get("schema", {})
        body = json.loads(response.read() or b"null")
        for error in validator(schema["$ref"]).iter_errors(body):
            self.violations.append(f"{where} {status}: {'/'.join(map(str, error.absolute_path))}: {error.message}")


def test_a_whole_run_speaks_the_references_language(tmp_path):
    """Every delivery method, both bulk-shipping spellings, a line that fails in processing, lines the
    catalog refuses, an order read in pages, the order list, 404, 401, 402, 409, 429 and 5xx answers."""
    from pipeline.jobs.run import run_files
    from pipeline.jobs.status import status
    clock = Clock()
    sim = Simulator(None, processing_delay=0.0, clock=clock, sleep=clock.sleep, bulk_shipping="either",
                    page_limit=2, faults=Faults(tps=1.0, error_rate=0.2, drop_rate=0.3, conflict_rate=0.5, seed=4))
    transport = ContractTransport(sim)
    client = TangoClient("http://simulator/raas/v2", ("simulator", "simulator-key"), transport=transport,
                         rate=0, sleep=clock.sleep, clock=clock)
    rows = [base_row(m, Reference=f"R-{m}") for m in METHODS] + people(3)
    rows[2]["UTID"] = "U000666"                                  # fails while Tango processes it
    sheet = write_csv(tmp_path / "all.csv", rows)
    for form in sorted(BOOK.shipping_forms):                    # the second run: all duplicates
        run_files([str(sheet)], run_settings(tmp_path, book=BOOK.sending(form), batch_size=4), quiet(), client)
    sim.set_balance("acme-corp", "acme-rewards", 10)           # 402 for the next order
    costly = {"externalRefID": "B402", "customerIdentifier": "acme-corp", "accountIdentifier": "acme-rewards",
              "lineItems": [{"externalRefLineItemID": "L402", "utid": "U761382", "amount": 50,
                             "deliveryMethod": "NONE", "recipient": {"firstName": "Ann"}}]}
    with pytest.raises(InsufficientFunds):
        client.create_order(costly)
    sim.set_balance("acme-corp", "acme-rewards", 1000)
    status(run_settings(tmp_path), quiet(), client=client)
    assert list(client.list_orders("acme-corp", "acme-rewards", max_results=2))
    assert client.get_order("acme-corp", "acme-rewards", "B-not-there") is None          # 404
    bad = TangoClient("http://simulator/raas/v2", ("simulator", "wrong"), transport=transport, rate=0)
    with pytest.raises(Exception, match="401"):
        bad.get_account("acme-rewards")
    assert transport.violations == [], "\n".join(transport.violations)
    statuses = {s for _, _, s in transport.seen}
    assert {200, 201, 401, 402, 404, 409, 429}.issubset(statuses) and statuses & {500, 503}


def test_bearer_tokens_from_the_token_endpoint_are_taken_and_renewed_once_on_401(tmp_path):
    clock = Clock()
    oauth = OAuthClient()
    sim = Simulator(None, processing_delay=0.0, clock=clock, sleep=clock.sleep, auth="bearer", oauth_client=oauth)
    transport = ContractTransport(sim)
    credentials = OAuthCredentials("http://simulator/oauth/token", oauth.client_id, oauth.client_secret,
                                   oauth.username, oauth.password)
    token = BearerToken(credentials, transport=transport, clock=clock)
    client = TangoClient("http://simulator/raas/v2", token, transport=transport, rate=0, sleep=clock.sleep)
    assert client.get_account("acme-rewards")["status"] == "ACTIVE"
    assert client.get_catalog()["brands"] and token.fetched == 1       # kept in memory, not fetched again
    sim._tokens.revoke_all()                                            # as a restarted auth host would
    assert client.get_account("acme-rewards")["status"] == "ACTIVE"
    assert token.fetched == 2                                           # renewed once, on the 401
    clock.advance(24 * 3600)                                            # expired: renewed before use
    client.get_account("acme-rewards")
    assert token.fetched == 3
    assert transport.violations == []
