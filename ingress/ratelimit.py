"""Per-app submission rate limits: a token bucket per app on each ingress node.

An app configured with `rate_limit: {messages: N, per: 1m}` may start N
transactions per period on one node (bursts up to N); past that, MAIL gets a
temporary 450 so a well-behaved client slows down and retries, and a runaway or
compromised app cannot flood the relay.  Nodes do not share buckets: with K
ingress nodes behind a balancer the effective limit is up to K x N.
"""

from __future__ import annotations

import time


class RateLimiter:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}   # app key -> (tokens, last time)

    def allow(self, key: str, messages: int, per: float) -> bool:
        """Take one token from `key`'s bucket; False when it is empty."""
        now = self.clock()
        tokens, last = self._buckets.get(key, (float(messages), now))
        tokens = min(float(messages), tokens + (now - last) * messages / per)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1.0, now)
        return True
