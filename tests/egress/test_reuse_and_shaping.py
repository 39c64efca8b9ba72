"""Connection reuse per destination, connection and per-minute limits, backoff after 421."""

from __future__ import annotations

import asyncio
import time

from egress.engine import DeliveryEngine
from tests.egress.helpers import CONTENT, ConfigHolder, document, message


def zone(dns_server, domains=("example.org",), address="127.0.0.1"):
    for domain in domains:
        dns_server.add(domain, "MX", "10 mx.provider.example.")
    dns_server.add("mx.provider.example", "A", address)


async def test_several_messages_to_one_destination_share_a_connection(dns_server, smtp_server_factory):
    server = smtp_server_factory()
    zone(dns_server, ("example.org", "example.net"))
    engine = DeliveryEngine(ConfigHolder(document(dns_server, delivery={"mx_port": server.port})))
    try:
        for rcpt in ["a@example.org", "b@example.org", "c@example.net"]:
            [outcome] = await engine.deliver(message([rcpt]), CONTENT, [rcpt])
            assert outcome.status == "delivered"
    finally:
        await engine.close()
    assert server.connections == 1
    assert len(server.messages) == 3
    assert engine.stats.reused == 2


async def test_reuse_off_opens_a_connection_per_message(dns_server, smtp_server_factory):
    server = smtp_server_factory()
    zone(dns_server)
    engine = DeliveryEngine(ConfigHolder(document(
        dns_server, delivery={"mx_port": server.port, "connection_reuse": False})))
    try:
        for _ in range(3):
            [outcome] = await engine.deliver(message(["a@example.org"]), CONTENT, ["a@example.org"])
            assert outcome.status == "delivered"
    finally:
        await engine.close()
    assert server.connections == 3


async def test_a_dead_idle_connection_is_replaced(dns_server, smtp_server_factory):
    server = smtp_server_factory()
    zone(dns_server)
    engine = DeliveryEngine(ConfigHolder(document(dns_server, delivery={"mx_port": server.port})))
    try:
        await engine.deliver(message(["a@example.org"]), CONTENT, ["a@example.org"])
        # The provider drops idle sessions: close ours from the server side.
        server.stop()
        server.start()
        await asyncio.sleep(0.05)
        [outcome] = await engine.deliver(message(["a@example.org"]), CONTENT, ["a@example.org"])
    finally:
        await engine.close()
    assert outcome.status == "delivered", outcome
    assert len(server.messages) == 2


async def test_connection_limit_per_destination(dns_server, smtp_server_factory):
    def slow(session, verb, arg):
        if verb == "DATA":
            time.sleep(0.05)      # a slow provider (blocks its own loop thread only)
        return None
    server = smtp_server_factory(on_command=slow)
    zone(dns_server)
    engine = DeliveryEngine(ConfigHolder(document(dns_server, delivery={
        "mx_port": server.port, "max_shaping_wait": "10s",
        "shaping": [{"match": ["mx.provider.example"], "connections": 2}]})))
    rcpts = [f"u{i}@example.org" for i in range(8)]
    try:
        results = await asyncio.gather(*(engine.deliver(message([r]), CONTENT, [r]) for r in rcpts))
    finally:
        await engine.close()
    assert all(o.status == "delivered" for [o] in results)
    assert server.max_active <= 2
    assert server.connections <= 2


async def test_per_minute_limit_defers_the_excess(dns_server, smtp_server_factory):
    server = smtp_server_factory()
    zone(dns_server, ("gmail.test", "googlemail.test"))
    engine = DeliveryEngine(ConfigHolder(document(dns_server, delivery={
        "mx_port": server.port, "max_shaping_wait": "0s",
        "shaping": [{"match": ["gmail.test", "googlemail.test"], "per_minute": 3}]})))
    statuses = []
    try:
        for i in range(5):
            domain = "gmail.test" if i % 2 else "googlemail.test"
            [outcome] = await engine.deliver(message([f"u{i}@{domain}"]), CONTENT, [f"u{i}@{domain}"])
            statuses.append((outcome.status, outcome.enhanced))
    finally:
        await engine.close()
    # The two domains are one provider: one budget of 3 a minute.
    assert statuses == [("delivered", "2.0.0")] * 3 + [("deferred", "4.4.5")] * 2
    assert len(server.messages) == 3


async def test_421_backs_off_the_destination(dns_server, smtp_server_factory):
    replies = iter(["421 4.7.28 Our system has detected an unusual rate of mail, slow down"])

    def throttle(session, verb, arg):
        if verb == "MAIL":
            return next(replies, None)
        return None
    server = smtp_server_factory(on_command=throttle)
    zone(dns_server)
    engine = DeliveryEngine(ConfigHolder(document(dns_server, delivery={
        "mx_port": server.port,
        "shaping": [{"match": ["*.provider.example"], "backoff": "1s"}]})))
    try:
        [first] = await engine.deliver(message(["a@example.org"]), CONTENT, ["a@example.org"])
        [second] = await engine.deliver(message(["b@example.org"]), CONTENT, ["b@example.org"])
        connections_during_backoff = server.connections
        await asyncio.sleep(1.1)
        [third] = await engine.deliver(message(["c@example.org"]), CONTENT, ["c@example.org"])
    finally:
        await engine.close()
    assert first.status == "deferred" and first.code == 421 and first.bounce_class == "reputation"
    assert second.status == "deferred" and second.enhanced == "4.4.5"   # not even tried
    assert connections_during_backoff == 1
    assert third.status == "delivered"


async def test_source_address_and_helo_per_tenant_and_app(dns_server, smtp_server_factory):
    server = smtp_server_factory("127.0.0.1")
    zone(dns_server)
    tenant = {"egress": {"source_addresses": ["127.0.0.2"], "helo": "mail.acme.example",
                         "apps": {"alerts": {"source_addresses": ["127.0.0.3"],
                                             "helo": "alerts.acme.example"}}}}
    engine = DeliveryEngine(ConfigHolder(document(dns_server, tenant=tenant,
                                                  delivery={"mx_port": server.port})))
    try:
        [billing] = await engine.deliver(message(["a@example.org"]), CONTENT, ["a@example.org"])
        [alerts] = await engine.deliver(message(["b@example.org"], app_id="alerts"), CONTENT,
                                        ["b@example.org"])
    finally:
        await engine.close()
    assert [(s.peer, s.helo) for s in server.sessions] == [
        ("127.0.0.2", "mail.acme.example"), ("127.0.0.3", "alerts.acme.example")]
    assert (billing.source_address, billing.helo) == ("127.0.0.2", "mail.acme.example")
    assert (alerts.source_address, alerts.helo) == ("127.0.0.3", "alerts.acme.example")


async def test_pool_without_an_address_of_the_family_is_not_used_for_ipv6(dns_server,
                                                                          smtp_server_factory):
    server = smtp_server_factory("::1")
    dns_server.add("example.org", "MX", "10 mx.provider.example.")
    dns_server.add("mx.provider.example", "AAAA", "::1")
    tenant = {"egress": {"source_addresses": ["127.0.0.2"]}}
    engine = DeliveryEngine(ConfigHolder(document(dns_server, tenant=tenant,
                                                  delivery={"mx_port": server.port})))
    try:
        [outcome] = await engine.deliver(message(["a@example.org"]), CONTENT, ["a@example.org"])
    finally:
        await engine.close()
    assert outcome.status == "deferred" and "IP family" in outcome.text
    assert not server.sessions


async def test_ipv6_pool_member_is_used_for_ipv6_servers(dns_server, smtp_server_factory):
    v6 = smtp_server_factory("::1")
    v4 = smtp_server_factory("127.0.0.1", port=v6.port)
    dns_server.add("six.example", "MX", "10 mx6.six.example.")
    dns_server.add("mx6.six.example", "AAAA", "::1")
    dns_server.add("four.example", "MX", "10 mx4.four.example.")
    dns_server.add("mx4.four.example", "A", "127.0.0.1")
    tenant = {"egress": {"source_addresses": ["127.0.0.2", "::1"]}}
    engine = DeliveryEngine(ConfigHolder(document(dns_server, tenant=tenant,
                                                  delivery={"mx_port": v6.port})))
    rcpts = ["a@six.example", "b@four.example"]
    try:
        outcomes = await engine.deliver(message(rcpts), CONTENT, rcpts)
    finally:
        await engine.close()
    assert [(o.status, o.source_address) for o in outcomes] == [
        ("delivered", "::1"), ("delivered", "127.0.0.2")]
    assert v6.sessions[0].peer == "::1" and v4.sessions[0].peer == "127.0.0.2"
