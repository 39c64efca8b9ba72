"""No duplicates across replays (delivered-set), and bounce classification."""

from __future__ import annotations

import pytest

from egress.bounces import classify
from egress.engine import DeliveryEngine, MemoryDeliveredStore
from tests.egress.helpers import CONTENT, ConfigHolder, document, message


async def test_replayed_record_is_not_sent_twice(dns_server, smtp_server_factory):
    server = smtp_server_factory(rcpt_replies={"b@example.org": "451 4.2.1 try later"})
    dns_server.add("example.org", "MX", "10 mx.example.org.")
    dns_server.add("mx.example.org", "A", "127.0.0.1")
    store = MemoryDeliveredStore()
    engine = DeliveryEngine(ConfigHolder(document(dns_server, delivery={"mx_port": server.port})),
                            delivered_store=store)
    msg = message(["a@example.org", "b@example.org"])
    rcpts = list(msg.recipients)
    try:
        first = await engine.deliver(msg, CONTENT, rcpts)
        server.rcpt_replies.clear()
        replay = await engine.deliver(msg, CONTENT, rcpts)     # the same Kafka record again
    finally:
        await engine.close()
    assert [o.status for o in first] == ["delivered", "deferred"]
    assert [(o.status, o.duplicate) for o in replay] == [("delivered", True), ("delivered", False)]
    delivered_to = [r for m in server.messages for r in m.rcpt_tos]
    assert sorted(delivered_to) == ["a@example.org", "b@example.org"]      # a@ exactly once
    assert await store.seen(msg.id, "A@example.org")
    assert not await store.seen("other-id", "a@example.org")


@pytest.mark.parametrize("code, enhanced, text, expected", [
    (552, "5.2.2", "Requested mail action aborted: exceeded storage allocation", "mailbox_full"),
    (550, "5.0.0", "Mailbox full, quota exceeded", "mailbox_full"),
    (550, "5.1.1", "The email account that you tried to reach does not exist", "unknown_user"),
    (550, "5.0.0", "No such user here", "unknown_user"),
    (550, "5.7.1", "Message rejected due to content policy", "policy"),
    (550, "5.0.0", "Relay access denied", "policy"),
    (550, "5.7.1", "Service unavailable, Client host [192.0.2.1] blocked using Spamhaus", "reputation"),
    (421, "4.7.0", "IP not in whitelist, poor sender reputation", "reputation"),
    (554, "5.0.0", "Transaction failed", "other"),
])
def test_bounce_classes(code, enhanced, text, expected):
    assert classify(code, enhanced, text) == expected


def test_success_has_no_class():
    assert classify(250, "2.0.0", "Ok") is None
