"""The Tango client's one retry policy, against scripted answers (httpx.MockTransport)."""

from __future__ import annotations

import itertools
import json
import logging

import httpx
import pytest

from pipeline.errors import AuthFailed, BadAnswer, InsufficientFunds, Rejected, Unavailable
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
                       sleep=sleeps.append, clock=lambda: 0.0, rate=0, **kw)


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
    assert script.requests[1].url.params["nextCursor"] == "c2"       # the reference's parameter
    assert script.requests[0].url.params["maxResults"] == "500"      # the reference's largest page
    assert c.get_order("acme-corp", "acme-rewards", "B404") is None


def test_a_server_that_repeats_a_page_ends_in_a_clear_error_not_a_loop():
    page = {"orderStatus": "PENDING", "lineItems": [{"externalRefLineItemID": "L1"}],
            "pagination": {"nextCursor": "c2", "nextPageAvailable": True}}
    script = Script(*[(200, page, {})] * 50)        # a server that ignores the cursor: page one, forever
    with pytest.raises(BadAnswer, match="same page of order B123 twice"):
        client(script).get_order("acme-corp", "acme-rewards", "B123")
    assert len(script.requests) == 2


def test_a_new_cursor_on_the_same_page_is_caught_too():
    pages = [(200, {"lineItems": [{"externalRefLineItemID": "L1"}], "pagination": {"nextCursor": f"c{i}"}}, {})
             for i in range(50)]
    script = Script(*pages)
    with pytest.raises(BadAnswer, match="the page was not"):
        client(script).get_order("acme-corp", "acme-rewards", "B123")
    assert len(script.requests) == 2


def test_next_page_available_false_ends_the_reading_whatever_the_cursor():
    page = {"lineItems": [{"externalRefLineItemID": "L1"}],
            "pagination": {"nextCursor": "c2", "nextPageAvailable": False}}
    script = Script((200, page, {}))
    assert len(client(script).get_order("acme-corp", "acme-rewards", "B1")["lineItems"]) == 1


def test_page_sizes_stay_within_the_reference_bounds():
    script = Script((200, {"lineItems": []}, {}), (200, {"orders": []}, {}))
    c = client(script)
    c.get_order("acme-corp", "acme-rewards", "B1", max_results=10_000)
    list(c.list_orders("acme-corp", "acme-rewards", max_results=0))
    assert script.requests[0].url.params["maxResults"] == "500"
    assert script.requests[1].url.params["maxResults"] == "1"


def test_the_order_list_is_read_page_after_page_by_its_top_level_cursor():
    script = Script(
        (200, {"orders": [{"externalRefID": "B1"}, {"externalRefID": "B2"}], "nextCursor": "n1",
               "nextPageAvailable": True}, {}),
        (200, {"orders": [{"externalRefID": "B3"}], "nextCursor": "n2", "nextPageAvailable": True}, {}),
        (200, {"orders": [{"externalRefID": "B4"}], "nextCursor": None, "nextPageAvailable": False}, {}))
    orders = list(client(script).list_orders("acme-corp", "acme-rewards"))
    assert [o["externalRefID"] for o in orders] == ["B1", "B2", "B3", "B4"]
    assert [r.url.params.get("nextCursor") for r in script.requests] == [None, "n1", "n2"]
    assert script.requests[0].url.params["customerIdentifier"] == "acme-corp"


def test_each_response_request_id_is_reported_and_no_credential_leaks(caplog):
    seen = []
    script = Script(503, CREATED)
    c = TangoClient("http://tango.test/raas/v2", ("platform", SECRET), transport=httpx.MockTransport(script),
                    sleep=lambda s: None, rate=0, on_response=lambda *a: seen.append(a))
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
    assert sleeps == [pytest.approx(0.5075)] * 4     # 2 per second, on a cadence 1.5 % slower


def test_a_late_call_does_not_push_back_the_ones_after_it_yet_calls_never_crowd():
    """On a busy machine a sleep overslept by 30 ms: the next calls catch up, 10 ms at most each,
    so the pace stays on the cadence; no two calls are ever less than 1.01 s apart at 1 TPS."""
    now = [0.0]
    sent: list[float] = []
    late = {2: 0.030}                           # the wake-up of the third call comes 30 ms late

    def sleep(s: float) -> None:
        now[0] += s + late.pop(len(sent), 0.0)

    limiter = RateLimiter(1.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(12):
        limiter.wait()
        sent.append(now[0])
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert min(gaps) >= 1.01 - 1e-9
    assert gaps[1] == pytest.approx(1.045)                   # the late one
    assert sent[-1] == pytest.approx(11 * 1.015)             # back on the cadence by the end


def test_every_call_shares_one_pace():
    """Orders and reads alike: Tango documents 1 TPS for all endpoints."""
    now = [0.0]
    stamps: list[float] = []

    def transport(request: httpx.Request) -> httpx.Response:
        stamps.append(now[0])
        return httpx.Response(200, json={"lineItems": [], "brands": []})

    def sleep(s: float) -> None:
        now[0] += s

    c = TangoClient("http://tango.test/raas/v2", ("p", "k"), transport=httpx.MockTransport(transport),
                    rate=1.0, clock=lambda: now[0], sleep=sleep)
    c.get_catalog()
    c.get_account("acme-rewards")
    c.get_order("acme-corp", "acme-rewards", "B1")
    assert [round(b - a, 3) for a, b in itertools.pairwise(stamps)] == [1.015, 1.015]


def test_a_404_after_the_first_page_or_a_page_promised_without_a_cursor_is_not_believed():
    first = {"lineItems": [{"externalRefLineItemID": "L1"}], "pagination": {"nextCursor": "c2"}}
    with pytest.raises(BadAnswer, match="404 for a later page"):
        client(Script((200, first, {}), 404)).get_order("acme-corp", "acme-rewards", "B1")
    promised = {"lineItems": [{"externalRefLineItemID": "L1"}], "pagination": {"nextPageAvailable": True}}
    with pytest.raises(BadAnswer, match="no cursor"):
        client(Script((200, promised, {}))).get_order("acme-corp", "acme-rewards", "B1")


def test_two_calls_are_never_less_than_the_guard_apart_whatever_the_delays():
    """Random oversleeps and callers arriving late, after pauses or at once: at 1 TPS no two calls
    are ever closer than 1.01 s, and the pace stays near the cadence when nothing disturbs it."""
    import random
    rng = random.Random(7)
    now = [0.0]
    sent: list[float] = []

    def sleep(s: float) -> None:
        now[0] += s + rng.choice([0.0, 0.0, 0.003, 0.02, 0.3])      # overslept, now and then a lot

    limiter = RateLimiter(1.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(3000):
        now[0] += rng.choice([0.0, 0.0, 0.0, 0.01, 0.5, 1.2, 3.0])    # the caller's own work
        limiter.wait()
        sent.append(now[0])
    assert min(b - a for a, b in itertools.pairwise(sent)) >= 1.01 - 1e-9


def test_a_refusal_by_the_auth_host_after_an_unanswered_attempt_says_the_order_may_exist():
    """Attempt 1 of a POST gets no answer (it may have gone through); renewing the token for attempt
    2 is refused: the error must say that an earlier attempt was unknown, so the order is looked up
    rather than given up and sent again under another ID."""
    from pipeline.tango.auth import BearerToken
    from pipeline.target import OAuthCredentials
    tokens = Script((200, {"access_token": "t1", "expires_in": 300}, {}), 401)
    api = Script(httpx.ReadTimeout("timed out"))
    hours = itertools.chain([0.0], itertools.repeat(3600.0))   # fetched at 0; expired by attempt 2
    token = BearerToken(OAuthCredentials("http://auth.test/oauth/token", "id", "secret"),
                        transport=httpx.MockTransport(tokens), clock=lambda: next(hours))
    c = TangoClient("http://tango.test/raas/v2", token, transport=httpx.MockTransport(api), rate=0,
                    sleep=lambda s: None)
    with pytest.raises(AuthFailed) as caught:
        c.create_order(ORDER)
    assert caught.value.after_unknown is True
    assert "secret" not in str(caught.value)
