"""Regression: header fields added or changed after signing must not verify (oversigning, no l=)."""

from __future__ import annotations

import dkim as dkimpy
import pytest

from agents.sign import dkim as ours

CONTENT = (b"From: Acme Billing <billing@acme.example>\r\n"
           b"To: bob@example.net\r\n"
           b"Subject: Your invoice\r\n"
           b"Date: Fri, 04 Dec 2026 10:00:00 +0000\r\n"
           b"Message-ID: <inv-1@acme.example>\r\n"
           b"\r\n"
           b"Please pay invoice 42 by Friday.\r\n")


@pytest.fixture(params=["rsa", "ed25519"])
def signed(request, rsa_key, ed_key):
    key = (ours.SigningKey("acme.example", "rsa1", rsa_key, "rsa-sha256") if request.param == "rsa"
           else ours.SigningKey("acme.example", "ed1", ed_key, "ed25519-sha256"))
    return ours.sign_message(CONTENT, [key])


def _add_on_top(signed: bytes, field: bytes) -> bytes:
    """A field added above the original ones (below our DKIM-Signature, as a forwarder would)."""
    return signed.replace(b"From: Acme", field + b"\r\nFrom: Acme", 1)


def _add_at_bottom(signed: bytes, field: bytes) -> bytes:
    return signed.replace(b"\r\n\r\n", b"\r\n" + field + b"\r\n\r\n", 1)


def test_the_untouched_message_verifies(signed, dns):
    assert dkimpy.verify(signed, dnsfunc=dns)


@pytest.mark.parametrize("add", [_add_on_top, _add_at_bottom], ids=["top", "bottom"])
@pytest.mark.parametrize("field", [
    b"From: CEO <ceo@acme.example>",
    b"Subject: URGENT: new bank details",
    b"To: victim@example.net",
    b"Date: Sat, 05 Dec 2026 10:00:00 +0000",
    b"Reply-To: attacker@evil.example",          # absent when signed
    b"Cc: someone@example.net",                  # absent when signed
    b"Sender: attacker@evil.example",            # absent when signed
    b"Content-Type: text/html",                  # absent when signed
    b"List-Unsubscribe: <https://evil.example/u>",  # absent when signed
])
def test_added_signed_fields_break_the_signature(signed, dns, add, field):
    assert not dkimpy.verify(add(signed, field), dnsfunc=dns)


@pytest.mark.parametrize("field", [b"Reply-To: attacker@evil.example", b"Subject: URGENT: new bank details"])
def test_without_oversigning_the_same_forgery_would_verify(rsa_key, dns, field):
    """Control: a signature that names each field only as often as it appears lets the forgery through."""
    header = dkimpy.sign(CONTENT, b"rsa1", b"acme.example", _pkcs1_pem(rsa_key),
                         canonicalize=(b"relaxed", b"relaxed"),
                         include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    assert dkimpy.verify(_add_on_top(header + CONTENT, field), dnsfunc=dns)


def test_fields_we_do_not_sign_may_be_added_in_transit(signed, dns):
    for field in (b"Received: from mx.example.net by mx2.example.net", b"X-Spam-Score: 0.1",
                  b"Authentication-Results: mx.example.net; dkim=pass"):
        assert dkimpy.verify(_add_on_top(signed, field), dnsfunc=dns)


def test_a_relay_may_add_a_missing_message_id(rsa_key, dns):
    content = CONTENT.replace(b"Message-ID: <inv-1@acme.example>\r\n", b"")
    signed = ours.sign_message(content, [ours.SigningKey("acme.example", "rsa1", rsa_key, "rsa-sha256")])
    assert dkimpy.verify(_add_at_bottom(signed, b"Message-ID: <added@relay.example>"), dnsfunc=dns)


def test_changed_signed_field_breaks_the_signature(signed, dns):
    assert not dkimpy.verify(signed.replace(b"invoice", b"lnvoice", 1), dnsfunc=dns)
    assert not dkimpy.verify(signed.replace(b"bob@example.net", b"bob@example.com"), dnsfunc=dns)


def test_appended_body_text_breaks_the_signature(signed, dns):
    """No l= tag: nothing can be appended to the body."""
    from dkim.util import parse_tag_value
    value = signed.split(b"\r\nFrom:")[0].split(b":", 1)[1]
    assert b"l" not in parse_tag_value(value) and b"bh" in parse_tag_value(value)
    assert not dkimpy.verify(signed + b"Actually, pay to IBAN XX00 0000.\r\n", dnsfunc=dns)


def test_stripped_body_breaks_the_signature(signed, dns):
    head, _, _ = signed.partition(b"\r\n\r\n")
    assert not dkimpy.verify(head + b"\r\n\r\n", dnsfunc=dns)


def _pkcs1_pem(private_key) -> bytes:
    from cryptography.hazmat.primitives import serialization
    return private_key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.TraditionalOpenSSL,
                                     serialization.NoEncryption())
