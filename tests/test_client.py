"""The Tango client's one retry policy, against scripted answers (httpx.MockTransport)."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from pipeline.errors import AuthFailed, InsufficientFunds, Rejected, Unavailable
from pipeline.tango import PostResult, RateLimiter, TangoClient

SECRET = "s3cr3t-platform-key"
ORDER = {"externalRefID": "B123", "customerIdentifier": "acme-corp", "accountIdentifier": "acme-rewards",
         "lineItems": [{"externalRefLineItemID": "L1", "utid": "U1", "amount": 5, "deliveryMethod": "NONE",
                        "recipient": {"firstName": "Ann"}}]}


class Script:
    """Answers requests from a list: an int status, a (status, body, headers) tuple, or an exception."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body, headers = answer if isinstance(answer, tuple) else (answer, {}, {})
        headers = {"X-REQUEST-ID": f"req-{len(self.requests)}", **headers}
        return httpx.Response(status, json=body, headers=headers)


CREATED = (201, {"externalRefID": "B123", "status": "PENDING", "totalLineItems": 1, "failedLineItems": [],
                 "duplicateLineItemRefIds": {}}, {})


def client(script: Script, sleeps: list[float] | None = None, **kw) -> TangoClient:
    sleeps = sleeps if sleeps is not None else []
    return TangoClient("http://tango.test/raas/v2", ("platform", SECRET), transport=httpx.MockTransport(script),
                       sleep=sleeps.append, clock=lambda: 0.0, post_rate=0, get_rate=0, **kw)


def test_created_order_is_parsed():
    result = client(Script(CREATED)).create_order(ORDER)
    assert result.status == 201 and result.order_status == "PENDING" and result.request_id == "req-1"


def test_the_nested_success_shape_of_the_seed_is_parsed_too():
    body = {"externalRefID": "ORDER-2025-001", "order": {"externalRefID": "ORDER-2025-001", "status": "pending",
                                                         "totalLineItems": "2"}}
    result = PostResult.parse(200, body, "r", 1)
    assert result.external_ref_id == "ORDER-2025-001" and result.order_status == "pending"
    assert result.failed == [] and result.duplicates == {}


def test_failed_line_items_and_duplicates_are_parsed():
    body = {"externalRefID": "B1", "status": "PENDING", "failedLineItems": [
        {"externalRefLineItemID": "L2", "utid": "U9", "errors": [{"message": "invalid utid"}]}],
        "duplicateLineItemRefIds": {"L3": 2}}
    result = PostResult.parse(201, body, None, 1)
    assert result.failed[0]["externalRefLineItemID"] == "L2" and result.duplicates == {"L3": 2}


@pytest.mark.parametrize("transient", [500, 502, 503, httpx.ReadTimeout("slow"),
                                       httpx.ConnectError("refused"),
                                       httpx.RemoteProtocolError("Server disconnected")])
def test_unknown_outcomes_are_retried_with_the_same_request(transient):
    script = Script(transient, transient, CREATED)
    sleeps: list[float] = []
    c = client(script, sleeps)
    assert c.create_order(ORDER).status == 201
    bodies = [json.loads(r.content) for r in script.requests]
    assert len(bodies) == 3 and all(b == ORDER for b in bodies)       # same externalRefID each time
    assert len(sleeps) == 2 and c.retries == 2


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    script = Script(*[500] * 6)
    sleeps: list[float] = []
    with pytest.raises(Unavailable) as err:
        client(script, sleeps, max_attempts=6, backoff_max=4).create_order(ORDER)
    assert err.value.attempts == 6 and len(script.requests) == 6
    assert all(0 <= s <= 4 for s in sleeps) and len(sleeps) == 5


def test_rate_limited_and_in_process_wait_as_told_then_retry():
    script = Script((429, {"i18nKey": "429.001"}, {"Retry-After": "3"}), (409, {"i18nKey": "409.002"}, {}),
                    CREATED)
    sleeps: list[float] = []
    client(script, sleeps).create_order(ORDER)
    assert sleeps == [3.0, 2.0]


@pytest.mark.parametrize("status", [400, 403, 422])
def test_a_wrong_request_is_not_retried(status):
    body = {"httpCode": status, "i18nKey": "422.024", "message": "Validation failed",
            "errors": [{"path": "lineItems[0].utid", "message": "invalid utid"}]}
    script = Script((status, body, {}))
    with pytest.raises(Rejected) as err:
        client(script).create_order(ORDER)
    assert len(script.requests) == 1
    assert err.value.errors[0]["path"] == "lineItems[0].utid"
    assert "lineItems[0].utid: invalid utid" in err.value.message and err.value.i18n_key == "422.024"


def test_bad_credentials_and_insufficient_funds_are_their_own_errors():
    with pytest.raises(AuthFailed):
        client(Script(401)).create_order(ORDER)
    with pytest.raises(InsufficientFunds):
        client(Script((402, {"i18nKey": "402.001", "message": "Insufficient funds"}, {}))).create_order(ORDER)


def test_order_detail_pages_are_joined_and_404_is_none():
    page1 = {"orderStatus": "PENDING", "lineItems": [{"externalRefLineItemID": "L1"}],
             "pagination": {"nextCursor": "c2"}}
    page2 = {"orderStatus": "PENDING", "lineItems": [{"externalRefLineItemID": "L2"}],
             "pagination": {"nextCursor": None}}
    script = Script((200, page1, {}), (200, page2, {}), 404)
    c = client(script)
    detail = c.get_order("acme-corp", "acme-rewards", "B123")
    assert [li["externalRefLineItemID"] for li in detail["lineItems"]] == ["L1", "L2"]
    assert script.requests[1].url.params["cursor"] == "c2"
    assert c.get_order("acme-corp", "acme-rewards", "B404") is None


def test_each_response_request_id_is_reported_and_no_credential_leaks(caplog):
    seen = []
    script = Script(503, CREATED)
    c = TangoClient("http://tango.test/raas/v2", ("platform", SECRET), transport=httpx.MockTransport(script),
                    sleep=lambda s: None, post_rate=0, on_response=lambda *a: seen.append(a))
    with caplog.at_level(logging.DEBUG):
        c.create_order(ORDER)
    assert [(a[2], a[3]) for a in seen] == [(503, "req-1"), (201, "req-2")]
    assert SECRET not in caplog.text and SECRET not in repr(seen)
    assert script.requests[0].headers["Authorization"].startswith("Basic ")


def test_rate_limiter_spaces_calls_evenly():
    now = [0.0]
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        now[0] += s

    limiter = RateLimiter(2.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.wait()
    assert sleeps == [pytest.approx(0.51)] * 4     # 2 per second, with a 2% margin
