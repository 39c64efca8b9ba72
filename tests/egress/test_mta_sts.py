"""MTA-STS (RFC 8461): TXT discovery, policy over HTTPS on loopback, cache, enforce/testing."""

from __future__ import annotations

import pytest

from egress.engine import DeliveryEngine
from egress.mta_sts import MtaSts, Policy, parse_policy, parse_txt, PolicyError
from tests.egress.helpers import CONTENT, ConfigHolder, document, message
from tests.egress.policy_server import PolicyServer
from tests.fixtures.tls import client_context, make_ca, make_cert, server_context

ENFORCE = "version: STSv1\nmode: enforce\nmx: *.example.org\nmax_age: 86400\n"


@pytest.fixture(scope="module")
def ca():
    return make_ca()


def context_for(tmp_path, ca, names, name="srv"):
    cert, key = make_cert(ca, names).write(tmp_path, name)
    return server_context(cert, key)


@pytest.fixture
def policy_server(tmp_path, ca):
    server = PolicyServer(context_for(tmp_path, ca, ["mta-sts.example.org"], "sts"), ENFORCE).start()
    yield server
    server.stop()


def zone(dns_server, mx_host="mx.example.org", policy_id="20261204"):
    dns_server.add("example.org", "MX", f"10 {mx_host}.")
    dns_server.add(mx_host, "A", "127.0.0.1")
    dns_server.add("mta-sts.example.org", "A", "127.0.0.1")
    dns_server.add("_mta-sts.example.org", "TXT", f'"v=STSv1; id={policy_id};"')


def engine_for(dns_server, smtp_port, policy_port, ca, tls="mta-sts"):
    config = ConfigHolder(document(dns_server, tenant={"tls": tls}, delivery={"mx_port": smtp_port}))
    return DeliveryEngine(config, ssl_context_factory=lambda: client_context(ca),
                          mta_sts_port=policy_port)


async def send(engine, rcpt="a@example.org"):
    [outcome] = await engine.deliver(message([rcpt]), CONTENT, [rcpt])
    return outcome


async def test_enforce_delivers_over_verified_tls(tmp_path, ca, dns_server, smtp_server_factory,
                                                  policy_server):
    mx = smtp_server_factory(tls_context=context_for(tmp_path, ca, ["mx.example.org"]))
    zone(dns_server)
    engine = engine_for(dns_server, mx.port, policy_server.port, ca)
    try:
        outcome = await send(engine)
    finally:
        await engine.close()
    assert outcome.status == "delivered", outcome
    assert outcome.tls["policy"] == "mta-sts" and outcome.tls["verified"] == "true"
    assert policy_server.requests == ["GET /.well-known/mta-sts.txt HTTP/1.1 host=mta-sts.example.org"]


async def test_enforce_refuses_mx_outside_the_policy(tmp_path, ca, dns_server, smtp_server_factory,
                                                     policy_server):
    mx = smtp_server_factory(tls_context=context_for(tmp_path, ca, ["mx.attacker.example"]))
    zone(dns_server, mx_host="mx.attacker.example")
    engine = engine_for(dns_server, mx.port, policy_server.port, ca)
    try:
        outcome = await send(engine)
    finally:
        await engine.close()
    assert outcome.status == "deferred" and outcome.enhanced == "4.7.5"
    assert "MTA-STS" in outcome.text
    assert not mx.sessions


async def test_enforce_refuses_an_untrusted_certificate(tmp_path, ca, dns_server,
                                                        smtp_server_factory, policy_server):
    mx = smtp_server_factory(tls_context=context_for(tmp_path, None, ["mx.example.org"]))
    zone(dns_server)
    engine = engine_for(dns_server, mx.port, policy_server.port, ca)
    try:
        outcome = await send(engine)
    finally:
        await engine.close()
    assert outcome.status == "deferred" and outcome.enhanced == "4.7.5"
    assert not mx.messages


async def test_enforce_refuses_delivery_in_clear(dns_server, smtp_server_factory, policy_server, ca):
    mx = smtp_server_factory()
    zone(dns_server)
    engine = engine_for(dns_server, mx.port, policy_server.port, ca)
    try:
        outcome = await send(engine)
    finally:
        await engine.close()
    assert outcome.status == "deferred" and not mx.messages


async def test_testing_mode_only_reports(tmp_path, ca, dns_server, smtp_server_factory, policy_server):
    policy_server.policy = ENFORCE.replace("enforce", "testing")
    mx = smtp_server_factory(tls_context=context_for(tmp_path, None, ["mx.elsewhere.example"]))
    zone(dns_server, mx_host="mx.elsewhere.example")
    engine = engine_for(dns_server, mx.port, policy_server.port, ca)
    try:
        outcome = await send(engine)
    finally:
        await engine.close()
    assert outcome.status == "delivered"
    assert outcome.tls["policy"] == "mta-sts-testing"


async def test_policy_is_cached_and_survives_txt_removal(tmp_path, ca, dns_server,
                                                         smtp_server_factory, policy_server):
    mx = smtp_server_factory(tls_context=context_for(tmp_path, ca, ["mx.example.org"]))
    zone(dns_server)
    engine = engine_for(dns_server, mx.port, policy_server.port, ca)
    try:
        assert (await send(engine)).status == "delivered"
        assert (await send(engine)).status == "delivered"
        assert len(policy_server.requests) == 1            # same id: from the cache
        # An attacker strips the TXT record and points MX elsewhere: the cached policy holds.
        dns_server.remove("_mta-sts.example.org")
        dns_server.remove("example.org", "MX")
        dns_server.add("example.org", "MX", "10 mx.attacker.example.")
        dns_server.add("mx.attacker.example", "A", "127.0.0.1")
        outcome = await send(engine)
        assert outcome.status == "deferred" and "MTA-STS" in outcome.text
        # A new id makes the relay fetch again.
        dns_server.add("_mta-sts.example.org", "TXT", '"v=STSv1; id=20261205;"')
        policy_server.policy = ENFORCE.replace("*.example.org", "mx.attacker.example")
        outcome = await send(engine, "b@example.org")
        assert len(policy_server.requests) == 2
    finally:
        await engine.close()
    # The new policy allows the new MX, whose certificate is not for its name: refused on TLS.
    assert outcome.status == "deferred" and "certificate" in outcome.text


async def test_policy_over_untrusted_https_is_ignored(tmp_path, ca, dns_server, smtp_server_factory):
    server = PolicyServer(context_for(tmp_path, None, ["mta-sts.example.org"], "bad"), ENFORCE).start()
    mx = smtp_server_factory()          # no TLS at all: would fail under an enforced policy
    zone(dns_server)
    engine = engine_for(dns_server, mx.port, server.port, ca)
    try:
        outcome = await send(engine)
    finally:
        await engine.close()
        server.stop()
    assert outcome.status == "delivered" and outcome.tls["policy"] == "opportunistic"


async def test_injected_fetcher_and_max_age_expiry(dns_server):
    zone(dns_server)
    now = [1000.0]
    calls = []

    async def fetch(domain):
        calls.append(domain)
        return ENFORCE.replace("86400", "60")
    from egress.mx import Dns, make_resolver
    sts = MtaSts(Dns(make_resolver(((dns_server.host, dns_server.port),))), fetch,
                 clock=lambda: now[0])
    policy, note = await sts.policy_for("example.org")
    assert note == "fetched" and policy.mode == "enforce" and policy.max_age == 60
    now[0] += 30
    assert (await sts.policy_for("example.org"))[1] == "cached"
    now[0] += 31
    assert (await sts.policy_for("example.org"))[1] == "fetched"
    assert calls == ["example.org", "example.org"]


def test_policy_and_txt_parsing():
    policy = parse_policy(ENFORCE)
    assert policy.allows("mx.example.org") and policy.allows("MX.Example.Org.")
    assert not policy.allows("a.b.example.org") and not policy.allows("example.org")
    assert parse_txt(["v=STSv1; id=abc123;"]) == "abc123"
    assert parse_txt(["v=STSv1; id=a", "v=STSv1; id=b"]) is None     # two records: none
    assert parse_txt(["v=spf1 -all"]) is None
    for bad in ["version: STSv2\nmode: enforce\nmx: a\nmax_age: 1",
                "version: STSv1\nmode: strict\nmx: a\nmax_age: 1",
                "version: STSv1\nmode: enforce\nmax_age: 1",
                "version: STSv1\nmode: enforce\nmx: a\nmax_age: 99999999999"]:
        with pytest.raises(PolicyError):
            parse_policy(bad)
    assert isinstance(policy, Policy)


async def test_dane_tenant_falls_back_to_mta_sts_without_tlsa(tmp_path, ca, dns_server,
                                                             smtp_server_factory, policy_server):
    mx = smtp_server_factory(tls_context=context_for(tmp_path, ca, ["mx.example.org"]))
    zone(dns_server)
    engine = engine_for(dns_server, mx.port, policy_server.port, ca, tls="dane")
    try:
        outcome = await send(engine)
    finally:
        await engine.close()
    assert outcome.status == "delivered" and outcome.tls["policy"] == "mta-sts"
    assert outcome.tls["verified"] == "true"
