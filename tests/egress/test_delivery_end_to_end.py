"""Delivery through Kafka: retries via delay topics, bounces with DSNs, no duplicate on replay.

The sink plays a provider: `defer@` answers 450 twice and then accepts,
`unknown@` answers 550.  Retries are scheduled on the tenant's schedule
(seconds here) through the delay topics; a permanent failure sends a DSN to
the envelope sender; replaying an outbound record does not deliver twice.
"""

import asyncio
import time
import uuid

import pytest

from postwarden import kafka
from postwarden.config.model import KafkaSettings
from tests.agents.test_pipeline_end_to_end import audit_events, dsn_for, queued_id
from tests.fixtures.relay import Relay, acme_message, base_document
from tests.fixtures.sink import SmtpSink
from tests.test_end_to_end import wait_for_subject

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def provider():
    sink = SmtpSink(replies={"unknown@*": "550 5.1.1 No such user here"})
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def delivery_relay(broker, provider, password_hash, tmp_path_factory):
    directory = tmp_path_factory.mktemp("delivery-relay")
    document = base_document(directory, broker.bootstrap, provider.port, password_hash)
    document["tenants"][0]["retry"] = {"schedule": ["1s", "2s"], "max_age": "1h"}
    relay = Relay(directory, document)
    relay.write_config()
    relay.start()
    yield relay
    relay.stop()


def test_temporary_failure_is_retried_later_and_delivered(delivery_relay, provider):
    provider.reply("defer@*", "450 4.2.0 Mailbox busy, try later", times=2)
    subject = f"Retried {uuid.uuid4().hex[:8]}"
    code, text = delivery_relay.submit(acme_message(subject=subject, to="defer@example.org"),
                                       recipients=("defer@example.org",))
    assert code == 250, text
    delivered = wait_for_subject(provider, subject, timeout=60)
    assert delivered.recipients == ("defer@example.org",)
    events = audit_events(delivery_relay, queued_id(text), "delivered")
    kinds = [e["event"] for e in events]
    assert kinds.count("deferred") == 2
    deferred = [e for e in events if e["event"] == "deferred"][0]
    assert deferred["reply"]["code"] == 450 and deferred["details"]["next_attempt_ms"]
    assert [e for e in events if e["event"] == "delivered"][0]["details"]["attempt"] == "3"


def test_one_slow_recipient_does_not_hold_back_the_others(delivery_relay, provider):
    provider.reply("defer@*", "450 4.2.0 Mailbox busy, try later", times=1)
    subject = f"Split {uuid.uuid4().hex[:8]}"
    code, text = delivery_relay.submit(acme_message(subject=subject),
                                       recipients=("defer@example.org", "alice@example.org"))
    assert code == 250
    first = wait_for_subject(provider, subject)
    assert first.recipients == ("alice@example.org",)     # delivered at once, the other later
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        later = [m for m in provider.messages if m.header("Subject") == subject]
        if len(later) == 2:
            break
        time.sleep(0.2)
    assert sorted(r for m in later for r in m.recipients) == ["alice@example.org", "defer@example.org"]


def test_permanent_failure_bounces_with_a_dsn(delivery_relay, provider):
    subject = f"Bounced {uuid.uuid4().hex[:8]}"
    code, text = delivery_relay.submit(acme_message(subject=subject, to="unknown@example.org"),
                                       recipients=("unknown@example.org",))
    assert code == 250
    message_id = queued_id(text)
    events = audit_events(delivery_relay, message_id, "bounced")
    bounced = [e for e in events if e["event"] == "bounced"][0]
    assert bounced["reply"]["code"] == 550
    assert bounced["details"]["bounce_class"] == "unknown_user"
    dsn = dsn_for(provider, message_id)
    assert dsn.recipients == ("invoices@acme.example",)
    assert b"Final-Recipient: rfc822; unknown@example.org" in dsn.raw
    assert b"Status: 5.1.1" in dsn.raw
    assert dsn.header("DKIM-Signature")                   # signed like any other mail
    audit_events(delivery_relay, message_id, "dsn_sent")


def test_a_replayed_outbound_record_is_not_delivered_twice(delivery_relay, provider):
    subject = f"Once {uuid.uuid4().hex[:8]}"
    code, text = delivery_relay.submit(acme_message(subject=subject))
    message_id = queued_id(text)
    wait_for_subject(provider, subject)
    audit_events(delivery_relay, message_id, "delivered")
    record = next(v for v in delivery_relay.raw_records("outbound") if message_id.encode() in v)

    async def replay():
        producer = kafka.producer(KafkaSettings(bootstrap=delivery_relay.bootstrap))
        await producer.start()
        try:
            await producer.send_and_wait(delivery_relay.topic("outbound"), record,
                                         key=message_id.encode())
        finally:
            await producer.stop()

    asyncio.run(replay())
    # a message sent after the replay arrives, so egress has read past the replayed record
    after = f"After replay {uuid.uuid4().hex[:8]}"
    delivery_relay.submit(acme_message(subject=after))
    wait_for_subject(provider, after)
    time.sleep(1)
    assert len([m for m in provider.messages if m.header("Subject") == subject]) == 1
