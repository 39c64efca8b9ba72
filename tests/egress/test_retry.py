"""Retry schedule: per-tenant schedule and max age, last interval repeats, expiry."""

from __future__ import annotations

import pytest

from egress.retry import expires_at, next_attempt
from postwarden.config.model import parse
from tests.egress.helpers import document, message

MIN = 60_000


@pytest.fixture
def config():
    return parse(document(tenant={"retry": {"schedule": ["1m", "5m", "15m", "30m", "1h"],
                                            "max_age": "1d"}}))


def test_schedule_steps_then_repeats_the_last(config):
    tenant = config.tenant("acme").delivery
    received = 1_000_000_000
    waits = []
    for attempt in range(7):
        now = received + attempt * MIN
        due = next_attempt(message(["a@example.org"], attempt=attempt, received_at=received),
                           tenant, config.delivery, now)
        waits.append((due - now) // MIN)
    assert waits == [1, 5, 15, 30, 60, 60, 60]


def test_expired_message_gets_none_and_last_retry_is_at_the_deadline(config):
    tenant = config.tenant("acme").delivery
    received = 1_000_000_000
    msg = message(["a@example.org"], attempt=9, received_at=received)
    deadline = expires_at(msg, tenant, config.delivery)
    assert deadline == received + 86_400_000
    assert next_attempt(msg, tenant, config.delivery, deadline - 10 * MIN) == deadline
    assert next_attempt(msg, tenant, config.delivery, deadline) is None


def test_defaults_without_tenant_retry_are_five_days():
    config = parse(document())
    msg = message(["a@example.org"], received_at=0)
    assert expires_at(msg, config.tenant("acme").delivery, config.delivery) == 5 * 86_400_000
    assert next_attempt(msg, config.tenant("acme").delivery, config.delivery, 0) == 60_000
    # The top-level default can be changed too.
    config = parse(document(delivery={"retry": {"schedule": ["2m"], "max_age": "2h"}}))
    assert next_attempt(msg, config.tenant("acme").delivery, config.delivery, 0) == 120_000
    assert expires_at(msg, None, config.delivery) == 7_200_000
