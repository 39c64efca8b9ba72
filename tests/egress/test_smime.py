"""S/MIME: RFC 8551 enveloped data to registered certificates; fallbacks; DKIM still verifies."""

from __future__ import annotations

import email

import dkim as dkimpy
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from agents.sign import dkim as pw_dkim
from egress import smime
from egress.engine import DeliveryEngine
from postwarden.config.delivery import config_directory
from tests.egress.helpers import CONTENT, ConfigHolder, document, message
from tests.fixtures.tls import client_context, make_ca, make_cert, server_context


@pytest.fixture(scope="module")
def ca():
    return make_ca()


@pytest.fixture(scope="module")
def alice():
    return make_cert(make_ca("S/MIME CA"), ["alice@example.org"], key_type="rsa")


@pytest.fixture(scope="module")
def dkim_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def dkim_pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def zone(dns_server):
    dns_server.add("example.org", "MX", "10 mx.example.org.")
    dns_server.add("mx.example.org", "A", "127.0.0.1")


def smime_tenant(alice, dkim_key, **smime_options):
    return {"domains": [{"name": "acme.example",
                         "dkim": {"selector": "s1", "key_pem": dkim_pem(dkim_key)}}],
            "smime": {"certs": {"alice@example.org": alice.cert_pem.decode()}, **smime_options}}


def signed_original(dkim_key) -> bytes:
    """The content as egress gets it: already DKIM-signed by the sign stage."""
    key = pw_dkim.SigningKey("acme.example", "s1", dkim_key, "rsa-sha256")
    return pw_dkim.sign_message(CONTENT, [key])


def dkim_verifies(data: bytes, dkim_key) -> bool:
    record = pw_dkim.dns_txt_record(dkim_key)

    def dnsfunc(name, timeout=5):
        return record if name in (b"s1._domainkey.acme.example.", "s1._domainkey.acme.example.") else None
    return dkimpy.verify(data, dnsfunc=dnsfunc)


def test_encrypt_round_trip_keeps_routing_headers_in_clear(alice):
    encrypted = smime.encrypt(CONTENT, [alice.certificate])
    parsed = email.message_from_bytes(encrypted)
    assert parsed.get_content_type() == "application/pkcs7-mime"
    assert parsed.get_param("smime-type") == "enveloped-data"
    assert parsed["Subject"] == "Your invoice" and parsed["From"]
    assert b"Invoice 42" not in encrypted
    inner = smime.decrypt(encrypted, alice.certificate, alice.key)
    assert inner.startswith(b"Content-Type: text/plain; charset=utf-8\r\n\r\n")
    assert b"Invoice 42: amount due 10 EUR." in inner


async def test_flagged_message_is_encrypted_and_dkim_still_verifies(alice, dkim_key, dns_server,
                                                                   smtp_server_factory):
    server = smtp_server_factory()
    zone(dns_server)
    original = signed_original(dkim_key)
    assert dkim_verifies(original, dkim_key)
    config = ConfigHolder(document(dns_server, tenant=smime_tenant(alice, dkim_key),
                                   delivery={"mx_port": server.port}))
    engine = DeliveryEngine(config)
    try:
        [outcome] = await engine.deliver(message(["alice@example.org"], flags={"encrypt": "required"}),
                                         original, ["alice@example.org"])
    finally:
        await engine.close()
    assert outcome.status == "delivered" and outcome.smime
    received = server.messages[0].data
    assert b"Invoice 42" not in received
    assert b"application/pkcs7-mime" in received
    assert received.count(b"DKIM-Signature:") == 1          # the old one dropped, a new one made
    assert dkim_verifies(received, dkim_key)
    assert b"Invoice 42" in smime.decrypt(received, alice.certificate, alice.key)


async def test_unflagged_message_is_not_encrypted(alice, dkim_key, dns_server, smtp_server_factory):
    server = smtp_server_factory()
    zone(dns_server)
    engine = DeliveryEngine(ConfigHolder(document(dns_server, tenant=smime_tenant(alice, dkim_key),
                                                  delivery={"mx_port": server.port})))
    try:
        [outcome] = await engine.deliver(message(["alice@example.org"]), CONTENT, ["alice@example.org"])
    finally:
        await engine.close()
    assert not outcome.smime and b"Invoice 42" in server.messages[0].data


async def test_without_certificate_fallback_requires_verified_tls(tmp_path, ca, alice, dkim_key,
                                                                 dns_server, smtp_server_factory):
    cert, key = make_cert(ca, ["mx.example.org"]).write(tmp_path, "mx")
    server = smtp_server_factory(tls_context=server_context(cert, key))
    zone(dns_server)
    rcpts = ["alice@example.org", "bob@example.org"]
    engine = DeliveryEngine(ConfigHolder(document(dns_server, tenant=smime_tenant(alice, dkim_key),
                                                  delivery={"mx_port": server.port})),
                            ssl_context_factory=lambda: client_context(ca))
    try:
        outcomes = await engine.deliver(message(rcpts, flags={"encrypt": "required"}), CONTENT, rcpts)
    finally:
        await engine.close()
    assert [(o.status, o.smime, o.tls["policy"], o.tls["verified"]) for o in outcomes] == [
        ("delivered", True, "opportunistic", "false"), ("delivered", False, "verify", "true")]
    by_rcpt = {m.rcpt_tos[0]: m.data for m in server.messages}
    assert b"Invoice 42" not in by_rcpt["alice@example.org"]
    assert b"Invoice 42" in by_rcpt["bob@example.org"]


async def test_without_certificate_and_no_verified_tls_defers(alice, dkim_key, dns_server,
                                                              smtp_server_factory):
    server = smtp_server_factory()          # no STARTTLS: cannot be verified
    zone(dns_server)
    engine = DeliveryEngine(ConfigHolder(document(dns_server, tenant=smime_tenant(alice, dkim_key),
                                                  delivery={"mx_port": server.port})))
    try:
        [outcome] = await engine.deliver(message(["bob@example.org"], flags={"encrypt": "required"}),
                                         CONTENT, ["bob@example.org"])
    finally:
        await engine.close()
    assert outcome.status == "deferred" and outcome.tls["policy"] == "verify"
    assert not server.messages


async def test_hold_fallback_and_tenant_rule_always(alice, dkim_key, dns_server, smtp_server_factory):
    server = smtp_server_factory()
    zone(dns_server)
    tenant = smime_tenant(alice, dkim_key, encrypt="always", fallback="hold")
    rcpts = ["alice@example.org", "bob@example.org"]
    engine = DeliveryEngine(ConfigHolder(document(dns_server, tenant=tenant,
                                                  delivery={"mx_port": server.port})))
    try:
        outcomes = await engine.deliver(message(rcpts), CONTENT, rcpts)
    finally:
        await engine.close()
    assert [(o.status, o.smime) for o in outcomes] == [("delivered", True), ("deferred", False)]
    assert "held" in outcomes[1].text
    assert [m.rcpt_tos for m in server.messages] == [["alice@example.org"]]


def test_certificate_paths_are_read_relative_to_the_config_directory(tmp_path, alice):
    from postwarden.config.model import parse
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "alice.pem").write_bytes(alice.cert_pem)
    doc = document(tenant={"smime": {"certs": {"Alice@Example.org": "certs/alice.pem"}}})
    with config_directory(tmp_path):
        config = parse(doc)
    assert config.tenant("acme").delivery.smime_cert_pem("alice@example.org") == alice.cert_pem
