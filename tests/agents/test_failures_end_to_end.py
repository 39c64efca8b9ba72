"""Failures become data: scanner outages follow the tenant's policy, broken records are dead-lettered.

Two tenants share scanners that are down (a closed port): acme holds its mail
(fail closed, the default), globex lets it through with an audit note (fail
open).  A record that breaks the agent lands on the dead-letter topic with the
error and an audit event, and the worker goes on with the next message.
"""

import asyncio
import time
import uuid

import pytest

from postwarden import codec, crypto, kafka
from postwarden.config.model import KafkaSettings
from postwarden.crypto import Keyring
from postwarden.ids import new_message_id
from postwarden.message import Message
from postwarden.kafka import free_port
from tests.agents.test_pipeline_end_to_end import audit_events, queued_id
from tests.fixtures.relay import Relay, acme_message, base_document
from tests.test_end_to_end import wait_for_subject

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def outage_relay(broker, relay_sink, password_hash, tmp_path_factory):
    directory = tmp_path_factory.mktemp("outage-relay")
    document = base_document(directory, broker.bootstrap, relay_sink.port, password_hash)
    document["scanners"] = {"clamd": f"127.0.0.1:{free_port()}",
                            "rspamd": f"http://127.0.0.1:{free_port()}",
                            "timeouts": {"clamd": "2s", "rspamd": "2s", "connect": "1s"}}
    document["tenants"][0]["content_policy"] = {"scanner_down": "hold"}
    document["tenants"][1]["content_policy"] = {"scanner_down": "pass"}
    relay = Relay(directory, document)
    relay.write_config()
    relay.start()
    yield relay
    relay.stop()


def test_fail_closed_tenant_holds_its_mail_when_scanners_are_down(outage_relay, relay_sink):
    subject = f"Held {uuid.uuid4().hex[:8]}"
    code, text = outage_relay.submit(acme_message(subject=subject))
    assert code == 250, text
    events = audit_events(outage_relay, queued_id(text), "deferred")
    deferred = [e for e in events if e["event"] == "deferred"][0]
    assert any(r["reason"] == "scan.scanner_down" and r["verdict"] == "tempfail"
               for r in deferred["results"])
    assert deferred["details"]["retry_in_s"]
    time.sleep(2)
    assert not any(m.header("Subject") == subject for m in relay_sink.messages)
    # it waits in a delay topic, sealed, to be scanned again
    held = [Message.decode(v) for v in outage_relay.raw_records("delay-1m")]
    assert queued_id(text) in [m.id for m in held]


def test_fail_open_tenant_passes_with_an_audit_note(outage_relay, relay_sink):
    subject = f"Passed {uuid.uuid4().hex[:8]}"
    message = acme_message(subject=subject, sender="crm@globex.example")
    code, text = outage_relay.submit(message, sender="crm@globex.example", username="crm@globex")
    assert code == 250, text
    assert wait_for_subject(relay_sink, subject)
    events = audit_events(outage_relay, queued_id(text), "signed")
    notes = [r for e in events for r in e["results"] if r["reason"] == "scan.scanner_down"]
    assert notes and all(r["verdict"] == "pass" for r in notes)
    assert any("fail open" in r["details"].get("note", "") for r in notes)


def test_a_record_that_breaks_the_agent_is_dead_lettered_and_the_worker_goes_on(outage_relay, relay_sink):
    settings = KafkaSettings(bootstrap=outage_relay.bootstrap)
    keyring = Keyring(crypto.load_master_key({crypto.MASTER_KEY_ENV: outage_relay.master_key}))
    ghost_id = new_message_id()
    ghost = Message(id=ghost_id, tenant_id="ghost", app_id="x", received_at=0, client_address="127.0.0.1",
                    auth_user="x", envelope_sender="a@ghost.example", recipients=("b@example.org",),
                    size=1, payload=crypto.Sealed("ghost/1", keyring.new_data_key("ghost/1").wrapped,
                                                  b"", b""))

    async def inject():
        producer = kafka.producer(settings)
        await producer.start()
        try:
            await producer.send_and_wait(outage_relay.topic("submitted"), b"\xc3\x01garbage")
            await producer.send_and_wait(outage_relay.topic("submitted"), ghost.encode())
        finally:
            await producer.stop()

    asyncio.run(inject())
    events = audit_events(outage_relay, ghost_id, "dead_lettered")
    assert [e for e in events if e["event"] == "dead_lettered"][0]["details"]["error"] == "LookupError"
    letters = [codec.decode(v) for v in outage_relay.raw_records("dead-letter")]
    assert any(letter["message_id"] == ghost_id and "ghost" in letter["error"] for letter in letters)
    assert any(letter["record"] == b"\xc3\x01garbage" and letter["message_id"] is None for letter in letters)
    # the worker is still there for the next message
    subject = f"After the breakage {uuid.uuid4().hex[:8]}"
    code, _ = outage_relay.submit(acme_message(subject=subject, sender="crm@globex.example"),
                                  sender="crm@globex.example", username="crm@globex")
    assert code == 250
    assert wait_for_subject(relay_sink, subject)


def test_new_scanner_settings_take_effect_without_a_restart(outage_relay, relay_sink):
    import copy

    document = copy.deepcopy(outage_relay.document)
    del document["scanners"]                       # no scanner configured: no scan stage
    outage_relay.apply(document)
    # the agents pick the new version up within about a second; mail sent meanwhile is held
    deadline = time.monotonic() + 30
    arrived = False
    while not arrived and time.monotonic() < deadline:
        subject = f"Scanners changed {uuid.uuid4().hex[:8]}"
        code, text = outage_relay.submit(acme_message(subject=subject))
        assert code == 250, text
        until = time.monotonic() + 3
        while not arrived and time.monotonic() < until:
            arrived = any(m.header("Subject") == subject for m in relay_sink.messages)
            time.sleep(0.2)
    assert arrived, "acme's mail is still held after the scanners were removed"
