"""One pace for every call made with one set of credentials: Tango documents 1 TPS for all endpoints.

Calls follow a fixed cadence ``(1 + MARGIN) / rate`` apart, so a call that went out late (the
machine was busy, a sleep overslept) does not push back the ones after it: they catch up. But two
calls are never closer than ``(1 + GUARD) / rate`` in time, so a server counting the calls of any
one second never sees more than ``rate`` of them, even while catching up. On a busy machine this
keeps the pace within a few tenths of a percent of the cadence, about 98.5 % of the allowance.

The limit is Tango's per set of credentials, not per account: every account of a customer (a
campaign's ``[accounts]``) is reached with the same credentials, so their calls share one pace. A
run makes one client (``connect.client_for``) and sends the orders of all its accounts through it;
nothing makes a client per account, and a second client of the same credentials in this process
gets the same limiter (``shared_limiter``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["RateLimiter", "shared_limiter"]


class RateLimiter:
    """At most ``rate`` calls per second (``rate`` 0: no limit), evenly spaced; safe across threads."""

    MARGIN = 0.015      # the cadence: 98.5 % of the allowance
    GUARD = 0.01        # the least spacing: 10 ms above 1/rate at 1 TPS, for the network's jitter

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate
        self.interval = (1.0 + self.MARGIN) / rate if rate > 0 else 0.0
        self.gap = (1.0 + self.GUARD) / rate if rate > 0 else 0.0
        self.clock, self.sleep = clock, sleep
        self.planned: float | None = None    # when the next call is due on the cadence
        self.last: float | None = None       # when the last call went
        self.lock = threading.Lock()

    def wait(self) -> None:
        """Return when the next call may go."""
        if self.rate <= 0:
            return
        with self.lock:
            now = self.clock()
            if self.planned is None or self.last is None:
                cadence = due = now         # the first call
            elif now - self.planned > self.interval:
                cadence = due = max(now, self.last + self.gap)     # after a pause: a new cadence
            else:
                cadence, due = self.planned, max(self.planned, self.last + self.gap)
            if due > now:
                self.sleep(due - now)
                now = self.clock()
            self.last = now
            self.planned = cadence + self.interval


_SHARED: dict[tuple[str, str, float], RateLimiter] = {}
_SHARED_LOCK = threading.Lock()


def shared_limiter(base_url: str, identity: str, rate: float) -> RateLimiter:
    """The limiter of one set of credentials at one API (``identity``: the platform name or client ID),
    shared by every client this process makes for them."""
    key = (base_url.rstrip("/"), identity, rate)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = RateLimiter(rate)
        return _SHARED[key]
