"""The Tango RaaS v2 client: httpx for the calls, tenacity for the one retry policy.

Retry policy (written once, here):
- 429 (over the rate limit) and 409 (same externalRefID still in process): wait (Retry-After, at
  least 1 s / 2 s) and send the same request again;
- 5xx, timeouts and dropped connections: the outcome is unknown, so the same request (same
  externalRefID) is sent again after exponential backoff with jitter, a capped number of times;
- 400/403/422: never retried: ``Rejected`` carries Tango's message to the rows;
- 401: ``AuthFailed`` stops the run; 402: ``InsufficientFunds`` stops sending.

The transport is a parameter, so tests and the in-process simulator need no sockets. Credentials
go into the Authorization header and nowhere else: never into a log line or an exception.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from pipeline.errors import AuthFailed, InsufficientFunds, Rejected, TangoError, Unavailable
from pipeline.tango.answers import PostResult

__all__ = ["OnResponse", "RateLimiter", "TangoClient"]

log = logging.getLogger("tango_batch.client")
# called with each answer (method, path, HTTP status, X-REQUEST-ID, outcome); None status: no answer
OnResponse = Callable[[str, str, int | None, str | None, str], None]


class _Retry(Exception):
    """A transient failure worth another attempt with the same request."""

    def __init__(self, reason: str, wait: float | None = None, status: int | None = None,
                 request_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.wait, self.status, self.request_id = reason, wait, status, request_id


class RateLimiter:
    """At most ``rate`` calls per second, spaced evenly (Tango documents 1 TPS for orders).

    The spacing has a small margin: calls spaced exactly 1/rate apart here arrive a few
    milliseconds closer together at times, and a server counting a one-second window answers 429.
    """

    MARGIN = 0.02

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = (1.0 + self.MARGIN) / rate if rate > 0 else 0.0
        self.clock, self.sleep = clock, sleep
        self.next_at = 0.0

    def wait(self) -> None:
        now = self.clock()
        if self.next_at > now:
            self.sleep(self.next_at - now)
            now = self.next_at
        self.next_at = now + self.interval


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _error_text(body: dict[str, Any], status: int) -> str:
    parts = [body.get("message") or body.get("httpPhrase") or f"HTTP {status}"]
    for err in body.get("errors") or []:
        if isinstance(err, dict) and err.get("message"):
            where = f"{err['path']}: " if err.get("path") else ""
            parts.append(f"{where}{err['message']}")
    return "; ".join(parts)


def _retry_after(response: httpx.Response, floor: float) -> float:
    try:
        return max(floor, float(response.headers.get("Retry-After", floor)))
    except ValueError:
        return floor


class TangoClient:
    def __init__(self, base_url: str, auth: tuple[str, str], *, transport: httpx.BaseTransport | None = None,
                 post_rate: float = 1.0, get_rate: float = 5.0, timeout: float = 30.0,
                 max_attempts: int = 6, backoff_max: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 on_response: OnResponse | None = None) -> None:
        self.http = httpx.Client(base_url=base_url.rstrip("/"), auth=auth, transport=transport,
                                 timeout=timeout, headers={"Accept": "application/json"})
        self.post_limit = RateLimiter(post_rate, clock, sleep)
        self.get_limit = RateLimiter(get_rate, clock, sleep)
        self.sleep, self.max_attempts, self.backoff_max = sleep, max_attempts, backoff_max
        self.on_response = on_response or (lambda *a: None)
        self.retries = 0                      # transient failures retried, for the run's figures

    def close(self) -> None:
        self.http.close()

    # --- the one retry policy -------------------------------------------------------------------
    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retry) and exc.wait is not None:
            return exc.wait
        return wait_random_exponential(multiplier=0.5, max=self.backoff_max)(state)

    def _send(self, method: str, path: str, limiter: RateLimiter, **kwargs: Any) -> tuple[httpx.Response, int, bool]:
        """The first definite answer, the number of attempts, and whether an earlier one was unknown."""
        attempts, unknown = 0, False

        def attempt() -> httpx.Response:
            nonlocal attempts, unknown
            attempts += 1
            limiter.wait()
            try:
                response = self.http.request(method, path, **kwargs)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                self.on_response(method, path, None, None, f"no response ({type(exc).__name__})")
                unknown = True
                raise _Retry(f"no response ({type(exc).__name__})") from None
            request_id = response.headers.get("X-REQUEST-ID")
            self.on_response(method, path, response.status_code, request_id, response.reason_phrase)
            status = response.status_code
            if status == 429:
                raise _Retry("rate limited (429)", _retry_after(response, 1.0), status, request_id)
            if status == 409:
                raise _Retry("order still in process (409)", _retry_after(response, 2.0), status, request_id)
            if status >= 500:
                unknown = True
                raise _Retry(f"server error ({status})", None, status, request_id)
            return response

        def count_retry(state: RetryCallState) -> None:
            self.retries += 1
            exc = state.outcome.exception() if state.outcome else None
            log.info("retrying %s %s after %s", method, path, getattr(exc, "reason", exc))

        retrying = Retrying(stop=stop_after_attempt(self.max_attempts), wait=self._wait,
                            retry=retry_if_exception_type(_Retry), sleep=self.sleep,
                            before_sleep=count_retry, reraise=True)
        try:
            response = retrying(attempt)
            return response, attempts, unknown and attempts > 1
        except _Retry as exc:
            raise Unavailable(f"Tango did not answer {method} {path} after {attempts} attempts: "
                              f"{exc.reason}", status=exc.status, request_id=exc.request_id,
                              attempts=attempts) from None

    @staticmethod
    def _raise_for(response: httpx.Response, attempts: int, after_unknown: bool = False) -> None:
        status = response.status_code
        if status < 400:
            return
        body = _body(response)
        text = _error_text(body, status)
        error: type[TangoError] = Rejected
        if status == 401:
            error, text = AuthFailed, f"Tango refused the credentials (401): {text}"
        elif status == 402:
            error, text = InsufficientFunds, f"insufficient funds (402): {text}"
        raise error(text, status=status, i18n_key=body.get("i18nKey"), errors=body.get("errors") or [],
                    request_id=response.headers.get("X-REQUEST-ID"), attempts=attempts,
                    after_unknown=after_unknown)

    # --- endpoints ------------------------------------------------------------------------------
    def create_order(self, payload: dict[str, Any]) -> PostResult:
        response, attempts, after_unknown = self._send("POST", "/asyncOrders", self.post_limit, json=payload)
        self._raise_for(response, attempts, after_unknown)
        return PostResult.parse(response.status_code, _body(response),
                                response.headers.get("X-REQUEST-ID"), attempts)

    def get_order(self, customer: str, account: str, ref: str, max_results: int = 500) -> dict[str, Any] | None:
        """The order's detail with every line item (all pages), or None when Tango has no such order."""
        path = f"/asyncOrders/customers/{customer}/accounts/{account}/{ref}"
        detail: dict[str, Any] | None = None
        params: dict[str, Any] = {"maxResults": max_results}
        while True:
            response, attempts, _ = self._send("GET", path, self.get_limit, params=params)
            if response.status_code == 404:
                return None
            self._raise_for(response, attempts)
            page = _body(response)
            if detail is None:
                detail = page
            else:
                detail["lineItems"] = detail.get("lineItems", []) + page.get("lineItems", [])
            cursor = (page.get("pagination") or {}).get("nextCursor")
            if not cursor:
                return detail
            params = {"maxResults": max_results, "cursor": cursor}

    def get_account(self, account: str) -> dict[str, Any]:
        response, attempts, _ = self._send("GET", f"/accounts/{account}", self.get_limit)
        self._raise_for(response, attempts)
        return _body(response)

    def get_catalog(self) -> dict[str, Any]:
        response, attempts, _ = self._send("GET", "/catalogs", self.get_limit)
        self._raise_for(response, attempts)
        return _body(response)
