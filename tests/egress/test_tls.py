"""TLS policy: opportunistic STARTTLS, required, verified against the MX name, outcome record."""

from __future__ import annotations

import pytest

from egress.engine import DeliveryEngine
from tests.egress.helpers import CONTENT, ConfigHolder, document, message
from tests.fixtures.tls import client_context, make_ca, make_cert, server_context


@pytest.fixture(scope="module")
def ca():
    return make_ca()


def tls_server_context(tmp_path, ca, names):
    cert, key = make_cert(ca, names).write(tmp_path, "mx")
    return server_context(cert, key)


def mx_zone(dns_server, domain="example.org", host="mx.example.org", address="127.0.0.1"):
    dns_server.add(domain, "MX", f"10 {host}.")
    dns_server.add(host, "A", address)


async def deliver(engine, rcpt="a@example.org", **kw):
    try:
        [outcome] = await engine.deliver(message([rcpt], **kw), CONTENT, [rcpt])
    finally:
        await engine.close()
    return outcome


async def test_opportunistic_starttls_when_offered(tmp_path, ca, dns_server, smtp_server_factory):
    server = smtp_server_factory(tls_context=tls_server_context(tmp_path, ca, ["mx.example.org"]))
    mx_zone(dns_server)
    engine = DeliveryEngine(ConfigHolder(document(dns_server, delivery={"mx_port": server.port})))
    outcome = await deliver(engine)
    assert outcome.status == "delivered"
    assert server.messages[0].tls is True
    assert outcome.tls["version"].startswith("TLSv1")
    assert outcome.tls["cipher"]
    assert outcome.tls["policy"] == "opportunistic"
    assert outcome.tls["verified"] == "false"


async def test_opportunistic_without_starttls_delivers_in_clear(dns_server, smtp_server_factory):
    server = smtp_server_factory()
    mx_zone(dns_server)
    engine = DeliveryEngine(ConfigHolder(document(dns_server, delivery={"mx_port": server.port})))
    outcome = await deliver(engine)
    assert outcome.status == "delivered"
    assert server.messages[0].tls is False
    assert outcome.tls == {"version": "none", "cipher": "", "verified": "false",
                           "policy": "opportunistic"}


async def test_required_tls_defers_when_not_offered(dns_server, smtp_server_factory):
    server = smtp_server_factory()
    mx_zone(dns_server)
    engine = DeliveryEngine(ConfigHolder(document(dns_server, tenant={"tls": "required"},
                                                  delivery={"mx_port": server.port})))
    outcome = await deliver(engine)
    assert outcome.status == "deferred"
    assert outcome.enhanced == "4.7.10"
    assert not server.messages
    assert "MAIL" not in server.sessions[0].commands


async def test_required_accepts_self_signed(tmp_path, dns_server, smtp_server_factory):
    server = smtp_server_factory(tls_context=tls_server_context(tmp_path, None, ["mx.example.org"]))
    mx_zone(dns_server)
    engine = DeliveryEngine(ConfigHolder(document(dns_server, tenant={"tls": "required"},
                                                  delivery={"mx_port": server.port})))
    outcome = await deliver(engine)
    assert outcome.status == "delivered"
    assert outcome.tls["policy"] == "required" and outcome.tls["verified"] == "false"
    assert server.messages[0].tls


async def test_verify_accepts_a_certificate_for_the_mx_name(tmp_path, ca, dns_server,
                                                          smtp_server_factory):
    server = smtp_server_factory(tls_context=tls_server_context(tmp_path, ca, ["mx.example.org"]))
    mx_zone(dns_server)
    engine = DeliveryEngine(ConfigHolder(document(dns_server, tenant={"tls": "verify"},
                                                  delivery={"mx_port": server.port})),
                            ssl_context_factory=lambda: client_context(ca))
    outcome = await deliver(engine)
    assert outcome.status == "delivered", outcome
    assert outcome.tls["verified"] == "true" and outcome.tls["policy"] == "verify"


@pytest.mark.parametrize("problem", ["self-signed", "wrong-name"])
async def test_verify_defers_on_untrusted_certificate(problem, tmp_path, ca, dns_server,
                                                     smtp_server_factory):
    names = ["other.example.net"] if problem == "wrong-name" else ["mx.example.org"]
    issuer = None if problem == "self-signed" else ca
    server = smtp_server_factory(tls_context=tls_server_context(tmp_path, issuer, names))
    mx_zone(dns_server)
    engine = DeliveryEngine(ConfigHolder(document(dns_server, tenant={"tls": "verify"},
                                                  delivery={"mx_port": server.port})),
                            ssl_context_factory=lambda: client_context(ca))
    outcome = await deliver(engine)
    assert outcome.status == "deferred"
    assert outcome.enhanced == "4.7.5"
    assert "certificate" in outcome.text
    assert not server.messages


async def test_route_tls_raises_tenant_floor_for_smart_host(tmp_path, ca, smtp_server_factory):
    server = smtp_server_factory(tls_context=tls_server_context(tmp_path, ca, ["127.0.0.1"]),
                                 require_tls=True, auth=("relay-user", "s3cret"))
    config = ConfigHolder(document(routes=[{
        "domains": ["*"], "smarthost": server.address, "tls": "verify",
        "auth": {"username": "relay-user", "password": "s3cret"}}]))
    engine = DeliveryEngine(config, ssl_context_factory=lambda: client_context(ca))
    outcome = await deliver(engine)
    assert outcome.status == "delivered", outcome
    assert outcome.tls["verified"] == "true"
    assert server.sessions[0].auth_user == "relay-user"


async def test_smart_host_wrong_password_defers(tmp_path, ca, smtp_server_factory):
    server = smtp_server_factory(tls_context=tls_server_context(tmp_path, ca, ["127.0.0.1"]),
                                 auth=("relay-user", "s3cret"))
    config = ConfigHolder(document(routes=[{
        "domains": ["*"], "smarthost": server.address,
        "auth": {"username": "relay-user", "password": "wrong"}}]))
    engine = DeliveryEngine(config)
    outcome = await deliver(engine)
    assert outcome.status == "deferred" and outcome.enhanced == "4.7.8"
    assert "wrong" not in outcome.text
    assert not server.messages
