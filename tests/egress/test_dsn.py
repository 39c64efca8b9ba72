"""DSNs: RFC 3464 multipart/report to the envelope sender, headers only, never for a DSN."""

from __future__ import annotations

import email
from email import policy

from egress.dsn import build_dsn, may_send_dsn
from egress.outcome import RecipientOutcome
from tests.egress.helpers import CONTENT, message


def failed(recipient="gone@example.org", text="User unknown\r\nBcc: injected@evil.example"):
    return RecipientOutcome(recipient, "bounced", 550, "5.1.1", text, "mx.example.org",
                            {}, "unknown_user")


def test_failure_dsn_is_a_delivery_status_report():
    original = message(["gone@example.org"])
    raw = build_dsn(original, CONTENT, [failed()], "relay.postwarden.test")
    dsn = email.message_from_bytes(raw, policy=policy.default)
    assert dsn["To"].addresses[0].addr_spec == "invoices@acme.example"
    assert dsn["From"].addresses[0].addr_spec == "MAILER-DAEMON@acme.example"
    assert dsn["Auto-Submitted"] == "auto-replied"
    assert dsn.get_content_type() == "multipart/report"
    assert dsn.get_param("report-type") == "delivery-status"
    parts = list(dsn.iter_parts())
    assert [p.get_content_type() for p in parts] == [
        "text/plain", "message/delivery-status", "text/rfc822-headers"]
    status = parts[1].as_bytes()
    assert b"Reporting-MTA: dns; relay.postwarden.test" in status
    assert b"Final-Recipient: rfc822; gone@example.org" in status
    assert b"Action: failed" in status
    assert b"Status: 5.1.1" in status
    assert b"Remote-MTA: dns; mx.example.org" in status
    assert b"Diagnostic-Code: smtp; 550 5.1.1 User unknown" in status
    # The server's text cannot smuggle a header line into the report.
    assert b"\r\nBcc:" not in raw and b"\nBcc:" not in raw
    headers = parts[2].get_payload()
    assert "Subject: Your invoice" in headers
    # Headers of the original only: the body never travels back.
    assert b"Invoice 42" not in raw


def test_delay_dsn_says_delayed_and_until_when():
    original = message(["slow@example.org"])
    deferred = RecipientOutcome("slow@example.org", "deferred", 451, "4.3.0", "try later",
                                "mx.example.org", {}, None)
    raw = build_dsn(original, CONTENT, [deferred], "relay.test", kind="delay",
                    will_retry_until_ms=original.received_at + 5 * 86400_000)
    assert b"Action: delayed" in raw and b"Will-Retry-Until:" in raw
    assert b"Delayed Mail" in raw


def test_never_a_dsn_for_a_dsn_or_the_null_sender():
    assert may_send_dsn(message(["a@example.org"]))
    assert not may_send_dsn(message(["a@example.org"], is_dsn=True))
    assert not may_send_dsn(message(["a@example.org"], sender=""))


def test_null_sender_dsn_uses_reporting_host():
    original = message(["a@example.org"], sender="someone@acme.example")
    raw = build_dsn(original, b"Subject: x\r\n\r\nbody", [failed()], "relay.test")
    assert b"MAILER-DAEMON@acme.example" in raw
    raw = build_dsn(original, b"Subject: x\r\n\r\nbody", [failed()], "relay.test",
                    from_domain="relay.test")
    assert b"MAILER-DAEMON@relay.test" in raw


def test_expired_temporary_failure_reports_a_permanent_status():
    from egress.outcome import expire
    original = message(["slow@example.org"])
    deferred = RecipientOutcome("slow@example.org", "deferred", 451, "4.4.1",
                                "no answer from the destination mail server", "", {}, None)
    raw = build_dsn(original, CONTENT, [deferred], "relay.test")      # as the worker does today
    assert b"Status: 5.4.7" in raw and b"Action: failed" in raw
    assert b"Diagnostic-Code: smtp; 451 4.4.1 no answer" in raw
    final = expire(deferred)
    assert (final.status, final.code, final.enhanced) == ("bounced", 550, "5.4.7")
    assert "last error: 451 4.4.1" in final.text
