"""Tango's answers in the pipeline's words: the POST /asyncOrders result, and Tango's own status
words for orders and line items mapped to the pipeline's ``Status``.

Tango's status words (orders, line items, deliveries) live here and nowhere else; a word not
listed is logged and taken as "not final yet", so a status Tango adds later can delay a report but
never end a row wrongly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pipeline.model import Status

__all__ = ["PostResult", "delivery_final", "line_errors", "line_state", "order_final"]

log = logging.getLogger("tango_batch.submit")

LINE_DONE = {"COMPLETE": Status.COMPLETE, "FULFILLED": Status.COMPLETE, "DELIVERED": Status.COMPLETE,
             "SUCCESSFUL": Status.COMPLETE, "FAILED": Status.FAILED, "CANCELLED": Status.FAILED,
             "CANCELED": Status.FAILED, "DELETED": Status.FAILED, "RETURNED": Status.FAILED}
LINE_WAITING = {"PENDING", "QUEUED", "PROCESSING", "IN_PROGRESS", "RETRYING", "PENDING_MR", "ON_HOLD",
                "SUBMITTED", "OPEN"}
ORDER_FINAL = {"COMPLETE", "FAILED", "PARTIAL", "CANCELLED", "CANCELED", "SUCCESSFUL", "PARTIALFAILED"}
ORDER_WAITING = {"PENDING", "QUEUED", "PENDING_MR", "ON_HOLD", "PROCESSING", "RETRYING", "IN_PROGRESS"}
# Tango's delivery events for a line item (its order-category events page)
DELIVERY_FINAL = {"COMPLETED", "CANCELED", "CANCELLED", "FAILED"}
DELIVERY_WAITING = {"IN_PROGRESS", "SHIPPED", "PENDING"}


def line_state(word: str | None) -> Status | None:
    """COMPLETE / FAILED for a final line-item status word, None while it is not final."""
    upper = (word or "").upper()
    if upper in LINE_DONE:
        return LINE_DONE[upper]
    if upper not in LINE_WAITING:
        log.warning("unknown line-item status %r: treated as not yet final", word)
    return None


def order_final(word: str | None) -> bool:
    upper = (word or "").upper()
    if upper in ORDER_FINAL:
        return True
    if upper not in ORDER_WAITING:
        log.warning("unknown order status %r: treated as not yet final", word)
    return False


def delivery_final(word: str | None) -> bool:
    """Whether a delivery event is the last one (COMPLETED, CANCELED, FAILED); no word is not final."""
    upper = (word or "").upper()
    if upper in DELIVERY_FINAL:
        return True
    if upper and upper not in DELIVERY_WAITING:
        log.warning("unknown delivery status %r: treated as not yet final", word)
    return False


def line_errors(errors: Iterable[dict[str, Any]]) -> str:
    """A line item's errors as one sentence."""
    return "; ".join(str(e.get("message") or e.get("errorMessage") or e.get("errorCodeName")
                         or e.get("errorCode") or "no reason given") for e in errors)


@dataclass(frozen=True)
class PostResult:
    """A 2xx answer to POST /asyncOrders, in either of the shapes Tango documents."""
    status: int
    request_id: str | None
    external_ref_id: str | None
    order_status: str | None
    failed: list[dict[str, Any]] = field(default_factory=list)     # failedLineItems
    duplicates: dict[str, int] = field(default_factory=dict)        # duplicateLineItemRefIds
    attempts: int = 1

    @classmethod
    def parse(cls, status: int, body: dict[str, Any], request_id: str | None, attempts: int) -> PostResult:
        nested = body.get("order")
        order: dict[str, Any] = nested if isinstance(nested, dict) else body
        return cls(status=status, request_id=request_id,
                   external_ref_id=order.get("externalRefID") or body.get("externalRefID"),
                   order_status=order.get("status") or order.get("orderStatus"),
                   failed=list(body.get("failedLineItems") or order.get("failedLineItems") or []),
                   duplicates=dict(body.get("duplicateLineItemRefIds")
                                   or order.get("duplicateLineItemRefIds") or {}),
                   attempts=attempts)
