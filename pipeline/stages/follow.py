"""Follow accepted orders: each line's status from the order's detail until the order is final,
then, for physical rewards, Tango's delivery events until they are final too (or long enough).

``settle`` turns one answer of Tango's into the ledger's updates; ``Follower`` asks and records.
A member missing from the detail was not created, but that is concluded only once the order is
final: while it is pending, Tango may not list every line yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from pipeline.errors import TangoError
from pipeline.ledger import BatchRecord, Ledger, LineUpdate
from pipeline.model import BatchState, Status
from pipeline.tango import TangoClient, delivery_final, line_errors, line_state, order_final

__all__ = ["NAMED_DUPLICATE", "Follower", "Settled", "settle"]

# the ledger's note on a line Tango named in duplicateLineItemRefIds, until the order's detail says more
NAMED_DUPLICATE = ("Tango named this line in its answer's duplicateLineItemRefIds; what became of it is read from "
                   "the order's detail")


@dataclass(frozen=True)
class Settled:
    lines: list[LineUpdate]
    final: bool                 # every line's status is final
    delivery_open: bool         # a physical reward Tango completed is not delivered yet


def _line_update(member: str, line: dict[str, Any]) -> LineUpdate:
    """A line item of an order's detail: SUBMITTED while Tango works on it, then COMPLETE or FAILED."""
    reference, delivery = line.get("referenceLineItemId"), line.get("deliveryStatus")
    state = line_state(line.get("lineItemStatus") or line.get("status"))
    if state is None:
        return LineUpdate(member, Status.SUBMITTED, reference, delivery=delivery)
    if state == Status.FAILED:
        return LineUpdate(member, Status.FAILED, reference, "Tango could not deliver this reward: "
                          + (line_errors(line.get("lineItemErrors") or []) or "no reason given"), delivery)
    return LineUpdate(member, Status.COMPLETE, reference, delivery=delivery)


def _missing(member: str, ref: str, named: Collection[str]) -> LineUpdate:
    """A member a final order does not hold. Tango did not create it; if Tango had named it as a
    duplicate, it may hold it from elsewhere: then it is not sent again without a person's say."""
    if member in named:
        return LineUpdate(member, Status.DUPLICATE, None, f"Tango reported this line as a duplicate and did not "
                          f"create it in order {ref}: not sent again. If the recipient has no such reward, give "
                          "the row its own Reference and upload it again.")
    return LineUpdate(member, Status.REJECTED, None, "Tango did not create this line when the order was placed "
                      "(no reason reached this pipeline)")


def settle(members: Iterable[str], detail: dict[str, Any], expected: Collection[str],
           physical: Collection[str], named: Collection[str] = ()) -> Settled:
    """The ledger's updates from an order's detail. ``expected``: members the order should hold
    (sent in it, not refused when it was placed); ``physical``: the delivery methods mailed;
    ``named``: members Tango named in ``duplicateLineItemRefIds``."""
    by_ref = {li.get("externalRefLineItemID"): li for li in detail.get("lineItems") or []}
    order_done = order_final(detail.get("orderStatus"))
    lines: list[LineUpdate] = []
    all_final, open_delivery = True, False
    for m in members:
        li = by_ref.get(m)
        if li is None:
            if m in expected and order_done:
                lines.append(_missing(m, str(detail.get("externalRefID") or ""), named))
            elif m in expected:
                all_final = False
            continue
        update = _line_update(m, li)
        all_final = all_final and update.status != Status.SUBMITTED
        if update.status == Status.COMPLETE and li.get("deliveryMethod") in physical:
            open_delivery = open_delivery or not delivery_final(update.delivery)
        lines.append(update)
    return Settled(lines, all_final and (order_done or bool(lines)), open_delivery)


class Follower:
    """Reads accepted orders back from Tango and records what it says."""

    def __init__(self, client: TangoClient, ledger: Ledger, run_id: int, *, physical: Collection[str],
                 say: Callable[[str], None] = lambda s: None) -> None:
        self.client, self.ledger, self.run_id = client, ledger, run_id
        self.physical, self.say = physical, say
        # the client's notion of time, which tests replace: a deadline kept on another clock than the
        # one the waits are made on would poll on and on while the other clock stands still
        self.sleep, self.clock = client.sleep, client.clock

    def adopt(self, ref: str, members: list[str], detail: dict[str, Any], statuses: tuple[Status, ...]) -> Settled:
        """Record an order's detail: its lines, whether it is final, whether deliveries are open.
        ``statuses``: those of the members the order should hold, by the ledger's record."""
        records = self.ledger.lines(members)
        expected = {m for m, r in records.items() if r.batch_ref == ref and r.status in statuses}
        named = {m for m, r in records.items() if r.message == NAMED_DUPLICATE}
        settled = settle(members, {"externalRefID": ref, **detail}, expected, self.physical, named)
        self.ledger.end_batch(ref, BatchState.ACCEPTED, http=200, request_id=None, attempts=0, message=None,
                              lines=settled.lines, run_id=self.run_id, order_status=detail.get("orderStatus"),
                              final=settled.final, delivery_open=settled.delivery_open)
        return settled

    def _read(self, batch: BatchRecord) -> dict[str, Any] | None:
        try:
            return self.client.get_order(batch.customer, batch.account, batch.external_ref_id)
        except TangoError as exc:
            self.say(f"could not follow order {batch.external_ref_id}: {exc}")
            return None

    def follow(self, wait: float) -> int:
        """Poll unfinished orders until final or ``wait`` seconds; returns how many are left."""
        deadline = self.clock() + wait
        delay, first = 1.0, True
        while True:
            left = 0
            for batch in self.ledger.batches(unfinished=True):
                # the first pass reads every order (``status``'s one pass, --wait 0); a later pass over
                # many orders of many pages ends in time too
                if not first and self.clock() > deadline:
                    left += 1
                    continue
                detail = self._read(batch)
                settled = None if detail is None else self.adopt(
                    batch.external_ref_id, list(batch.members), detail, (Status.SUBMITTED, Status.SENDING))
                left += 0 if settled is not None and settled.final else 1
            remaining, first = deadline - self.clock(), False
            if left == 0 or remaining <= 0:
                return left
            self.sleep(min(delay, remaining))
            delay = min(delay * 2, 30.0)

    def follow_deliveries(self, days: float, now: dt.datetime | None = None) -> set[str]:
        """One pass over the orders whose physical rewards are not delivered yet; an order older
        than ``days`` is no longer followed. Returns the orders whose lines' delivery changed."""
        now = now or dt.datetime.now(dt.UTC)
        moved: set[str] = set()
        for batch in self.ledger.batches(deliveries=True):
            ref = batch.external_ref_id
            if now - dt.datetime.fromisoformat(batch.created_at) > dt.timedelta(days=days):
                self.ledger.close_deliveries(ref)
                self.say(f"order {ref}: deliveries followed for {days:g} days; no longer followed")
                continue
            before = {m: r.delivery_status for m, r in self.ledger.lines(batch.members).items()}
            detail = self._read(batch)
            if detail is None:
                continue
            settled = self.adopt(ref, list(batch.members), detail, (Status.SUBMITTED, Status.SENDING))
            if any(u.delivery is not None and u.delivery != before.get(u.line_item_id) for u in settled.lines):
                moved.add(ref)
        return moved
