"""Known answer: RFC 8463 appendix A, byte for byte (an outside vector, not our own round trip).

The Ed25519 key of A.2 is public, and Ed25519 is deterministic, so our header
hash input plus `cryptography`'s Ed25519 must reproduce the published b=.
The RSA signature of A.3 (private key not used here) must verify against the
published public key over our header hash input.  Both need our relaxed
canonicalisation, field selection (h= with repeats) and b= removal to be
exactly RFC 6376's.
"""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding

from agents.sign import dkim as ours

SIGNED = b"\r\n".join([
    b"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;",
    b" d=football.example.com; i=@football.example.com;",
    b" q=dns/txt; s=brisbane; t=1528637909; h=from : to :",
    b" subject : date : message-id : from : subject : date;",
    b" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;",
    b" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus",
    b" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==",
    b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;",
    b" d=football.example.com; i=@football.example.com;",
    b" q=dns/txt; s=test; t=1528637909; h=from : to : subject :",
    b" date : message-id : from : subject : date;",
    b" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;",
    b" b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3",
    b" DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz",
    b" dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=",
    b"From: Joe SixPack <joe@football.example.com>",
    b"To: Suzie Q <suzie@shopping.example.net>",
    b"Subject: Is dinner ready?",
    b"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)",
    b"Message-ID: <20030712040037.46341.5F8J@football.example.com>",
    b"",
    b"Hi.",
    b"",
    b"We lost the game.  Are you hungry yet?",
    b"",
    b"Joe.",
    b"",
])
ED25519_SEED = base64.b64decode("nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=")
ED25519_PUBLIC = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
RSA_PUBLIC = ("MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/"
              "J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVY"
              "LzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB")


def _signature(index: int) -> tuple[bytes, list[bytes], bytes, bytes]:
    """(field with b= emptied, h= names, published b= bytes, published bh=) of signature `index`."""
    message = ours.parse(SIGNED)
    name, value = [f for f in message.fields if f[0].lower() == b"dkim-signature"][index]
    field = name + b":" + value
    b_value = re.search(rb"[;\s]b=([A-Za-z0-9+/=\s]*)\Z", field).group(1)
    emptied = field[:len(field) - len(b_value)]
    flat = re.sub(rb"\s+", b"", value)
    names = re.search(rb"(?:^|;)h=([^;]*)", flat).group(1).lower().split(b":")
    bh = re.search(rb";bh=([^;]*)", flat).group(1)
    return emptied, names, base64.b64decode(re.sub(rb"\s+", b"", b_value)), bh


def test_body_hash_matches_the_rfc():
    body = ours.parse(SIGNED).body
    for index in (0, 1):
        bh = _signature(index)[3]
        assert base64.b64encode(hashlib.sha256(ours.canonical_body(body, b"relaxed")).digest()) == bh


def test_ed25519_signature_reproduces_the_published_b():
    emptied, names, published, _ = _signature(0)
    key = ed25519.Ed25519PrivateKey.from_private_bytes(ED25519_SEED)
    raw_public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert base64.b64encode(raw_public).decode() == ED25519_PUBLIC
    data = ours.signed_header_data(ours.parse(SIGNED), names, emptied, b"relaxed")
    assert key.sign(hashlib.sha256(data).digest()) == published
    # and our signer, given this key, emits a field in the same format dkimpy accepts
    assert ours.dns_txt_record(key) == b"v=DKIM1; k=ed25519; p=" + ED25519_PUBLIC.encode()


def test_rsa_signature_verifies_over_our_header_hash_input():
    emptied, names, published, _ = _signature(1)
    public = serialization.load_der_public_key(base64.b64decode(RSA_PUBLIC))
    data = ours.signed_header_data(ours.parse(SIGNED), names, emptied, b"relaxed")
    public.verify(published, data, padding.PKCS1v15(), hashes.SHA256())   # raises if not
    # a one-byte change in a signed field must not verify
    tampered = ours.parse(SIGNED.replace(b"Is dinner ready?", b"Is dinner ready!"))
    bad = ours.signed_header_data(tampered, names, emptied, b"relaxed")
    with pytest.raises(InvalidSignature):
        public.verify(published, bad, padding.PKCS1v15(), hashes.SHA256())
