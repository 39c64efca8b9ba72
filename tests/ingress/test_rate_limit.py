"""Per-app rate limits at SMTP time: a runaway app hears 450 and retries later."""

import pytest

from ingress.ratelimit import RateLimiter
from tests.fixtures.relay import acme_message


def test_token_bucket_allows_a_burst_then_refills_with_time():
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert [limiter.allow("acme/billing", 3, 60) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("globex/crm", 3, 60)              # buckets are per app
    now[0] += 20                                            # one message's worth of time
    assert limiter.allow("acme/billing", 3, 60)
    assert not limiter.allow("acme/billing", 3, 60)
    now[0] += 3600
    assert [limiter.allow("acme/billing", 3, 60) for _ in range(4)] == [True, True, True, False]


@pytest.mark.broker
def test_an_app_over_its_rate_limit_gets_450(relay):
    replies = [relay.submit(acme_message(sender="news@globex.example"), sender="news@globex.example",
                            username="newsletter@globex")
               for _ in range(4)]
    assert [code for code, _ in replies[:3]] == [250, 250, 250]
    code, text = replies[3]
    assert code == 450 and b"4.7.1" in text and b"newsletter" in text
    # other apps are not affected
    assert relay.submit(acme_message())[0] == 250
