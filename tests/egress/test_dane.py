"""DANE (RFC 7672): TLSA trusted only with the AD bit, then enforced."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization

from egress import dane
from egress.engine import DeliveryEngine
from tests.egress.helpers import CONTENT, ConfigHolder, document, message
from tests.fixtures.tls import make_cert, server_context


@pytest.fixture
def mx_cert():
    return make_cert(None, ["mx.example.org"])          # self-signed: DANE-EE needs no CA


def tlsa_text(issued, selector=1, mtype=1):
    der = issued.certificate.public_bytes(serialization.Encoding.DER)
    return f"3 {selector} {mtype} {dane.association(der, selector, mtype).hex()}"


def zone(dns_server, port, tlsa: str | None, *, secure_mx=True, secure_tlsa=True):
    dns_server.add("example.org", "MX", "10 mx.example.org.")
    dns_server.add("mx.example.org", "A", "127.0.0.1")
    if secure_mx:
        dns_server.secure("example.org")
        dns_server.secure("mx.example.org")
    if tlsa:
        name = f"_{port}._tcp.mx.example.org"
        dns_server.add(name, "TLSA", tlsa)
        if secure_tlsa:
            dns_server.secure(name)


async def send(dns_server, port):
    engine = DeliveryEngine(ConfigHolder(document(dns_server, tenant={"tls": "dane"},
                                                  delivery={"mx_port": port})))
    try:
        [outcome] = await engine.deliver(message(["a@example.org"]), CONTENT, ["a@example.org"])
    finally:
        await engine.close()
    return outcome


@pytest.mark.parametrize("selector, mtype", [(1, 1), (0, 1), (1, 2), (0, 0)])
async def test_validated_matching_tlsa_authenticates(selector, mtype, tmp_path, mx_cert, dns_server,
                                                     smtp_server_factory):
    server = smtp_server_factory(tls_context=server_context(*mx_cert.write(tmp_path, "mx")))
    zone(dns_server, server.port, tlsa_text(mx_cert, selector, mtype))
    outcome = await send(dns_server, server.port)
    assert outcome.status == "delivered", outcome
    assert outcome.tls["policy"] == "dane" and outcome.tls["verified"] == "true"
    assert server.messages[0].tls


async def test_validated_mismatching_tlsa_defers(tmp_path, mx_cert, dns_server, smtp_server_factory):
    other = make_cert(None, ["mx.example.org"])
    server = smtp_server_factory(tls_context=server_context(*mx_cert.write(tmp_path, "mx")))
    zone(dns_server, server.port, tlsa_text(other))
    outcome = await send(dns_server, server.port)
    assert outcome.status == "deferred" and outcome.enhanced == "4.7.5"
    assert "TLSA" in outcome.text
    assert not server.messages


async def test_validated_tlsa_forbids_delivery_in_clear(mx_cert, dns_server, smtp_server_factory):
    server = smtp_server_factory()
    zone(dns_server, server.port, tlsa_text(mx_cert))
    outcome = await send(dns_server, server.port)
    assert outcome.status == "deferred" and outcome.enhanced == "4.7.10"
    assert not server.messages


async def test_tlsa_without_ad_bit_is_ignored(tmp_path, mx_cert, dns_server, smtp_server_factory):
    other = make_cert(None, ["mx.example.org"])
    server = smtp_server_factory(tls_context=server_context(*mx_cert.write(tmp_path, "mx")))
    zone(dns_server, server.port, tlsa_text(other), secure_tlsa=False)
    outcome = await send(dns_server, server.port)
    assert outcome.status == "delivered"
    assert outcome.tls["policy"] == "opportunistic" and outcome.tls["verified"] == "false"


async def test_tlsa_ignored_when_mx_answer_is_not_validated(tmp_path, mx_cert, dns_server,
                                                           smtp_server_factory):
    other = make_cert(None, ["mx.example.org"])
    server = smtp_server_factory(tls_context=server_context(*mx_cert.write(tmp_path, "mx")))
    zone(dns_server, server.port, tlsa_text(other), secure_mx=False)
    outcome = await send(dns_server, server.port)
    assert outcome.status == "delivered" and outcome.tls["policy"] == "opportunistic"
    assert ("_%d._tcp.mx.example.org." % server.port, "TLSA") not in dns_server.queries


async def test_tlsa_lookup_failure_on_a_signed_zone_defers(tmp_path, mx_cert, dns_server,
                                                          smtp_server_factory):
    server = smtp_server_factory(tls_context=server_context(*mx_cert.write(tmp_path, "mx")))
    zone(dns_server, server.port, None)
    dns_server.fail(f"_{server.port}._tcp.mx.example.org")
    outcome = await send(dns_server, server.port)
    assert outcome.status == "deferred" and outcome.enhanced == "4.4.3"
    assert not server.sessions
