"""When to try a deferred message again, and when to give up.

`next_attempt(message, tenant_delivery, delivery_defaults, now_ms)` reads the
tenant's `retry: {schedule, max_age}` (falling back to the top-level
`delivery.retry`) and returns the ms timestamp of the next attempt, or None
when the message has expired and must bounce.  `message.attempt` is the
number of the attempt that just failed, counting from 0; after the schedule's
last step the last interval repeats ("then hourly").  The last retry is
pulled in to the expiry time itself, so a message always gets one attempt
at its deadline.  No worker sleeps on this: the egress worker parks the
message on a delay topic until the returned time.

Pure: reads nothing, writes nothing.
"""

from __future__ import annotations


def schedule_of(tenant_delivery, delivery_defaults) -> tuple[tuple[float, ...], float]:
    schedule = getattr(tenant_delivery, "retry_schedule", None) or delivery_defaults.retry_schedule
    max_age = getattr(tenant_delivery, "max_age", None) or delivery_defaults.max_age
    return tuple(schedule), float(max_age)


def expires_at(message, tenant_delivery, delivery_defaults) -> int:
    _, max_age = schedule_of(tenant_delivery, delivery_defaults)
    return int(message.received_at + max_age * 1000)


def next_attempt(message, tenant_delivery, delivery_defaults, now_ms: int) -> int | None:
    """The time (ms) of the next attempt, or None once the message has expired."""
    schedule, _ = schedule_of(tenant_delivery, delivery_defaults)
    deadline = expires_at(message, tenant_delivery, delivery_defaults)
    if now_ms >= deadline:
        return None
    step = min(max(message.attempt, 0), len(schedule) - 1)
    return min(now_ms + int(schedule[step] * 1000), deadline)
