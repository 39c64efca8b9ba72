"""The spine end to end on a real broker: SMTP in, Kafka, Faust agents, Kafka, SMTP out.

A message submitted with STARTTLS + AUTH reaches the sink DKIM-signed with
both of the tenant's keys (verified by dkimpy with the public keys served to
it); payloads are never in clear on any topic; audit events follow each step;
a config change applied while running takes effect.
"""

import copy
import time
import uuid

import dkim
import pytest
import yaml

from postwarden import codec
from postwarden.dkimkeys import public_record
from tests.fixtures.relay import acme_message

pytestmark = pytest.mark.broker


def dns_for(relay):
    records = {}
    for tenant in relay.document["tenants"]:
        for domain in tenant["domains"]:
            entries = domain["dkim"] if isinstance(domain["dkim"], list) else [domain["dkim"]]
            for entry in entries:
                pem = (relay.directory / entry["key"]).read_bytes()
                records[f"{entry['selector']}._domainkey.{domain['name']}."] = public_record(pem).encode()

    def dnsfunc(name, timeout=5):
        return records.get(name.decode() if isinstance(name, bytes) else name)
    return dnsfunc


def wait_for_subject(sink, subject, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in sink.messages:
            if message.header("Subject") == subject:
                return message
        time.sleep(0.1)
    raise AssertionError(f"no message with subject {subject!r} reached the sink")


def test_submitted_message_arrives_signed_with_both_keys(relay, relay_sink):
    subject = f"Invoice {uuid.uuid4().hex[:8]}"
    code, text = relay.submit(acme_message(subject=subject))
    assert code == 250, text
    message_id = text.split(b"queued as ")[1].strip().decode()
    delivered = wait_for_subject(relay_sink, subject)
    assert delivered.envelope_sender == "invoices@acme.example"
    assert delivered.recipients == ("alice@example.org",)
    assert delivered.header("X-Postwarden-Id") == message_id
    signatures = delivered.headers("DKIM-Signature")
    assert len(signatures) == 2
    assert any("a=rsa-sha256" in s.replace(" ", "") for s in signatures)
    assert any("a=ed25519-sha256" in s.replace(" ", "") for s in signatures)
    assert all("d=acme.example" in s.replace(" ", "") for s in signatures)
    dnsfunc = dns_for(relay)
    verifier = dkim.DKIM(delivered.raw)
    for index in range(2):
        assert verifier.verify(idx=index, dnsfunc=dnsfunc), f"signature {index} does not verify"
    # a changed body breaks the signature: the verifier is really checking
    tampered = delivered.raw.replace(b"Your invoice", b"Your lnvoice")
    assert not dkim.verify(tampered, dnsfunc=dnsfunc)


def test_canary_is_never_in_clear_on_any_topic(relay, relay_sink):
    canary = f"CANARY-{uuid.uuid4().hex}"
    subject = f"Canary {uuid.uuid4().hex[:8]}"
    code, _ = relay.submit(acme_message(subject=subject, body=f"secret {canary} inside\n"))
    assert code == 250
    delivered = wait_for_subject(relay_sink, subject)
    assert canary.encode() in delivered.raw          # it did travel through the topics
    for topic in ("submitted", "outbound", "audit", "delivered", "dead-letter", "quarantine"):
        for value in relay.raw_records(topic):
            assert canary.encode() not in value, f"canary in clear on {topic}"
            assert subject.encode() not in value, f"subject in clear on {topic}"


def test_audit_trail_follows_the_message(relay, relay_sink):
    subject = f"Audited {uuid.uuid4().hex[:8]}"
    code, text = relay.submit(acme_message(subject=subject))
    message_id = text.split(b"queued as ")[1].strip().decode()
    wait_for_subject(relay_sink, subject)
    deadline = time.monotonic() + 20
    kinds = []
    while time.monotonic() < deadline:
        events = [codec.decode(v) for v in relay.raw_records("audit")]
        kinds = [e["event"] for e in events if e["message_id"] == message_id]
        if "delivered" in kinds:
            break
        time.sleep(0.5)
    assert kinds[:1] == ["accepted"]
    assert "signed" in kinds and "delivered" in kinds
    delivered = [e for e in events if e["message_id"] == message_id and e["event"] == "delivered"][0]
    assert delivered["tenant_id"] == "acme" and delivered["app_id"] == "billing"
    assert delivered["reply"]["code"] == 250
    assert delivered["recipients"] == ["alice@example.org"]


def test_config_change_takes_effect_without_restart(relay, relay_sink):
    message = acme_message(sender="alerts@acme.example", subject="before")
    code, _ = relay.submit(message, sender="alerts@acme.example")
    assert code == 550                                 # not granted yet
    document = copy.deepcopy(relay.document)
    document["tenants"][0]["apps"][0]["allowed_senders"].append("alerts@acme.example")
    relay.apply(document)
    subject = f"After {uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + 20
    while True:
        code, text = relay.submit(acme_message(sender="alerts@acme.example", subject=subject),
                                  sender="alerts@acme.example")
        if code == 250 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert code == 250, text
    assert wait_for_subject(relay_sink, subject).envelope_sender == "alerts@acme.example"


def test_invalid_config_is_refused_and_the_running_one_stays(relay):
    document = copy.deepcopy(relay.document)
    document["tenants"][0]["apps"][0]["allowed_ips"] = ["nonsense"]
    broken = relay.directory / "broken.yaml"
    broken.write_text(yaml.safe_dump(document))
    result = relay.cli("apply", "--config", str(broken), check=False)
    assert result.returncode == 2
    assert "tenant acme" in result.stderr and "allowed_ips" in result.stderr
    code, _ = relay.submit(acme_message())
    assert code == 250


def test_ingress_says_when_it_uses_a_self_signed_certificate(relay):
    assert "self-signed certificate" in relay.log("ingress")
