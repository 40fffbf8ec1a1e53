"""The one token bucket: a stream's message rate, an API key's budget, a client's own pacing. Pure logic."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst`` (default: one second's worth, and at least one
    token, so that a rate under one per second still lets a message through now and then); starts full.

    ``rate`` 0 means unlimited: every ``take`` succeeds and ``wait_time`` is 0.
    """

    def __init__(self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        if rate < 0:
            raise ValueError("the rate must not be negative")
        self.rate = rate
        self.burst = max(rate, 1.0) if burst is None else burst
        self._clock = clock
        self._tokens = self.burst
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def take(self) -> bool:
        """Take one token; False (and nothing taken) when none is left."""
        if not self.rate:
            return True
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def wait_time(self) -> float:
        """Seconds until a token will be there (0 if one is there now)."""
        if not self.rate:
            return 0.0
        self._refill()
        return max(0.0, (1 - self._tokens) / self.rate)


class KeyedBuckets:
    """One TokenBucket per key (e.g. per API key), made on first use."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, key: str) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, clock=self._clock)
        return bucket.take()
