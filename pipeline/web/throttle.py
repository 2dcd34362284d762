"""Sign-in throttling: after 5 failures for a name, or from a client address, each further try waits,
longer each time (30 s, 60 s, 120 s ... up to 15 minutes). Unknown names are counted like known ones,
so the wait says nothing about who exists. Kept in memory: a restart forgets it (and costs an attacker
nothing they could not get by waiting)."""

from __future__ import annotations

import time
from collections.abc import Callable
from threading import Lock

__all__ = ["Throttle"]


class Throttle:
    def __init__(self, free: int = 5, base: float = 30.0, cap: float = 900.0,
                 clock: Callable[[], float] = time.monotonic, keep: int = 10_000) -> None:
        self.free, self.base, self.cap, self.clock, self.keep = free, base, cap, clock, keep
        self.failures: dict[str, tuple[int, float]] = {}       # key -> (failures, when the last one was)
        self.lock = Lock()

    def _delay(self, count: int) -> float:
        return 0.0 if count < self.free else min(self.cap, self.base * 2 ** (count - self.free))

    def wait(self, *keys: str) -> float:
        """Seconds before any of ``keys`` may try again (0: now)."""
        now = self.clock()
        with self.lock:
            found = [self.failures.get(k) for k in keys]
        return max([0.0] + [last + self._delay(n) - now for n, last in filter(None, found)])

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self.lock:
            for key in keys:
                count, _ = self.failures.get(key, (0, now))
                self.failures[key] = (count + 1, now)
            if len(self.failures) > self.keep:      # forget the oldest, quiet keys: memory stays bounded
                for key, (_, last) in sorted(self.failures.items(), key=lambda kv: kv[1][1])[:len(self.failures) // 2]:
                    if now - last > self.cap:
                        del self.failures[key]

    def succeeded(self, *keys: str) -> None:
        with self.lock:
            for key in keys:
                self.failures.pop(key, None)
