"""Per-destination shaping: messages per minute and backoff after 421.

A destination is an MX host or smart host, or a provider when a shaping rule
groups several hosts (`match: ["*.mail.example"]`): all hosts a rule matches
share one budget.  `Shaper.destination(host, domain, delivery)` names the
budget; `take(...)` waits briefly for a per-minute slot (at most
`max_shaping_wait`, then the caller defers: no worker sleeps on a busy
destination); `note_421` starts or doubles a backoff during which the
destination is skipped, `note_success` ends it.  Connection limits live in
egress/pool.py, keyed by the same destination.

Holds no secrets; parses nothing untrusted.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass

from postwarden.config.delivery import Delivery, Shaping


@dataclass(frozen=True)
class Destination:
    key: str          # "rule:<patterns>" for a provider rule, else the host name
    rule: Shaping


class Shaper:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._sent: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}
        self._level: dict[str, int] = {}

    def destination(self, host: str, domain: str, delivery: Delivery) -> Destination:
        rule = delivery.shaping_for(host, domain)
        if rule is delivery.default_shaping:
            return Destination(host.lower(), rule)
        return Destination("rule:" + ",".join(rule.match), rule)

    # -- per-minute budget -----------------------------------------------------
    async def take(self, dest: Destination, max_wait: float) -> bool:
        """Take one message slot within the per-minute limit; False if it would wait too long."""
        limit = dest.rule.per_minute
        if limit <= 0:
            return True
        window = self._sent.setdefault(dest.key, deque())
        while True:
            now = self.clock()
            while window and window[0] <= now - 60.0:
                window.popleft()
            if len(window) < limit:
                window.append(now)
                return True
            wait = window[0] + 60.0 - now
            if wait > max_wait:
                return False
            await asyncio.sleep(wait)

    def sent_in_last_minute(self, dest: Destination) -> int:
        now = self.clock()
        return sum(1 for t in self._sent.get(dest.key, ()) if t > now - 60.0)

    # -- backoff ---------------------------------------------------------------
    def backing_off(self, dest: Destination) -> float:
        """Seconds left in this destination's backoff (0 when it may be tried)."""
        return max(0.0, self._blocked_until.get(dest.key, 0.0) - self.clock())

    def note_421(self, dest: Destination) -> float:
        level = self._level.get(dest.key, 0) + 1
        self._level[dest.key] = level
        pause = min(dest.rule.backoff * (2 ** (level - 1)), dest.rule.max_backoff)
        self._blocked_until[dest.key] = self.clock() + pause
        return pause

    def note_success(self, dest: Destination) -> None:
        self._level.pop(dest.key, None)
        self._blocked_until.pop(dest.key, None)
