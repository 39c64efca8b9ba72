"""What receiving servers answer: 2xx, 4xx, 5xx, 421, closing mid-transaction."""

from __future__ import annotations

import pytest

from egress.engine import DeliveryEngine
from tests.egress.helpers import CONTENT, ConfigHolder, document, message


def two_mx(dns_server, first="127.0.0.1", second="127.0.0.2"):
    dns_server.add("example.org", "MX", "10 mx1.example.org.")
    dns_server.add("example.org", "MX", "20 mx2.example.org.")
    dns_server.add("mx1.example.org", "A", first)
    dns_server.add("mx2.example.org", "A", second)


async def run(dns_server, port, rcpts=("a@example.org",), **doc):
    engine = DeliveryEngine(ConfigHolder(document(dns_server, delivery={"mx_port": port}, **doc)))
    try:
        return await engine.deliver(message(list(rcpts)), CONTENT, list(rcpts)), engine
    finally:
        await engine.close()


@pytest.mark.parametrize("reply, status, code, enhanced, bounce_class", [
    ("550 5.1.1 <a@example.org>: Recipient address rejected: User unknown", "bounced", 550, "5.1.1", "unknown_user"),
    ("552 5.2.2 Mailbox full", "bounced", 552, "5.2.2", "mailbox_full"),
    ("554 5.7.1 Service unavailable; Client host blocked using zen.spamhaus.org", "bounced", 554, "5.7.1", "reputation"),
    ("550 5.7.26 Unauthenticated email is not accepted due to domain's DMARC policy", "bounced", 550, "5.7.26", "policy"),
    ("550 Requested action not taken", "bounced", 550, "5.0.0", "other"),
    ("450 4.2.0 Greylisted, please try again later", "deferred", 450, "4.2.0", "other"),
])
async def test_recipient_replies_are_classified(reply, status, code, enhanced, bounce_class,
                                                dns_server, smtp_server_factory):
    server = smtp_server_factory(rcpt_default=reply)
    two_mx(dns_server, "127.0.0.1", "127.0.0.1")
    [outcome], _ = await run(dns_server, server.port)
    assert (outcome.status, outcome.code, outcome.enhanced) == (status, code, enhanced)
    assert outcome.bounce_class == bounce_class
    assert outcome.host == "mx1.example.org"
    assert len(server.sessions) == 1       # a recipient's refusal is not retried on the next MX


async def test_data_refusal_applies_to_every_accepted_recipient(dns_server, smtp_server_factory):
    server = smtp_server_factory(data_reply="554 5.7.1 Message rejected as spam")
    two_mx(dns_server, "127.0.0.1", "127.0.0.1")
    outcomes, _ = await run(dns_server, server.port, rcpts=("a@example.org", "b@example.org"))
    assert [(o.status, o.code, o.bounce_class) for o in outcomes] == [
        ("bounced", 554, "policy"), ("bounced", 554, "policy")]


async def test_greeting_421_moves_to_next_mx(dns_server, smtp_server_factory):
    busy = smtp_server_factory("127.0.0.1", greeting="421 4.7.0 Too many connections, slow down")
    good = smtp_server_factory("127.0.0.2", port=busy.port)
    two_mx(dns_server)
    [outcome], engine = await run(dns_server, busy.port)
    assert outcome.status == "delivered" and outcome.host == "mx2.example.org"
    assert len(good.messages) == 1
    assert busy.connections == 1
    dest = engine.shaper.destination("mx1.example.org", "example.org", engine._config_provider().delivery)
    assert engine.shaper.backing_off(dest) > 0


async def test_all_mx_421_defers_with_server_reply(dns_server, smtp_server_factory):
    busy = smtp_server_factory("127.0.0.1", greeting="421 4.7.0 Try again later")
    busy2 = smtp_server_factory("127.0.0.2", port=busy.port, greeting="421 4.7.0 Try again later")
    two_mx(dns_server)
    [outcome], _ = await run(dns_server, busy.port)
    assert outcome.status == "deferred" and outcome.code == 421
    assert outcome.host == "mx2.example.org"
    assert (busy.connections, busy2.connections) == (1, 1)


@pytest.mark.parametrize("close_after", ["MAIL", "RCPT"])
async def test_close_before_data_tries_next_mx(close_after, dns_server, smtp_server_factory):
    flaky = smtp_server_factory("127.0.0.1", close_after=close_after)
    good = smtp_server_factory("127.0.0.2", port=flaky.port)
    two_mx(dns_server)
    [outcome], _ = await run(dns_server, flaky.port)
    assert outcome.status == "delivered" and outcome.host == "mx2.example.org"
    assert not flaky.messages and len(good.messages) == 1


async def test_close_after_data_defers_and_does_not_resend_elsewhere(dns_server, smtp_server_factory):
    flaky = smtp_server_factory("127.0.0.1", close_after="DOT")
    other = smtp_server_factory("127.0.0.2", port=flaky.port)
    two_mx(dns_server)
    [outcome], _ = await run(dns_server, flaky.port)
    assert outcome.status == "deferred" and outcome.enhanced == "4.4.2"
    assert outcome.host == "mx1.example.org"
    assert not other.sessions      # the first server may have the message: no second copy now


async def test_mail_from_refusal_bounces_all(dns_server, smtp_server_factory):
    server = smtp_server_factory(mail_reply="553 5.7.1 Sender address rejected: not owned by user")
    two_mx(dns_server, "127.0.0.1", "127.0.0.1")
    outcomes, _ = await run(dns_server, server.port, rcpts=("a@example.org", "b@example.org"))
    assert [o.status for o in outcomes] == ["bounced", "bounced"]
    assert outcomes[0].bounce_class == "policy"


async def test_nothing_listening_defers(dns_server):
    two_mx(dns_server, "127.0.0.3", "127.0.0.4")
    [outcome], _ = await run(dns_server, 1)
    assert outcome.status == "deferred" and outcome.enhanced == "4.4.1"
