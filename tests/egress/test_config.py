"""Delivery config: every key of issue 5 point 8 parsed, and mistakes named."""

from __future__ import annotations

import pytest

from postwarden.config.model import ConfigError, parse
from tests.egress.helpers import document


def test_full_delivery_config_parses():
    doc = document(
        tenant={"tls": "mta-sts",
                "retry": {"schedule": ["1m", "5m", "15m", "30m", "1h"], "max_age": "5d"},
                "egress": {"source_addresses": ["127.0.0.2", "::1"], "helo": "mail.acme.example",
                           "apps": {"billing": {"source_addresses": ["127.0.0.3"]}}},
                "smime": {"encrypt": "available", "fallback": "hold"}},
        routes=[{"domains": ["partner.example"], "smarthost": "127.0.0.1:2526",
                 "auth": {"username": "relay", "password": "secret-pw"}, "tls": "verify",
                 "tenants": ["acme"]},
                {"domains": ["bank.example"], "tls": "required"}],
        delivery={"mx_port": 2525, "helo": "relay.example", "connection_reuse": False,
                  "shaping": [{"match": ["*.google.com", "*.googlemail.com"], "connections": 3,
                               "per_minute": 100, "backoff": "2m", "max_backoff": "1h"}]})
    doc["dns"] = {"nameservers": ["127.0.0.1:5353", "[::1]:5353"]}
    config = parse(doc)
    d = config.delivery
    assert d.nameservers == (("127.0.0.1", 5353), ("::1", 5353))
    assert d.mx_port == 2525 and d.helo == "relay.example" and not d.connection_reuse
    route = d.route_for("partner.example", "acme")
    assert route.smarthost == ("127.0.0.1", 2526) and route.tls == "verify"
    assert route.auth.username == "relay" and "secret-pw" not in repr(route)
    assert d.route_for("partner.example", "other") is None          # scoped to tenant acme
    assert d.route_for("bank.example").smarthost is None and d.route_for("bank.example").tls == "required"
    rule = d.shaping_for("alt1.aspmx.google.com")
    assert (rule.connections, rule.per_minute, rule.backoff, rule.max_backoff) == (3, 100, 120, 3600)
    assert d.shaping_for("mx.example.org") is d.default_shaping
    t = config.tenant("acme").delivery
    assert t.tls == "mta-sts" and t.retry_schedule == (60, 300, 900, 1800, 3600)
    assert t.max_age == 5 * 86400
    assert t.egress_for("billing").source_addresses == ("127.0.0.3",)
    assert t.egress_for("billing").helo == "mail.acme.example"
    assert t.egress_for("alerts").source_addresses == ("127.0.0.2", "::1")
    assert (t.smime_encrypt, t.smime_fallback) == ("available", "hold")


def test_mistakes_are_named_with_tenant_and_key():
    doc = document(
        tenant={"tls": "paranoid", "retry": {"schedule": ["soon"], "max_age": "forever"},
                "egress": {"source_addresses": ["not-an-ip"], "colour": "blue"},
                "smime": {"certs": {"alice@example.org": "-----BEGIN CERTIFICATE-----\nxx\n"
                                                         "-----END CERTIFICATE-----\n",
                                    "not-an-address": "x.pem"}}},
        routes=[{"domains": ["*"], "smarthost": "relay:25", "tls": "dane",
                 "auth": {"username": "u", "password": "hunter2"}},
                {"domains": ["*"], "auth": {"username": "u", "password": "p"}}],
        delivery={"mx_port": 0, "shaping": [{"match": ["*"], "connections": 0}]})
    doc["dns"] = {"nameservers": ["127.0.0.1:99999"]}
    with pytest.raises(ConfigError) as caught:
        parse(doc)
    text = str(caught.value)
    for expected in ["tenants[acme].tls", "tenants[acme].retry.schedule", "tenants[acme].retry.max_age",
                     "tenants[acme].egress.source_addresses", "tenants[acme].egress.colour",
                     "tenants[acme].smime.certs.alice@example.org: expected a PEM X.509",
                     "smime.certs.not-an-address", "routes[relay:25].tls",
                     "routes[1].auth", "dns.nameservers", "delivery.mx_port",
                     "delivery.shaping[0].connections"]:
        assert expected in text, expected
    assert "tenant acme" in text
    assert "hunter2" not in text
