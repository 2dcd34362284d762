"""The Tango RaaS v2 client: httpx for the calls, tenacity for the one retry policy.

Every call, orders and reads alike, goes through one ``RateLimiter`` (Tango documents 1 TPS for
all endpoints), shared by every client of one set of credentials (see ``connect``).

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
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from pipeline.errors import AuthFailed, InsufficientFunds, Rejected, TangoError, Unavailable
from pipeline.tango import paging
from pipeline.tango.answers import PostResult
from pipeline.tango.auth import BearerToken
from pipeline.tango.pacing import RateLimiter

__all__ = ["OnResponse", "TangoClient"]

log = logging.getLogger("tango_batch.client")
# called with each answer (method, path, HTTP status, X-REQUEST-ID, outcome); None status: no answer
OnResponse = Callable[[str, str, int | None, str | None, str], None]


class _Retry(Exception):
    """A transient failure worth another attempt with the same request."""

    def __init__(self, reason: str, wait: float | None = None, status: int | None = None,
                 request_id: str | None = None, *, unknown: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.wait, self.status, self.request_id = reason, wait, status, request_id
        self.unknown = unknown          # no answer, or a 5xx: the request may have gone through


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
    """Tango's RaaS v2 endpoints the pipeline uses, every call paced by one ``RateLimiter``."""

    def __init__(self, base_url: str, auth: httpx.Auth | tuple[str, str], *,
                 transport: httpx.BaseTransport | None = None, rate: float = 1.0,
                 limiter: RateLimiter | None = None, timeout: float = 30.0, max_attempts: int = 6,
                 backoff_max: float = 30.0, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, on_response: OnResponse | None = None) -> None:
        self.http = httpx.Client(base_url=base_url.rstrip("/"), auth=auth, transport=transport,
                                 timeout=timeout, headers={"Accept": "application/json"})
        self.limiter = limiter or RateLimiter(rate, clock, sleep)
        self.sleep, self.clock = sleep, clock       # the one notion of time of whoever waits on this client
        self.max_attempts, self.backoff_max = max_attempts, backoff_max
        self.on_response = on_response or (lambda *a: None)
        self.retries = 0                      # transient failures retried, for the run's figures

    def close(self) -> None:
        self.http.close()
        if isinstance(self.http.auth, BearerToken):
            self.http.auth.close()

    # --- the one retry policy -------------------------------------------------------------------
    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retry) and exc.wait is not None:
            return exc.wait
        return wait_random_exponential(multiplier=0.5, max=self.backoff_max)(state)

    def _attempt(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One paced attempt; a transient failure raises ``_Retry`` (``unknown``: it may have gone through)."""
        self.limiter.wait()
        try:
            response = self.http.request(method, path, **kwargs)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            self.on_response(method, path, None, None, f"no response ({type(exc).__name__})")
            raise _Retry(f"no response ({type(exc).__name__})", unknown=True) from None
        request_id = response.headers.get("X-REQUEST-ID")
        self.on_response(method, path, response.status_code, request_id, response.reason_phrase)
        status = response.status_code
        if status == 429:
            raise _Retry("rate limited (429)", _retry_after(response, 1.0), status, request_id)
        if status == 409:        # the order exists, still in process: an earlier attempt went through
            raise _Retry("order still in process (409)", _retry_after(response, 2.0), status, request_id,
                         unknown=True)
        if status >= 500:
            raise _Retry(f"server error ({status})", None, status, request_id, unknown=True)
        return response

    def _send(self, method: str, path: str, **kwargs: Any) -> tuple[httpx.Response, int, bool]:
        """The first definite answer, the number of attempts, and whether an earlier one was unknown."""
        attempts, unknown = 0, False

        def attempt() -> httpx.Response:
            nonlocal attempts, unknown
            attempts += 1
            try:
                return self._attempt(method, path, **kwargs)
            except _Retry as exc:
                unknown = unknown or exc.unknown
                raise
            except TangoError as exc:
                # raised on the way (a token that could not be renewed): an earlier attempt may still
                # have gone through, and the caller must know it before believing the refusal
                exc.after_unknown = exc.after_unknown or (unknown and attempts > 1)
                raise

        def count_retry(state: RetryCallState) -> None:
            self.retries += 1
            exc = state.outcome.exception() if state.outcome else None
            log.warning("retrying %s %s after %s", method, path, getattr(exc, "reason", exc),
                        extra={"event": "retry", "method": method, "path": path, "attempt": state.attempt_number})

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

    def _get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """A GET's body; None for a 404."""
        response, attempts, _ = self._send("GET", path, params=params)
        if response.status_code == 404:
            return None
        self._raise_for(response, attempts)
        return _body(response)

    # --- endpoints ------------------------------------------------------------------------------
    def create_order(self, payload: dict[str, Any]) -> PostResult:
        response, attempts, after_unknown = self._send("POST", "/asyncOrders", json=payload)
        self._raise_for(response, attempts, after_unknown)
        return PostResult.parse(response.status_code, _body(response),
                                response.headers.get("X-REQUEST-ID"), attempts)

    def get_order(self, customer: str, account: str, ref: str,
                  max_results: int = paging.DETAIL_MAX_RESULTS) -> dict[str, Any] | None:
        """The order's detail with every line item (all pages), or None when Tango has no such order."""
        path = f"/asyncOrders/customers/{customer}/accounts/{account}/{ref}"
        size = paging.bounded(max_results, paging.DETAIL_MAX_RESULTS)
        detail: dict[str, Any] | None = None
        for page in paging.pages(lambda cursor: self._get(path, paging.query(size, cursor)),
                                 paging.detail_cursor, f"order {ref}", paging.detail_pages(size)):
            if page is None:
                return None
            if detail is None:
                detail = page
            else:
                detail["lineItems"] = detail.get("lineItems", []) + page.get("lineItems", [])
        return detail

    def list_orders(self, customer: str, account: str, max_results: int = paging.LIST_MAX_RESULTS,
                    filters: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Every order of the account Tango has processed (GET /asyncOrders), page after page;
        ``filters``: more of the reference's criteria, such as ``startDate`` (RFC 3339)."""
        size = paging.bounded(max_results, paging.LIST_MAX_RESULTS)
        criteria = {"customerIdentifier": customer, "accountIdentifier": account, **(filters or {})}
        for page in paging.pages(lambda cursor: self._get("/asyncOrders", {**criteria, **paging.query(size, cursor)}),
                                 paging.list_cursor, f"the order list of account {account}"):
            yield from (page or {}).get("orders") or []

    def get_account(self, account: str) -> dict[str, Any]:
        response, attempts, _ = self._send("GET", f"/accounts/{account}")
        self._raise_for(response, attempts)
        return _body(response)

    def get_catalog(self) -> dict[str, Any]:
        response, attempts, _ = self._send("GET", "/catalogs")
        self._raise_for(response, attempts)
        return _body(response)
