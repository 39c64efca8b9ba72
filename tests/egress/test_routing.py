"""Routing: smart host, MX preference and fallback, null MX, IPv6, split by domain."""

from __future__ import annotations

from egress.engine import DeliveryEngine
from tests.egress.helpers import CONTENT, ConfigHolder, document, message


async def test_smart_host_route_delivers(smtp_server_factory):
    sink = smtp_server_factory()
    config = ConfigHolder(document(routes=[{"domains": ["*"], "smarthost": sink.address}]))
    engine = DeliveryEngine(config)
    try:
        [outcome] = await engine.deliver(message(["a@example.org"]), CONTENT, ["a@example.org"])
    finally:
        await engine.close()
    assert outcome.status == "delivered", outcome
    assert outcome.code == 250 and outcome.enhanced == "2.0.0"
    assert outcome.host == "127.0.0.1"
    assert sink.messages[0].rcpt_tos == ["a@example.org"]
    assert sink.messages[0].mail_from == "invoices@acme.example"
    assert sink.messages[0].data.rstrip(b"\r\n") == CONTENT.rstrip(b"\r\n")


async def test_mx_preference_order_and_fallback(dns_server, smtp_server_factory):
    good = smtp_server_factory("127.0.0.1", name="mx2.example.org")
    # The preferred MX points at an address where nothing listens on the port.
    dns_server.add("example.org", "MX", "10 mx1.example.org.")
    dns_server.add("example.org", "MX", "20 mx2.example.org.")
    dns_server.add("mx1.example.org", "A", "127.0.0.9")
    dns_server.add("mx2.example.org", "A", "127.0.0.1")
    config = ConfigHolder(document(dns_server, delivery={"mx_port": good.port}))
    engine = DeliveryEngine(config)
    try:
        [outcome] = await engine.deliver(message(["a@example.org"]), CONTENT, ["a@example.org"])
    finally:
        await engine.close()
    assert outcome.status == "delivered", outcome
    assert outcome.host == "mx2.example.org"
    queried = [name for name, rdtype in dns_server.queries if rdtype == "MX"]
    assert queried == ["example.org."]
    assert len(good.messages) == 1


async def test_preferred_mx_is_used_first(dns_server, smtp_server_factory):
    first = smtp_server_factory("127.0.0.1")
    second = smtp_server_factory("127.0.0.2", port=first.port)
    dns_server.add("example.org", "MX", "20 backup.example.org.")
    dns_server.add("example.org", "MX", "5 primary.example.org.")
    dns_server.add("primary.example.org", "A", "127.0.0.1")
    dns_server.add("backup.example.org", "A", "127.0.0.2")
    engine = DeliveryEngine(ConfigHolder(document(dns_server, delivery={"mx_port": first.port})))
    try:
        [outcome] = await engine.deliver(message(["a@example.org"]), CONTENT, ["a@example.org"])
    finally:
        await engine.close()
    assert outcome.host == "primary.example.org"
    assert len(first.messages) == 1 and not second.messages


async def test_null_mx_bounces_without_connecting(dns_server):
    dns_server.add("nomail.example", "MX", "0 .")
    engine = DeliveryEngine(ConfigHolder(document(dns_server)))
    [outcome] = await engine.deliver(message(["a@nomail.example"]), CONTENT, ["a@nomail.example"])
    await engine.close()
    assert outcome.status == "bounced"
    assert (outcome.code, outcome.enhanced) == (556, "5.1.10")
    assert engine.stats.connections == 0


async def test_nonexistent_domain_bounces_and_dns_failure_defers(dns_server):
    dns_server.fail("broken.example")
    engine = DeliveryEngine(ConfigHolder(document(dns_server)))
    outcomes = await engine.deliver(message(["a@missing.example", "b@broken.example"]), CONTENT,
                                    ["a@missing.example", "b@broken.example"])
    await engine.close()
    assert [(o.status, o.enhanced) for o in outcomes] == [("bounced", "5.1.2"), ("deferred", "4.4.3")]


async def test_implicit_mx_and_ipv6(dns_server, smtp_server_factory):
    v6 = smtp_server_factory("::1")
    dns_server.add("six.example", "AAAA", "::1")       # no MX: the domain's own address
    engine = DeliveryEngine(ConfigHolder(document(dns_server, delivery={"mx_port": v6.port})))
    [outcome] = await engine.deliver(message(["a@six.example"]), CONTENT, ["a@six.example"])
    await engine.close()
    assert outcome.status == "delivered", outcome
    assert outcome.remote_address == "::1"
    assert v6.sessions[0].peer == "::1"


async def test_recipients_in_several_domains_are_split_and_tracked(dns_server, smtp_server_factory):
    one = smtp_server_factory("127.0.0.1", rcpt_replies={"gone@one.example": "550 5.1.1 User unknown"})
    two = smtp_server_factory("127.0.0.2", port=one.port, rcpt_default="451 4.3.0 try later")
    dns_server.add("one.example", "MX", "10 mx.one.example.")
    dns_server.add("mx.one.example", "A", "127.0.0.1")
    dns_server.add("two.example", "MX", "10 mx.two.example.")
    dns_server.add("mx.two.example", "A", "127.0.0.2")
    rcpts = ["a@one.example", "gone@one.example", "c@two.example"]
    engine = DeliveryEngine(ConfigHolder(document(dns_server, delivery={"mx_port": one.port})))
    outcomes = await engine.deliver(message(rcpts), CONTENT, rcpts)
    await engine.close()
    assert [(o.recipient, o.status, o.code) for o in outcomes] == [
        ("a@one.example", "delivered", 250),
        ("gone@one.example", "bounced", 550),
        ("c@two.example", "deferred", 451)]
    assert outcomes[1].bounce_class == "unknown_user"
    assert outcomes[1].host == "mx.one.example" and outcomes[2].host == "mx.two.example"
    assert one.messages[0].rcpt_tos == ["a@one.example"]
    assert not two.messages


async def test_next_address_of_the_same_host_is_tried(dns_server, smtp_server_factory):
    server = smtp_server_factory("127.0.0.1")
    dns_server.add("example.org", "MX", "10 mx.example.org.")
    dns_server.add("mx.example.org", "AAAA", "::1")           # nothing listens there on this port
    dns_server.add("mx.example.org", "A", "127.0.0.1")
    engine = DeliveryEngine(ConfigHolder(document(dns_server, delivery={"mx_port": server.port})))
    [outcome] = await engine.deliver(message(["a@example.org"]), CONTENT, ["a@example.org"])
    await engine.close()
    assert outcome.status == "delivered" and outcome.remote_address == "127.0.0.1"


async def test_routes_per_domain_and_per_tenant(dns_server, smtp_server_factory):
    partner = smtp_server_factory("127.0.0.1")
    other_tenants = smtp_server_factory("127.0.0.2")
    mx = smtp_server_factory("127.0.0.3")
    dns_server.add("example.org", "MX", "10 mx.example.org.")
    dns_server.add("mx.example.org", "A", "127.0.0.3")
    routes = [{"domains": ["*.partner.example", "partner.example"], "smarthost": partner.address},
              {"domains": ["*"], "smarthost": other_tenants.address, "tenants": ["globex"]}]
    engine = DeliveryEngine(ConfigHolder(document(dns_server, routes=routes,
                                                  delivery={"mx_port": mx.port})))
    rcpts = ["a@partner.example", "b@eu.partner.example", "c@example.org"]
    outcomes = await engine.deliver(message(rcpts), CONTENT, rcpts)
    await engine.close()
    assert [o.status for o in outcomes] == ["delivered"] * 3
    assert sorted(r for m in partner.messages for r in m.rcpt_tos) == rcpts[:2]
    assert [m.rcpt_tos for m in mx.messages] == [["c@example.org"]]   # globex's route not for acme
    assert not other_tenants.sessions


async def test_dsn_is_sent_with_the_null_sender(smtp_server_factory):
    sink = smtp_server_factory()
    engine = DeliveryEngine(ConfigHolder(document(routes=[{"domains": ["*"], "smarthost": sink.address}])))
    [outcome] = await engine.deliver(message(["a@example.org"], sender="", is_dsn=True), CONTENT,
                                     ["a@example.org"])
    await engine.close()
    assert outcome.status == "delivered"
    assert sink.messages[0].mail_from == ""


async def test_config_changes_apply_to_the_next_delivery(dns_server, smtp_server_factory):
    first = smtp_server_factory("127.0.0.1")
    second = smtp_server_factory("127.0.0.2")
    config = ConfigHolder(document(dns_server, routes=[{"domains": ["*"], "smarthost": first.address}]))
    engine = DeliveryEngine(config)
    await engine.deliver(message(["a@example.org"]), CONTENT, ["a@example.org"])
    config.update(routes=[{"domains": ["*"], "smarthost": second.address}])
    await engine.deliver(message(["b@example.org"]), CONTENT, ["b@example.org"])
    await engine.close()
    assert [m.rcpt_tos for m in first.messages] == [["a@example.org"]]
    assert [m.rcpt_tos for m in second.messages] == [["b@example.org"]]
