"""Submit and follow: batches go to POST /asyncOrders through the ledger, orders are followed.

Every POST is preceded by a write-ahead record (``Ledger.begin_batch``) and followed by its
outcome (``Ledger.end_batch``). A batch whose outcome is unknown stays ``sending``; the next run
reconciles it first, by asking Tango for the order under the same externalRefID: found, its state
is adopted; not found (404), the same request is sent again with the same ID and members.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from pipeline.errors import AuthFailed, InsufficientFunds, Rejected, Stop, TangoError, Unavailable
from pipeline.ledger import Ledger, LineUpdate
from pipeline.model import BatchState, Status
from pipeline.stages.follow import NAMED_DUPLICATE, Follower
from pipeline.stages.plan import Batch, BatchPlan, LineItem
from pipeline.tango import PostResult, TangoClient, line_errors

__all__ = ["Figures", "Submitter"]

log = logging.getLogger("tango_batch.submit")
LINE_INDEX = re.compile(r"lineItems\[(\d+)\]")


@dataclass
class Figures:
    """What a run did at Tango, for the console."""
    posts: int = 0
    accepted: int = 0
    rejected_batches: int = 0
    reconciled: int = 0
    resent: int = 0
    retries: int = 0


class Submitter:
    """Sends batches through the ledger, settles those left unknown, and follows accepted orders."""

    def __init__(self, client: TangoClient, ledger: Ledger, run_id: int, *, physical: Collection[str],
                 say: Callable[..., None] = lambda s, **fields: None, hints: Iterable[tuple[str, str]] = ()) -> None:
        self.client, self.ledger, self.run_id = client, ledger, run_id
        self.say = say
        self.hints = list(hints)            # (a field a refusal names, what to tell HR about it)
        self.follower = Follower(client, ledger, run_id, physical=physical, say=say)
        self.figures = Figures()

    # --- reconcile ----------------------------------------------------------------------------
    def reconcile(self) -> None:
        """Settle every batch left ``sending`` by an earlier run, before anything new is sent."""
        for batch in self.ledger.batches(states=[BatchState.SENDING]):
            self.figures.reconciled += 1
            try:
                detail = self.client.get_order(batch.customer, batch.account, batch.external_ref_id)
            except Rejected as exc:
                raise Stop(f"Tango refused the check of order {batch.external_ref_id}: {exc}") from None
            except TangoError as exc:
                raise Stop(f"could not check order {batch.external_ref_id} left unfinished: {exc}") from None
            if detail is None:
                self.say(f"order {batch.external_ref_id} left unfinished is unknown to Tango: sending it again")
                self.figures.resent += 1
                self._post(batch.external_ref_id, batch.payload, list(batch.members), write_ahead=False)
            else:
                self.say(f"order {batch.external_ref_id} left unfinished was received by Tango: adopting it")
                self._adopt(batch.external_ref_id, list(batch.members), detail)

    def _adopt(self, ref: str, members: list[str], detail: dict[str, Any]) -> None:
        """An order Tango has, though this pipeline did not hear its answer: its lines as Tango says."""
        self.follower.adopt(ref, members, detail, (Status.SENDING,))

    # --- submit -------------------------------------------------------------------------------
    def submit(self, items: list[LineItem], plan: BatchPlan) -> None:
        """Send ``items`` in batches; stops (``Stop``) on credentials, funds or an unreachable API."""
        queue: list[Batch] = plan.batches(items)
        by_id = {i.id: i for i in items}
        done = 0
        while queue:
            batch = queue.pop(0)
            done += 1
            self.say(f"batch {done}/{done + len(queue)}: sending {len(batch.members)} line items "
                     f"(${batch.value:,.2f}) as order {batch.ref}", event="batch", batch=done,
                     batches=done + len(queue), order=batch.ref, lines=len(batch.members), amount=float(batch.value))
            retry = self._post(batch.ref, batch.payload, [m.id for m in batch.members],
                               member_key=batch.member_key, generation=batch.generation)
            if retry:   # lines not at fault in a refused batch go again, in a batch of their own
                queue[:0] = plan.batches([by_id[i] for i in retry])

    def _post(self, ref: str, payload: dict[str, Any], members: list[str], *, write_ahead: bool = True,
              member_key: str = "", generation: int = 0) -> list[str]:
        """One batch through write-ahead, POST and outcome. Returns members to send again."""
        if write_ahead:
            self.ledger.begin_batch(self.run_id, ref, member_key, generation, payload, members)
        self.figures.posts += 1
        before = self.client.retries
        try:
            result = self.client.create_order(payload)
        except Unavailable as exc:
            # outcome unknown: the batch stays "sending" and the next run reconciles it
            self.figures.retries += self.client.retries - before
            raise Stop(f"Tango is unavailable: {exc}; order {ref} will be checked on the next run") from None
        except (AuthFailed, InsufficientFunds, Rejected) as exc:
            self.figures.retries += self.client.retries - before
            if exc.after_unknown and self._found_after_all(ref, payload, members):
                return []
            if isinstance(exc, Rejected):
                return self._rejected(ref, members, exc)
            self._definite_failure(ref, members, exc)
            raise Stop(str(exc), can_follow=isinstance(exc, InsufficientFunds)) from None
        self.figures.retries += self.client.retries - before
        self._accepted(ref, members, result)
        return []

    def _found_after_all(self, ref: str, payload: dict[str, Any], members: list[str]) -> bool:
        """After an attempt with no answer, a refusal proves nothing: ask Tango for the order.

        Found: it went through, and is adopted. Not found: the refusal stands. No answer: the
        batch stays ``sending`` for the next run to settle.
        """
        try:
            detail = self.client.get_order(payload["customerIdentifier"], payload["accountIdentifier"], ref)
        except TangoError as exc:
            raise Stop(f"could not check order {ref} after an unclear answer: {exc}; the next run "
                       "checks it again") from None
        if detail is None:
            return False
        self.say(f"order {ref}: an earlier attempt went through; adopting it")
        self._adopt(ref, members, detail)
        self.figures.accepted += 1
        return True

    def _definite_failure(self, ref: str, members: list[str], exc: TangoError) -> None:
        """Nothing was created: the rows stay pending, and this batch's ID is not used again."""
        self.ledger.end_batch(ref, BatchState.FAILED, http=exc.status, request_id=exc.request_id,
                              attempts=exc.attempts, message=exc.message, run_id=self.run_id,
                              lines=[LineUpdate(m, Status.PENDING) for m in members], final=True)

    def _rejected(self, ref: str, members: list[str], exc: Rejected) -> list[str]:
        self.figures.rejected_batches += 1
        at_fault: dict[str, list[str]] = {}
        for err in exc.errors:
            match = LINE_INDEX.search(str(err.get("path") or ""))
            if match and int(match.group(1)) < len(members):
                text = f"{err.get('path')}: {err.get('message') or err.get('i18nKey')}"
                at_fault.setdefault(members[int(match.group(1))], []).append(text)
        if at_fault:
            lines = [LineUpdate(m, Status.REJECTED, None, "Tango refused this line: " + self._hinted(at_fault[m]))
                     if m in at_fault else LineUpdate(m, Status.PENDING) for m in members]
        else:
            lines = [LineUpdate(m, Status.REJECTED, None, f"Tango refused the order: {exc.message}")
                     for m in members]
        self.ledger.end_batch(ref, BatchState.REJECTED, http=exc.status, request_id=exc.request_id,
                              attempts=exc.attempts, message=exc.message, lines=lines,
                              run_id=self.run_id, final=True)
        self.say(f"order {ref}: Tango refused it ({exc.status}): {exc.message}", level=logging.WARNING,
                 event="refused", order=ref, status=exc.status)
        return [m for m in members if at_fault and m not in at_fault]

    def _hinted(self, reasons: list[str]) -> str:
        """Tango's reasons for refusing a line, and what to try when a reason names a field that has
        a known remedy (the bulk-shipping object, which the sources spell two ways)."""
        text = "; ".join(reasons)
        hints = [hint for field, hint in self.hints
                 if any(re.search(rf"\.{re.escape(field)}(?![A-Za-z0-9_])", r) for r in reasons)]
        return " ".join([text, *dict.fromkeys(hints)])

    def _accepted(self, ref: str, members: list[str], result: PostResult) -> None:
        """The order exists. Its lines are SUBMITTED but those Tango refused, and those it named in
        ``duplicateLineItemRefIds``: the reference defines that as IDs repeated within the request,
        which this pipeline never does, so such an answer proves nothing about those lines: they
        stay in flight until the order's detail (asked for at once) says what became of them."""
        failed = {f.get("externalRefLineItemID"): f for f in result.failed}
        unclear = [m for m in members if m in result.duplicates and m not in failed]
        lines = []
        for m in members:
            if m in failed:
                lines.append(LineUpdate(m, Status.REJECTED, None, "Tango refused this line: "
                                        + (line_errors(failed[m].get("errors") or []) or "no reason given")))
            elif m in unclear:
                lines.append(LineUpdate(m, Status.SENDING, None, NAMED_DUPLICATE))
            else:
                lines.append(LineUpdate(m, Status.SUBMITTED))
        self.figures.accepted += 1
        self.ledger.end_batch(ref, BatchState.ACCEPTED, http=result.status, request_id=result.request_id,
                              attempts=result.attempts, message=None, lines=lines, run_id=self.run_id,
                              order_status=result.order_status)
        self.say(f"order {ref}: accepted ({len(members) - len(failed)} of {len(members)} lines)", event="accepted",
                 order=ref, lines=len(members) - len(failed))
        if unclear:
            log.warning("order %s: Tango named %d line items as repeated within the request, which this "
                        "pipeline never sends; they are checked in the order's detail, not taken as ordered",
                        ref, len(unclear))
            self._check(ref, members)

    def _check(self, ref: str, members: list[str]) -> None:
        """The order's detail adopted now; on no answer, following the order settles it later."""
        customer, account = self._order_of(ref)
        try:
            detail = self.client.get_order(customer, account, ref)
        except TangoError as exc:
            self.say(f"order {ref}: could not read its detail yet ({exc}); it is followed later")
            return
        if detail is not None:
            self.follower.adopt(ref, members, detail, (Status.SUBMITTED, Status.SENDING))

    def _order_of(self, ref: str) -> tuple[str, str]:
        batch = self.ledger.batch(ref)
        assert batch is not None            # written ahead of its POST
        return batch.customer, batch.account
