"""The stage chain on a real broker with real clamd and rspamd: scan, DLP, sign, quarantine.

Each case goes in over SMTP and is judged by what reaches the sink (a remote
mailbox) and by the audit topic: a virus is refused with a DSN that names the
reason and carries no payload; a DLP block never leaves; an impersonation is
held in quarantine until an operator releases it, and then arrives signed.
"""

import base64
import time
import uuid

import dkim
import pytest

from postwarden import codec
from tests.fixtures.relay import Relay, acme_message, base_document
from tests.test_end_to_end import dns_for, wait_for_subject

pytestmark = pytest.mark.broker

EICAR = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
CARD = "4111 1111 1111 1111"


@pytest.fixture(scope="module")
def content_relay(broker, relay_sink, password_hash, clamd_server, rspamd_server, tmp_path_factory):
    directory = tmp_path_factory.mktemp("content-relay")
    document = base_document(directory, broker.bootstrap, relay_sink.port, password_hash)
    document["scanners"] = {"clamd": clamd_server.address, "rspamd": rspamd_server.address}
    acme = document["tenants"][0]
    acme["protect"] = {"names": ["Acme Corp", {"name": "Jane Doe", "addresses": ["jane.doe@acme.example"]}]}
    acme["content_policy"] = {"virus": "reject", "impersonation": "quarantine", "scanner_down": "hold",
                              "spam": {"tag_at": 5, "quarantine_at": 8, "reject_at": 15}}
    acme["dlp"] = {"rules": [{"name": "cards", "detectors": ["credit_card"], "min_count": 1,
                              "action": "block"},
                             {"name": "ssn-encrypt", "detectors": ["us_ssn"], "min_count": 1,
                              "action": "require_encryption", "encryption": "tls"}]}
    relay = Relay(directory, document)
    relay.write_config()
    relay.start()
    yield relay
    relay.stop()


def audit_events(relay, message_id, wanted, timeout=30):
    deadline = time.monotonic() + timeout
    events = []
    while time.monotonic() < deadline:
        events = [e for e in (codec.decode(v) for v in relay.raw_records("audit"))
                  if e["message_id"] == message_id]
        if wanted in [e["event"] for e in events]:
            return events
        time.sleep(0.5)
    raise AssertionError(f"no {wanted} event for {message_id}: {[e['event'] for e in events]}")


def queued_id(text: bytes) -> str:
    return text.split(b"queued as ")[1].strip().decode()


def dsn_for(sink, message_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in sink.messages:
            if message.envelope_sender in ("", "<>") and message_id.encode() in message.raw:
                return message
        time.sleep(0.2)
    raise AssertionError(f"no DSN mentioning {message_id}")


def test_clean_invoice_passes_the_whole_chain(content_relay, relay_sink):
    subject = f"Clean {uuid.uuid4().hex[:8]}"
    code, text = content_relay.submit(acme_message(subject=subject))
    assert code == 250, text
    delivered = wait_for_subject(relay_sink, subject)
    assert dkim.verify(delivered.raw, dnsfunc=dns_for(content_relay))
    kinds = [e["event"] for e in audit_events(content_relay, queued_id(text), "delivered")]
    assert "scanned" in kinds and "signed" in kinds


def test_virus_is_rejected_with_a_dsn_that_carries_no_payload(content_relay, relay_sink):
    subject = f"Virus {uuid.uuid4().hex[:8]}"
    message = acme_message(subject=subject)
    message.add_attachment(EICAR.encode(), maintype="application", subtype="octet-stream",
                           filename="invoice.pdf.exe")
    code, text = content_relay.submit(message)
    assert code == 250, text
    message_id = queued_id(text)
    events = audit_events(content_relay, message_id, "rejected")
    rejected = [e for e in events if e["event"] == "rejected"][0]
    assert any(r["reason"] == "scan.virus" for r in rejected["results"])
    dsn = dsn_for(relay_sink, message_id)
    assert dsn.recipients == ("invoices@acme.example",)
    assert b"multipart/report" in dsn.raw and b"scan.virus" in dsn.raw
    assert b"EICAR" not in dsn.raw and base64.b64encode(EICAR.encode())[:20] not in dsn.raw
    assert dkim.verify(dsn.raw, dnsfunc=dns_for(content_relay))   # the DSN is signed too
    time.sleep(1)
    assert not any(m.header("Subject") == subject for m in relay_sink.messages)


def test_card_number_under_a_blocking_rule_never_leaves(content_relay, relay_sink):
    subject = f"Card {uuid.uuid4().hex[:8]}"
    code, text = content_relay.submit(acme_message(subject=subject, body=f"Card: {CARD}\n"))
    assert code == 250, text
    message_id = queued_id(text)
    events = audit_events(content_relay, message_id, "rejected")
    assert "dlp_matched" in [e["event"] for e in events]
    dsn = dsn_for(relay_sink, message_id)
    assert b"dlp.cards" in dsn.raw
    assert b"4111" not in dsn.raw                      # names the rule, never the data
    for value in content_relay.raw_records("audit"):
        assert b"4111 1111" not in value and b"4111111111111111" not in value
    assert not any(m.header("Subject") == subject for m in relay_sink.messages)


def test_impersonation_is_quarantined_then_released_by_an_operator(content_relay, relay_sink):
    subject = f"Wire transfer {uuid.uuid4().hex[:8]}"
    message = acme_message(subject=subject)
    del message["From"]
    message["From"] = "Jane Doe <invoices@acme.example>"
    code, text = content_relay.submit(message)
    assert code == 250, text
    message_id = queued_id(text)
    audit_events(content_relay, message_id, "quarantined")

    config = str(content_relay.config_path)
    listing = content_relay.cli("quarantine", "--config", config, "list")
    assert message_id in listing.stdout and "scan.impersonation" in listing.stdout
    shown = content_relay.cli("quarantine", "--config", config, "show", message_id)
    assert f"Subject: {subject}" in shown.stdout and "scan.impersonation" in shown.stdout
    assert not any(m.header("Subject") == subject for m in relay_sink.messages)

    released = content_relay.cli("quarantine", "--config", config, "release", message_id,
                                 "--by", "alice.operator")
    assert released.returncode == 0, released.stderr
    delivered = wait_for_subject(relay_sink, subject)
    assert dkim.verify(delivered.raw, dnsfunc=dns_for(content_relay))
    events = audit_events(content_relay, message_id, "released")
    release = [e for e in events if e["event"] == "released"][0]
    assert release["actor"] == "operator:alice.operator" and release["details"]["by"] == "alice.operator"
    after = content_relay.cli("quarantine", "--config", config, "list")
    assert message_id not in after.stdout


def test_quarantined_message_can_be_deleted_and_is_audited(content_relay, relay_sink):
    subject = f"Delete me {uuid.uuid4().hex[:8]}"
    message = acme_message(subject=subject)
    del message["From"]
    message["From"] = "Jane Doe <invoices@acme.example>"
    code, text = content_relay.submit(message)
    message_id = queued_id(text)
    audit_events(content_relay, message_id, "quarantined")
    config = str(content_relay.config_path)
    deleted = content_relay.cli("quarantine", "--config", config, "delete", message_id, "--by", "bob")
    assert deleted.returncode == 0, deleted.stderr
    events = audit_events(content_relay, message_id, "deleted")
    assert [e for e in events if e["event"] == "deleted"][0]["actor"] == "operator:bob"
    missing = content_relay.cli("quarantine", "--config", config, "release", message_id, check=False)
    assert missing.returncode == 1 and "no message" in missing.stderr
    time.sleep(1)
    assert not any(m.header("Subject") == subject for m in relay_sink.messages)


def test_data_that_requires_encryption_is_never_delivered_in_clear(content_relay, relay_sink):
    # the sink offers no TLS: the message must wait (deferred), not go out in clear
    subject = f"SSN {uuid.uuid4().hex[:8]}"
    code, text = content_relay.submit(acme_message(subject=subject, body="SSN: 536-22-1234\n"))
    assert code == 250, text
    message_id = queued_id(text)
    events = audit_events(content_relay, message_id, "deferred")
    signed = [e for e in events if e["event"] == "signed"][0]
    assert any(r["reason"] == "dlp.ssn-encrypt" and r["details"]["require_encryption"] == "tls"
               for r in signed["results"])
    deferred = [e for e in events if e["event"] == "deferred"][0]
    assert deferred["reply"]["code"] // 100 == 4
    time.sleep(1)
    assert not any(m.header("Subject") == subject for m in relay_sink.messages)
