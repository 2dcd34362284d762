"""Batches: the line items of a run cut into ``POST /asyncOrders`` requests, each with its externalRefID
(see the package's docstring for how it is made)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pipeline.config import Campaign
from pipeline.stages.plan.items import LineItem

__all__ = ["OWN_ORDER", "Batch", "BatchPlan", "batch_ref", "member_key", "order_fields", "plan_batches"]

BATCH_PREFIX = "B"
# what an order this tool placed looks like at Tango: its externalRefID
OWN_ORDER = re.compile(r"^B[0-9a-f]{40}$")


@dataclass(frozen=True)
class Batch:
    """One POST /asyncOrders request."""
    ref: str                      # externalRefID
    member_key: str               # hash of the order fields and the member IDs, generation aside
    generation: int
    order: dict[str, Any]         # order-level fields
    members: tuple[LineItem, ...] = field(default=())

    @property
    def payload(self) -> dict[str, Any]:
        return {"externalRefID": self.ref, **self.order,
                "lineItems": [item.payload for item in self.members]}

    @property
    def value(self) -> Decimal:
        return sum((m.value for m in self.members), Decimal(0))



def _digest(parts: Iterable[str], length: int = 32) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:length]



def order_fields(campaign: Campaign) -> dict[str, Any]:
    """The order-level fields of every batch planned from this campaign file."""
    order: dict[str, Any] = {"customerIdentifier": campaign.customerIdentifier,
                             "accountIdentifier": campaign.accountIdentifier}
    if campaign.sender:
        order["sender"] = dict(campaign.sender)
    for key in ("campaign", "purchaseOrderNumber", "notes"):
        if getattr(campaign, key):
            order[key] = getattr(campaign, key)
    return order



def member_key(order: dict[str, Any], member_ids: Iterable[str]) -> str:
    return _digest([json.dumps(order, sort_keys=True), *member_ids], 40)


def batch_ref(key: str, generation: int) -> str:
    return BATCH_PREFIX + _digest([key, str(generation)], 40)


def plan_batches(items: Iterable[LineItem], order: dict[str, Any], size: int,
                 generation_of: Callable[[str], int] = lambda key: 0) -> list[Batch]:
    """Batches of at most ``size`` line items, in line-item-ID order, each with its externalRefID.

    ``generation_of(member_key)`` says how many earlier batches of exactly these members ended in
    a definite failure (the ledger knows); the ID changes with it.
    """
    ordered = sorted(items, key=lambda i: i.id)
    batches = []
    for start in range(0, len(ordered), size):
        members = tuple(ordered[start:start + size])
        key = member_key(order, (m.id for m in members))
        generation = generation_of(key)
        batches.append(Batch(batch_ref(key, generation), key, generation, order, members))
    return batches


@dataclass(frozen=True)
class BatchPlan:
    """How a run cuts its line items into orders: the one place batches are planned, for sending,
    for a dry run, and for the lines of a refused batch that go again. Batches never mix accounts:
    the lines of each account (in accountIdentifier order) are cut into orders of their own, whose
    ``accountIdentifier`` is that account's."""
    order: dict[str, Any]                               # the order-level fields (the campaign's default account)
    size: int                                           # line items per order, at most
    generation_of: Callable[[str], int] = lambda key: 0  # the ledger's count of definite failures

    def batches(self, items: Iterable[LineItem]) -> list[Batch]:
        default = str(self.order.get("accountIdentifier") or "")
        by_account: dict[str, list[LineItem]] = {}
        for item in items:
            by_account.setdefault(item.account or default, []).append(item)
        return [batch for account in sorted(by_account)
                for batch in plan_batches(by_account[account], self._order(account, default), self.size,
                                          self.generation_of)]

    def _order(self, account: str, default: str) -> dict[str, Any]:
        """The order-level fields of an account's batches: the default account's are ``order`` itself."""
        return self.order if account == default else {**self.order, "accountIdentifier": account}
