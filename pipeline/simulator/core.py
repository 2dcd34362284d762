"""A local stand-in for the Tango RaaS v2 endpoints the pipeline uses, with injectable faults.

``Simulator.handle`` takes one HTTP request (method, path, query, headers, body) and returns a
``Reply``; ``transport.py`` and ``server.py`` only adapt it to httpx and to a real socket. Nothing
here runs in the background: order processing is computed from the injected clock when an order is
read, so tests drive time with a fake clock and never wait.

Endpoints (the path may or may not start with ``/raas/v2``):

- ``POST /asyncOrders``: create an order (injected errors and drops, validation, externalRefID
  replay, a replay answered 409 "still in process" as a fault, catalog checks, balance).
- ``GET /asyncOrders/customers/{c}/accounts/{a}/{externalRefID}``: order and per-line status, paged
  by ``nextCursor``/``prevCursor`` with ``maxResults`` 1 to 500 as the reference defines them.
- ``GET /asyncOrders``: the account's processed orders, paged the same way (cursors at the top).
- ``GET /accounts/{accountIdentifier}``: balance and status. Any well-formed accountIdentifier is an
  account: provisioned on first reference (this GET or an order) with ``default_balance``, and its own
  balance from then on, so a campaign of several accounts (``[accounts]``) needs no setup;
  ``set_balance`` gives one account another balance (an order then names its customer, and an
  account stays that customer's).
- ``GET /catalogs``: the fixed catalog of ``catalog.py``.
- ``POST /oauth/token`` (no auth): a bearer token (``oauth.py``); the API takes HTTP Basic, a
  bearer token, or either (``auth``).
- ``GET /_simulator/state`` (no auth): everything stored, for tests that talk HTTP.

Every authenticated call counts against the rate limit (Tango documents 1 TPS for all endpoints).

State (orders, accounts, line-item counts) lives in memory and, when a state file is given, each
change is appended to it before the request that made it is answered (``journal.py``), so killing
the server loses nothing it has committed, and a change writes only itself, not the whole state.
"""

from __future__ import annotations

import base64
import binascii
import collections
import copy
import datetime as dt
import hashlib
import hmac
import http
import json
import math
import random
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict

from pipeline.simulator import catalog
from pipeline.simulator.journal import STATE_VERSION, StateFile
from pipeline.simulator.oauth import OAuthClient, TokenIssuer
from pipeline.simulator.validation import BULK_SHIPPING_FORMS, validate_order

__all__ = ["AUTH_MODES", "BASE_PATH", "DEFAULT_PLATFORM_KEY", "DEFAULT_PLATFORM_NAME", "Faults", "Reply",
           "Simulator"]

BASE_PATH = "/raas/v2"
DEFAULT_PLATFORM_NAME = "simulator"
DEFAULT_PLATFORM_KEY = "simulator-key"

IDENTIFIER = re.compile(r"^[-a-zA-Z0-9]{5,100}$")
DEFAULT_MAX_RESULTS, MAX_MAX_RESULTS = 100, 500
AUTH_MODES = ("basic", "bearer", "either")
PHYSICAL = ("ADDRESS", "BULKSHIPMENT")


@dataclass
class Faults:
    """Misbehaviour to inject (all off by default)."""

    tps: float | None = None     # max calls per second, every endpoint (sliding 1 s window); above -> 429
    error_rate: float = 0.0      # share of POSTs answered 500 or 503 BEFORE anything is committed
    drop_rate: float = 0.0       # share of POSTs committed, then the connection dropped (no response)
    conflict_rate: float = 0.0   # share of replayed POSTs answered 409.002 "still in process" instead
    latency: float = 0.0         # seconds added before every response (uses the injected sleep)
    seed: int | None = None      # for the random draws

    def __post_init__(self) -> None:
        if self.tps is not None and self.tps <= 0:
            raise ValueError("tps must be positive (or None for no limit)")
        for name in ("error_rate", "drop_rate", "conflict_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.latency < 0:
            raise ValueError("latency must not be negative")


@dataclass
class Reply:
    """One HTTP answer. ``drop=True``: the order was committed but the client must get no response."""

    status: int
    body: bytes
    headers: dict[str, str]
    drop: bool = False


class _TangoError(Exception):
    """An error answer, raised anywhere below ``handle`` and turned into Tango's error body there."""

    def __init__(self, status: int, i18n_key: str, message: str,
                 errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.i18n_key, self.message = status, i18n_key, message
        self.errors = errors or []
        self.headers = headers or {}


class _Account(TypedDict):
    """One account as stored; ``customerIdentifier`` is None until an order names its customer."""

    customerIdentifier: str | None
    currencyCode: str
    currentBalance: float
    status: str
    displayName: str


class _OrderLine(TypedDict):
    """A line item created by an order, as stored; its status is computed on read."""

    referenceLineItemId: str
    externalRefLineItemID: str
    utid: str
    amount: float
    quantity: int
    deliveryMethod: str
    recipient: NotRequired[dict[str, Any]]   # as the request sent it, for the views


# Optional request fields an order record keeps when the request sets them.
_OrderExtra = Literal["campaign", "purchaseOrderNumber", "notes"]
_ORDER_EXTRAS: tuple[_OrderExtra, ...] = ("campaign", "purchaseOrderNumber", "notes")


class _Order(TypedDict):
    """One order as stored (and persisted); ``createdTs`` is the clock reading at creation."""

    externalRefID: str
    customerIdentifier: str
    accountIdentifier: str
    createdAt: str
    createdTs: float
    amountCharged: float
    lineItems: list[_OrderLine]
    failedLineItems: list[dict[str, Any]]
    duplicateLineItemRefIds: dict[str, int]
    campaign: NotRequired[str]
    purchaseOrderNumber: NotRequired[str]
    notes: NotRequired[str]


@dataclass
class _Lines:
    """The lines of one request, sorted by ``Simulator._sort_lines``."""

    created: list[_OrderLine] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)   # failedLineItems entries
    errors: list[dict[str, Any]] = field(default_factory=list)   # the same, as 422 error entries
    duplicates: dict[str, int] = field(default_factory=dict)


def _catalog_error(index: int, line: dict[str, Any], problem: dict[str, Any]) -> dict[str, Any]:
    path = f"lineItems[{index}].{problem['field']}"
    return _field_error(path, catalog.i18n_key(problem), f"{path}: {problem['message']}",
                        line[problem["field"]])


def _iso(timestamp: float) -> str:
    """``2025-10-23T21:52:43.041Z``, the timestamp format of Tango's examples."""
    moment = dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _strip_base(path: str) -> str:
    if path == BASE_PATH or path.startswith(BASE_PATH + "/"):
        path = path[len(BASE_PATH):]
    return path or "/"


def _reference_id(external_ref: str, index: int) -> str:
    """A stable ``RL`` + 12 characters id for line ``index`` of an order (same on every read)."""
    digest = hashlib.sha1(f"{external_ref}\x00{index}".encode()).hexdigest()
    return "RL" + digest[:12].upper()


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        label, _, number = text.partition(":")
        if label == "offset" and number.isdigit():
            return int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise _TangoError(422, "422.105", "the cursor is not one this server returned",
                      [_field_error("nextCursor", "422.105", "nextCursor: not a cursor this server returned",
                                    cursor)])


def _field_error(path: str, key: str, message: str, value: Any = None,
                 constraint: str | None = None) -> dict[str, Any]:
    return {"path": path, "i18nKey": key, "message": message, "invalidValue": value,
            "constraint": constraint}


class Simulator:
    """Tango RaaS v2, as far as the pipeline needs it. Thread-safe: one lock guards all state."""

    def __init__(self, state_path: Path | None = None, *,
                 platform_name: str = DEFAULT_PLATFORM_NAME,
                 platform_key: str = DEFAULT_PLATFORM_KEY, faults: Faults | None = None,
                 processing_delay: float = 2.0, delivery_delay: float = 4.0,
                 default_balance: float = 100_000.0, nested_response: bool = False,
                 auth: str = "either", oauth_client: OAuthClient | None = None,
                 bulk_shipping: str = "seed", page_limit: int | None = None,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if auth not in AUTH_MODES or bulk_shipping not in BULK_SHIPPING_FORMS:
            raise ValueError(f"auth must be one of {AUTH_MODES}, bulk_shipping one of {BULK_SHIPPING_FORMS}")
        if page_limit is not None and page_limit < 1:
            raise ValueError("page_limit must be 1 or more")
        self._auth_mode, self._bulk_shipping, self._page_limit = auth, bulk_shipping, page_limit
        self._tokens = TokenIssuer(oauth_client or OAuthClient(), clock)
        self._delivery_delay = delivery_delay
        self._file = StateFile(Path(state_path)) if state_path is not None else None
        self._credentials = f"{platform_name}:{platform_key}"
        self._faults = faults or Faults()
        self._rng = random.Random(self._faults.seed)
        self._processing_delay = processing_delay
        self._default_balance = default_balance
        self._nested = nested_response
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._recent_calls: collections.deque[float] = collections.deque()
        self._post_attempts = 0  # per process, not persisted: it counts requests, not state
        self._orders: dict[str, _Order] = {}
        self._accounts: dict[str, _Account] = {}
        self._line_item_counts: dict[str, int] = {}
        self._load()

    # ------------------------------------------------------------ the one entry point

    def handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
               body: bytes) -> Reply:
        """Answer one request; ``path`` is the URL path with or without the ``/raas/v2`` prefix."""
        request_id = str(uuid.uuid4())
        route = _strip_base(path)
        lowered = {name.lower(): value for name, value in headers.items()}
        if self._faults.latency > 0:
            # Outside the lock: a slow answer must not hold up the other server threads.
            self._sleep(self._faults.latency)
        try:
            with self._lock:
                return self._dispatch(method.upper(), route, query, lowered, body, request_id)
        except _TangoError as error:
            return self._error_reply(error, route, request_id)

    def _dispatch(self, method: str, route: str, query: dict[str, str], headers: dict[str, str],
                  body: bytes, request_id: str) -> Reply:
        parts = [part for part in route.split("/") if part]
        if method == "GET" and parts == ["_simulator", "state"]:
            return self._reply(request_id, 200, self._state_view())
        if method == "POST" and parts == ["oauth", "token"]:
            return self._token(body, request_id)
        is_order_post = method == "POST" and parts == ["asyncOrders"]
        if is_order_post:
            self._post_attempts += 1
        self._authenticate(headers)
        self._check_rate()
        if is_order_post:
            return self._create_order(body, request_id)
        if method == "GET":
            return self._reply(request_id, 200, self._read(route, parts, query))
        raise _TangoError(404, "404.001", f"No resource at {method} {BASE_PATH}{route}")

    def _read(self, route: str, parts: list[str], query: dict[str, str]) -> Any:
        if len(parts) == 6 and parts[:2] == ["asyncOrders", "customers"] and parts[3] == "accounts":
            return self._order_detail(parts[2], parts[4], parts[5], query)
        if parts == ["asyncOrders"]:
            return self._order_list(query)
        if len(parts) == 2 and parts[0] == "accounts":
            return self._account_view(parts[1])
        if parts == ["catalogs"]:
            return catalog.catalog_body()
        raise _TangoError(404, "404.001", f"No resource at GET {BASE_PATH}{route}")

    def _token(self, body: bytes, request_id: str) -> Reply:
        status, answer = self._tokens.issue(body)
        if answer is None:
            return Reply(status, b"", {"Content-Type": "text/plain", "X-REQUEST-ID": request_id})
        return self._reply(request_id, status, answer)

    # ------------------------------------------------------------ replies

    def _reply(self, request_id: str, status: int, payload: Any,
               headers: dict[str, str] | None = None, drop: bool = False) -> Reply:
        # Serialised inside the lock: payloads may share objects with the live state.
        all_headers = {"Content-Type": "application/json", "X-REQUEST-ID": request_id,
                       **(headers or {})}
        return Reply(status, json.dumps(payload).encode(), all_headers, drop)

    def _error_reply(self, error: _TangoError, route: str, request_id: str) -> Reply:
        body = {"timestamp": _iso(self._clock()), "requestId": request_id,
                "path": BASE_PATH + route, "httpCode": error.status,
                "httpPhrase": http.HTTPStatus(error.status).phrase, "i18nKey": error.i18n_key,
                "message": error.message, "errors": error.errors}
        return self._reply(request_id, error.status, body, error.headers)

    def _authenticate(self, headers: dict[str, str]) -> None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer" and self._auth_mode in ("bearer", "either") and self._tokens.valid(token.strip()):
            return
        if scheme == "basic" and self._auth_mode in ("basic", "either"):
            try:
                given = base64.b64decode(token.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                given = ""
            # compare_digest: the check takes the same time whatever the guess.
            if hmac.compare_digest(given.encode(), self._credentials.encode()):
                return
        wanted = {"basic": "HTTP Basic with platform name and key", "bearer": "a bearer token from POST /oauth/token",
                  "either": "HTTP Basic with platform name and key, or a bearer token"}[self._auth_mode]
        challenge = 'Bearer realm="raas"' if self._auth_mode == "bearer" else 'Basic realm="raas"'
        raise _TangoError(401, "401.001", "Authentication is required and has failed or has not been "
                          f"provided ({wanted}).", headers={"WWW-Authenticate": challenge})

    # ------------------------------------------------------------ POST /asyncOrders

    def _create_order(self, body: bytes, request_id: str) -> Reply:
        self._maybe_fail()
        order = self._parse_json(body)
        errors = validate_order(order, self._today(), self._bulk_shipping)
        if errors:
            raise _TangoError(422, _summary_key(errors),
                              f"The request has {len(errors)} validation error(s): "
                              f"{errors[0]['message']}", errors)
        existing = self._orders.get(order["externalRefID"])
        if existing is not None and self._draw(self._faults.conflict_rate):
            # Tango's best-practices page: the same externalRefID while the first is still in process
            raise _TangoError(409, "409.002", "An order with this externalRefID is still in process; "
                              "retry later with the same externalRefID.", headers={"Retry-After": "2"})
        if existing is not None:
            # Seed 004: a replayed externalRefID returns the existing order's status, creates nothing.
            return self._reply(request_id, 200, self._creation_body(existing))
        account = self._account_for(order["customerIdentifier"], order["accountIdentifier"])
        lines = self._sort_lines(order)
        if not lines.created:
            raise _TangoError(422, _summary_key(lines.errors), "No line item can be ordered: "
                              "every line failed the catalog checks.", lines.errors)
        cost = round(sum(line["amount"] * line["quantity"] for line in lines.created), 2)
        if cost > account["currentBalance"] + 1e-9:
            raise _TangoError(402, "402.001", f"Insufficient funds: the order needs {cost:.2f} USD, "
                              f"account {order['accountIdentifier']} has "
                              f"{account['currentBalance']:.2f} USD.")
        record = self._commit(order, account, lines, cost)
        # The drop comes after the commit on purpose: the client cannot know the order exists.
        drop = self._draw(self._faults.drop_rate)
        return self._reply(request_id, 201, self._creation_body(record), drop=drop)

    def _check_rate(self) -> None:
        """Sliding-window limit over every call; only admitted ones count, so a 429 does not extend the ban."""
        tps = self._faults.tps
        if tps is None:
            return
        # Below 1 TPS the window widens instead: tps=0.5 means one request per 2 s.
        window, limit = (1.0, max(1, int(tps))) if tps >= 1 else (1.0 / tps, 1)
        now = self._clock()
        while self._recent_calls and self._recent_calls[0] <= now - window:
            self._recent_calls.popleft()
        if len(self._recent_calls) >= limit:
            wait = max(1, math.ceil(self._recent_calls[0] + window - now))
            raise _TangoError(429, "429.001", f"Exceeded the allowed rate of {tps:g} requests per "
                              "second; retry later with the same externalRefID.",
                              headers={"Retry-After": str(wait)})
        self._recent_calls.append(now)

    def _draw(self, rate: float) -> bool:
        # No draw at rate 0, so a seeded run's sequence depends only on the faults switched on.
        return rate > 0 and self._rng.random() < rate

    def _maybe_fail(self) -> None:
        if not self._draw(self._faults.error_rate):
            return
        if self._rng.random() < 0.5:
            raise _TangoError(500, "500.001", "An internal error occurred (simulated); the order "
                              "was not created.")
        raise _TangoError(503, "503.502", "The service is temporarily unavailable (simulated); "
                          "the order was not created.")

    @staticmethod
    def _parse_json(body: bytes) -> dict[str, Any]:
        try:
            value = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _TangoError(400, "400.001", f"The request body is not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise _TangoError(400, "400.001", "The request body must be a JSON object.")
        return value

    def _today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self._clock(), tz=dt.UTC).date()

    def _sort_lines(self, order: dict[str, Any]) -> _Lines:
        """Split the request's lines into those to create and those failing the catalog checks.

        A repeated externalRefLineItemID keeps its first line only; ``duplicates`` counts how many
        times the id appeared in the request.
        """
        ref = order["externalRefID"]
        lines = _Lines()
        seen: dict[str, int] = {}
        for index, line in enumerate(order["lineItems"]):
            line_ref = line["externalRefLineItemID"]
            seen[line_ref] = seen.get(line_ref, 0) + 1
            if seen[line_ref] > 1:
                continue
            problems = catalog.item_errors(line["utid"], line["amount"])
            if problems:
                lines.failed.append({"lineItemId": _reference_id(ref, index),
                                     "externalRefLineItemID": line_ref, "utid": line["utid"],
                                     "errors": problems})
                lines.errors += [_catalog_error(index, line, problem) for problem in problems]
                continue
            created: _OrderLine = {"referenceLineItemId": _reference_id(ref, index),
                                   "externalRefLineItemID": line_ref, "utid": line["utid"],
                                   "amount": line["amount"], "quantity": int(line.get("quantity") or 1),
                                   "deliveryMethod": line["deliveryMethod"]}
            if isinstance(line.get("recipient"), dict):
                created["recipient"] = line["recipient"]    # the request was parsed for this call alone
            lines.created.append(created)
        lines.duplicates = {line_ref: count for line_ref, count in seen.items() if count > 1}
        return lines

    def _commit(self, order: dict[str, Any], account: _Account, lines: _Lines,
                cost: float) -> _Order:
        now = self._clock()
        record: _Order = {"externalRefID": order["externalRefID"],
                          "customerIdentifier": order["customerIdentifier"],
                          "accountIdentifier": order["accountIdentifier"],
                          "createdAt": _iso(now), "createdTs": now, "amountCharged": cost,
                          "lineItems": lines.created, "failedLineItems": lines.failed,
                          "duplicateLineItemRefIds": lines.duplicates}
        for name in _ORDER_EXTRAS:
            if order.get(name):
                record[name] = order[name]
        self._change({"kind": "order", "order": record, "account": order["accountIdentifier"],
                      "balance": round(account["currentBalance"] - cost, 2)})
        return record

    def _creation_body(self, record: _Order) -> dict[str, Any]:
        ref, status = record["externalRefID"], self._order_status(record)
        total = len(record["lineItems"])
        extras = {"failedLineItems": record["failedLineItems"],
                  "duplicateLineItemRefIds": record["duplicateLineItemRefIds"]}
        if self._nested:
            # The seed's "successful response example": nested, lower-case, count as a string.
            return {"externalRefID": ref,
                    "order": {"externalRefID": ref, "status": status.lower(),
                              "totalLineItems": str(total), "created_at": record["createdAt"]},
                    **extras}
        return {"externalRefID": ref, "status": status, "totalLineItems": total,
                "createdAt": record["createdAt"], **extras}

    # ------------------------------------------------------------ processing, computed on read

    def _processed(self, record: _Order) -> bool:
        return self._clock() >= record["createdTs"] + self._processing_delay

    def _line_status(self, record: _Order, line: _OrderLine) -> str:
        if not self._processed(record):
            return "PENDING"
        return "FAILED" if line["utid"].upper() == catalog.FAILING_UTID else "COMPLETE"

    def _order_status(self, record: _Order) -> str:
        statuses = {self._line_status(record, line) for line in record["lineItems"]}
        if "PENDING" in statuses:
            return "PENDING"
        if statuses == {"FAILED"}:
            return "FAILED"
        return "PARTIAL" if "FAILED" in statuses else "COMPLETE"

    def _delivery(self, record: _Order, line: _OrderLine, status: str) -> str:
        """Tango's delivery events: IN_PROGRESS while processing; a physical reward is SHIPPED, then
        COMPLETED ``delivery_delay`` seconds later; a digital one is COMPLETED when processed."""
        if status == "FAILED":
            return "FAILED"
        if status != "COMPLETE":
            return "IN_PROGRESS"
        if line["deliveryMethod"] not in PHYSICAL:
            return "COMPLETED"
        shipped_for = self._clock() - record["createdTs"] - self._processing_delay
        return "COMPLETED" if shipped_for >= self._delivery_delay else "SHIPPED"

    def _line_view(self, record: _Order, line: _OrderLine) -> dict[str, Any]:
        status = self._line_status(record, line)
        errors = []
        if status == "FAILED":
            errors.append({"errorCode": "PROCESSING_FAILED",
                           "errorMessage": f"The reward for utid {line['utid']} could not be "
                                           "issued (simulated processing failure)."})
        view = {"referenceLineItemId": line["referenceLineItemId"],
                "externalRefLineItemID": line["externalRefLineItemID"], "utid": line["utid"],
                "amount": line["amount"], "quantity": line["quantity"], "deliveryMethod": line["deliveryMethod"],
                "lineItemStatus": status, "deliveryStatus": self._delivery(record, line, status),
                "lineItemErrors": errors}
        if "recipient" in line:          # the reference's AsyncUserInfoDTO: the same fields as sent
            view["recipient"] = {k: v for k, v in line["recipient"].items()
                                 if k in ("firstName", "lastName", "email", "mobileNumber", "address")}
        return view

    def _page(self, items: list[Any], query: dict[str, str]) -> tuple[list[Any], dict[str, Any]]:
        """One page of ``items`` by the reference's cursors (an unknown parameter is ignored, as
        servers do); the page is cut further to ``page_limit`` when set."""
        size = _max_results(query.get("maxResults"))
        if self._page_limit is not None:
            size = min(size, self._page_limit)
        if query.get("nextCursor"):
            start = _decode_cursor(query["nextCursor"])
        elif query.get("prevCursor"):
            start = max(0, _decode_cursor(query["prevCursor"]) - size)
        else:
            start = 0
        end = min(start + size, len(items))
        return items[start:end], {
            "prevCursor": _encode_cursor(start) if start > 0 else "", "nextCursor": _encode_cursor(end)
            if end < len(items) else "", "prevPageAvailable": start > 0, "nextPageAvailable": end < len(items),
            "maxResults": size, "numberOfElements": end - start}

    # ------------------------------------------------------------ GET order detail, order list

    def _order_detail(self, customer: str, account: str, external_ref: str,
                      query: dict[str, str]) -> dict[str, Any]:
        record = self._orders.get(external_ref)
        if record is None or (record["customerIdentifier"], record["accountIdentifier"]) \
                != (customer, account):
            raise _TangoError(404, "404.002", f"No async order '{external_ref}' for customer "
                              f"'{customer}' and account '{account}'.")
        lines = [self._line_view(record, line) for line in record["lineItems"]]
        if query.get("failedOnly", "").lower() == "true":
            lines = [line for line in lines if line["lineItemStatus"] == "FAILED"]
        page, pagination = self._page(lines, query)
        status = self._order_status(record)
        detail = {"referenceOrderID": _reference_order_id(external_ref), "externalRefID": external_ref,
                  "customerIdentifier": customer, "accountIdentifier": account, "orderStatus": status,
                  "createdAt": record["createdAt"],
                  "totalLineItems": len(record["lineItems"]),
                  "amountCharged": {"currencyCode": "USD", "value": record["amountCharged"],
                                    "total": record["amountCharged"], "shippingFee": 0},
                  "orderErrors": [], "lineItems": page, "pagination": pagination}
        if record.get("campaign"):
            detail["campaign"] = record["campaign"]
        if status != "PENDING":
            detail["completedAt"] = _iso(record["createdTs"] + self._processing_delay)
        return detail

    def _order_view(self, record: _Order) -> dict[str, Any]:
        ref = record["externalRefID"]
        return {"createdAt": record["createdAt"], "referenceOrderID": _reference_order_id(ref), "externalRefID": ref,
                "customerIdentifier": record["customerIdentifier"],
                "accountIdentifier": record["accountIdentifier"],
                "accountNumber": _account_number(record["accountIdentifier"]),
                "campaign": record.get("campaign", ""), "orderStatus": self._order_status(record),
                "totalLineItemsRows": len(record["lineItems"]),
                "amountCharged": {"currencyCode": "USD", "value": record["amountCharged"],
                                  "total": record["amountCharged"], "shippingFee": 0}}

    def _order_list(self, query: dict[str, str]) -> dict[str, Any]:
        """GET /asyncOrders: only orders Tango has processed, and not failed ones (those are found by
        their externalRefID alone), oldest first; the cursors sit at the top of the answer."""
        wanted = {key: query[key] for key in ("customerIdentifier", "accountIdentifier", "externalRefID")
                  if query.get(key)}
        since = _moment(query.get("startDate"), "startDate")
        orders = [self._order_view(r) for r in self._orders.values()
                  if self._order_status(r) not in ("PENDING", "FAILED") and _matches(r, wanted)
                  and (since is None or r["createdTs"] >= since)]
        page, pagination = self._page(orders, query)
        del pagination["numberOfElements"]
        return {**pagination, "orders": page}

    # ------------------------------------------------------------ accounts

    def _provision(self, account_id: str, customer: str | None) -> _Account:
        account: _Account = {"customerIdentifier": customer, "currencyCode": "USD",
                             "currentBalance": round(float(self._default_balance), 2),
                             "status": "ACTIVE", "displayName": f"Simulator account {account_id}"}
        return self._set_account(account_id, account)

    def _set_account(self, account_id: str, account: _Account) -> _Account:
        """Store an account as given (persisted first); returns the stored record."""
        self._change({"kind": "account", "account": account_id, "value": account})
        return self._accounts[account_id]

    def _account_for(self, customer: str, account_id: str) -> _Account:
        """The account an order draws on, provisioned on first reference; it must be the customer's."""
        account = self._accounts.get(account_id)
        if account is None:
            account = self._provision(account_id, customer)
        elif account["customerIdentifier"] is None:
            # First seen through GET /accounts, which does not name the customer.
            account = self._set_account(account_id, {**account, "customerIdentifier": customer})
        elif account["customerIdentifier"] != customer:
            raise _TangoError(422, "422.150", f"Account '{account_id}' does not belong to customer "
                              f"'{customer}'.", [_field_error(
                                  "accountIdentifier", "422.150",
                                  "accountIdentifier: belongs to another customer", account_id)])
        if account["status"] != "ACTIVE":
            raise _TangoError(422, "422.156", f"Account '{account_id}' is {account['status']}, "
                              "not ACTIVE.")
        return account

    def _account_view(self, account_id: str) -> dict[str, Any]:
        account = self._accounts.get(account_id)
        if account is None:
            if not IDENTIFIER.match(account_id):
                raise _TangoError(404, "404.003", f"No account '{account_id}'.")
            # Provisioned on first reference, like a POST would, so a balance check before the
            # first order works against a fresh simulator.
            account = self._provision(account_id, None)
        # the reference's AccountView, and the customer once an order has named it
        view: dict[str, Any] = {
            "accountIdentifier": account_id, "accountNumber": _account_number(account_id),
            "displayName": account["displayName"], "createdAt": "2024-01-02T03:04:05.000Z",
            "status": account["status"], "currencyCode": account["currencyCode"],
            "currentBalance": account["currentBalance"]}
        if account["customerIdentifier"] is not None:
            view["customerIdentifier"] = account["customerIdentifier"]
        return view

    # ------------------------------------------------------------ persistence

    def _state(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, "orders": self._orders, "accounts": self._accounts,
                "lineItemCounts": self._line_item_counts}

    def _change(self, change: dict[str, Any]) -> None:
        """Make one change: appended to the state file first, then applied in memory, the same way
        loading the file applies it; the file is compacted when its changes outgrow it."""
        if self._file is not None:
            self._file.append(change, self._state)
        self._apply(change)
        if self._file is not None and self._file.due():
            self._file.compact(self._state())

    def _apply(self, change: dict[str, Any]) -> None:
        if change["kind"] == "account":
            self._accounts[change["account"]] = change["value"]
            return
        record: _Order = change["order"]
        self._orders[record["externalRefID"]] = record
        self._accounts[change["account"]]["currentBalance"] = change["balance"]
        counts = self._line_item_counts
        for line in record["lineItems"]:
            line_ref = line["externalRefLineItemID"]
            counts[line_ref] = counts.get(line_ref, 0) + 1

    def _load(self) -> None:
        loaded = self._file.load() if self._file is not None else None
        if loaded is None:
            return
        self._orders = loaded.snapshot["orders"]
        self._accounts = loaded.snapshot["accounts"]
        self._line_item_counts = loaded.snapshot["lineItemCounts"]
        for change in loaded.changes:
            self._apply(change)

    def checkpoint(self) -> None:
        """Write the state file anew as one snapshot, if changes follow its snapshot (a clean stop)."""
        with self._lock:
            if self._file is not None and self._file.pending():
                self._file.compact(self._state())

    def close(self) -> None:
        """Let go of the state file (a later change opens it again)."""
        with self._lock:
            if self._file is not None:
                self._file.close()

    def _state_view(self) -> dict[str, Any]:
        statuses = {line["externalRefLineItemID"]: self._line_status(record, line)
                    for record in self._orders.values() for line in record["lineItems"]}
        return {"orders": list(self._orders.values()), "lineItemCounts": self._line_item_counts,
                "lineItemStatuses": statuses,
                "postAttempts": self._post_attempts,
                "accounts": {key: {"accountIdentifier": key, **value}
                             for key, value in self._accounts.items()}}

    # ------------------------------------------------------------ test and inspection helpers

    def orders(self) -> list[_Order]:
        """Every order created, as stored (a copy), oldest first."""
        with self._lock:
            return copy.deepcopy(list(self._orders.values()))

    def line_item_counts(self) -> dict[str, int]:
        """externalRefLineItemID → times a line item with that id was created, across all orders."""
        with self._lock:
            return dict(self._line_item_counts)

    def post_attempts(self) -> int:
        """``POST /asyncOrders`` requests this process received, whatever their outcome."""
        with self._lock:
            return self._post_attempts

    def set_balance(self, customer: str, account: str, amount: float) -> None:
        """Set (provisioning if needed) an account's balance; ValueError for another's account."""
        with self._lock:
            try:
                record = self._account_for(customer, account)
            except _TangoError as error:
                raise ValueError(error.message) from None
            self._set_account(account, {**record, "currentBalance": round(float(amount), 2)})

    def balance(self, customer: str, account: str) -> float:
        """The account's balance; an account never referenced would start at the default balance."""
        with self._lock:
            record = self._accounts.get(account)
            if record is None:
                return round(float(self._default_balance), 2)
            if record["customerIdentifier"] not in (None, customer):
                raise ValueError(f"Account '{account}' does not belong to customer '{customer}'.")
            return record["currentBalance"]


def _summary_key(errors: list[dict[str, Any]]) -> str:
    """The top-level i18nKey: the errors' own key when they agree, else a generic one."""
    keys = {error["i18nKey"] for error in errors}
    return keys.pop() if len(keys) == 1 else "422.000"


def _max_results(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_MAX_RESULTS
    if raw.isdigit() and 1 <= int(raw) <= MAX_MAX_RESULTS:
        return int(raw)
    raise _TangoError(422, "422.105", f"maxResults must be a whole number from 1 to "
                      f"{MAX_MAX_RESULTS}", [_field_error("maxResults", "422.105",
                                                          "maxResults: out of range", raw,
                                                          f"1..{MAX_MAX_RESULTS}")])


def _moment(text: str | None, name: str) -> float | None:
    """An RFC 3339 date-time of the query, as a timestamp."""
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise _TangoError(400, "400.002", f"{name} must be an RFC 3339 date-time",
                          [_field_error(name, "400.002", f"{name}: not an RFC 3339 date-time", text)]) from None


def _matches(record: _Order, wanted: dict[str, str]) -> bool:
    have = {"customerIdentifier": record["customerIdentifier"], "accountIdentifier": record["accountIdentifier"],
            "externalRefID": record["externalRefID"]}
    return all(have[key] == value for key, value in wanted.items())


def _account_number(account_id: str) -> str:
    return "A" + hashlib.sha1(account_id.encode()).hexdigest()[:10].upper()


def _reference_order_id(external_ref: str) -> str:
    """A stable Tango-side order id for an externalRefID."""
    return "RA" + hashlib.sha1(external_ref.encode()).hexdigest()[:12].upper()
