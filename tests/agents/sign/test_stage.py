"""agents.sign.stage: which tenant domain signs, dual signing, and the refusals as verdicts."""

from __future__ import annotations

import dkim as dkimpy
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from agents.sign import stage
from postwarden.config import model
from postwarden.config.model import DkimKey, Domain, Tenant
from postwarden.verdicts import Verdict
from tests.agents.sign.helpers import pem

BODY = b"\r\nYour code is 123456.\r\n"


def _message(from_value: bytes, extra: bytes = b"") -> bytes:
    return (b"From: " + from_value + b"\r\nTo: bob@example.net\r\nSubject: code\r\n"
            b"Date: Fri, 04 Dec 2026 10:00:00 +0000\r\n" + extra + BODY)


@pytest.fixture
def tenant(rsa_key, ed_key):
    return Tenant(
        id="acme", name="Acme", apps=(),
        domains=(
            Domain("acme.example", (DkimKey("rsa1", "rsa-sha256", pem(rsa_key)),
                                    DkimKey("ed1", "ed25519-sha256", pem(ed_key)))),
            Domain("billing.acme.example", (DkimKey("ed1", "ed25519-sha256", pem(ed_key)),)),
            Domain("nokeys.example"),
        ))


def _verify_all(signed: bytes, dns) -> list[bool]:
    verifier = dkimpy.DKIM(signed)
    return [verifier.verify(idx=i, dnsfunc=dns) for i in range(signed.count(b"DKIM-Signature:"))]


def test_dual_signs_with_every_key_of_the_from_domain(tenant, dns):
    content = _message(b"Acme <noreply@acme.example>")
    signed, result = stage.sign_message(content, tenant, "acme.example")
    assert result.stage == "sign" and result.verdict is Verdict.PASS and result.reason == "sign.ok"
    assert result.details["d"] == "acme.example"
    assert result.details["s"] == "rsa1,ed1"
    assert result.details["a"] == "rsa-sha256,ed25519-sha256"
    assert signed.endswith(content)
    assert _verify_all(signed, dns) == [True, True]


def test_exact_subdomain_with_its_own_key_signs_as_itself(tenant, ed_key, dns):
    dns.publish("ed1", "billing.acme.example", ed_key)
    signed, result = stage.sign_message(_message(b"billing@billing.acme.example"), tenant,
                                        "billing.acme.example")
    assert result.details == {"d": "billing.acme.example", "s": "ed1", "a": "ed25519-sha256",
                              "from_domain": "billing.acme.example"}
    assert _verify_all(signed, dns) == [True]
    assert b"d=billing.acme.example;" in signed


def test_subdomain_without_keys_signs_with_the_nearest_parent_that_has_keys(tenant, dns):
    signed, result = stage.sign_message(_message(b"alerts@eu.alerts.acme.example"), tenant,
                                        "EU.Alerts.Acme.Example.")
    assert result.verdict is Verdict.PASS
    assert result.details["d"] == "acme.example"
    assert result.details["from_domain"] == "eu.alerts.acme.example"
    assert _verify_all(signed, dns) == [True, True]


def test_domain_not_owned_is_rejected(tenant):
    for domain in ("evil.example", "notacme.example", "acme.example.evil.example", "example", ""):
        signed, result = stage.sign_message(_message(b"x@" + domain.encode()), tenant, domain)
        assert signed is None
        assert (result.verdict, result.reason) == (Verdict.REJECT, "sign.domain_not_owned"), domain


def test_owned_domain_without_key_is_rejected(tenant):
    for domain in ("nokeys.example", "sub.nokeys.example"):
        signed, result = stage.sign_message(_message(b"x@" + domain.encode()), tenant, domain)
        assert signed is None
        assert (result.verdict, result.reason) == (Verdict.REJECT, "sign.no_key")


def test_lf_only_submission_comes_back_signed_in_crlf(tenant, dns):
    content = _message(b"noreply@acme.example").replace(b"\r\n", b"\n")
    signed, result = stage.sign_submission(content, tenant)
    assert result.verdict is Verdict.PASS
    assert b"\n" not in signed.replace(b"\r\n", b"")
    assert _verify_all(signed, dns) == [True, True]


def test_malformed_header_block_is_a_verdict_not_an_exception(tenant):
    content = b"From: noreply@acme.example\r\nno colon on this line\r\n\r\nbody\r\n"
    signed, result = stage.sign_message(content, tenant, "acme.example")
    assert signed is None and (result.verdict, result.reason) == (Verdict.REJECT, "sign.malformed_header")
    assert stage.sign_submission(content, tenant)[1].reason == "sign.malformed_header"


def test_a_key_that_does_not_load_is_a_tempfail(ed_key):
    broken = Tenant(id="t", name="t", apps=(), domains=(
        Domain("acme.example", (DkimKey("ed1", "ed25519-sha256", b"-----BEGIN PRIVATE KEY-----\nxx\n"),)),))
    signed, result = stage.sign_message(_message(b"a@acme.example"), broken, "acme.example")
    assert signed is None and (result.verdict, result.reason) == (Verdict.TEMPFAIL, "sign.key_unusable")
    mismatched = Tenant(id="t", name="t", apps=(), domains=(
        Domain("acme.example", (DkimKey("ed1", "rsa-sha256", pem(ed_key)),)),))
    signed, result = stage.sign_message(_message(b"a@acme.example"), mismatched, "acme.example")
    assert signed is None and (result.verdict, result.reason) == (Verdict.TEMPFAIL, "sign.key_unusable")


def test_loaded_keys_are_cached(tenant, monkeypatch):
    loads = []
    real = DkimKey.private_key
    monkeypatch.setattr(DkimKey, "private_key", lambda self: loads.append(self.selector) or real(self))
    stage._loaded_key.cache_clear()
    for _ in range(5):
        assert stage.sign_message(_message(b"a@acme.example"), tenant, "acme.example")[0]
    assert sorted(loads) == ["ed1", "rsa1"]


def test_signs_for_a_tenant_built_from_a_config_document(dns, rsa_key, ed_key):
    config = model.parse({"tenants": [{"id": "acme", "domains": [
        {"name": "acme.example", "dkim": [{"selector": "ed1", "key_pem": pem(ed_key).decode()},
                                          {"selector": "rsa1", "key_pem": pem(rsa_key).decode()}]}]}]})
    signed, result = stage.sign_submission(_message(b"Acme <noreply@acme.example>"),
                                           config.tenant("acme"))
    assert result.details["a"] == "ed25519-sha256,rsa-sha256"
    assert _verify_all(signed, dns) == [True, True]


# -- the header From ---------------------------------------------------------

@pytest.mark.parametrize("from_value, domain", [
    (b"noreply@acme.example", "acme.example"),
    (b"Acme Billing <billing@ACME.example>", "acme.example"),
    (b"\"Doe, John\" <john@acme.example>", "acme.example"),
    (b"=?utf-8?q?Acme_=E2=82=AC_Billing?= <billing@acme.example>", "acme.example"),
    (b"=?utf-8?b?QWNtZSA8Y2VvQGJhbmsuZXhhbXBsZT4=?= <billing@acme.example>", "acme.example"),
    (b"\"ceo@bank.example\" <x@acme.example>", "acme.example"),
    (b"john@acme.example (John at bank.example)", "acme.example"),
    (b"Billing: a@acme.example, b@Acme.Example;", "acme.example"),
    (b"a@acme.example,\r\n b@acme.example", "acme.example"),
    (b"Name\r\n <folded@acme.example>", "acme.example"),
    (b"Name <@route.example:john@acme.example>", "acme.example"),
    (b"j@xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("Zoë <j@bücher.example>".encode(), "xn--bcher-kva.example"),
])
def test_header_from_domain_reads_the_address_not_the_display_name(from_value, domain):
    assert stage.header_from_domain(_message(from_value)) == domain
    assert stage.header_from(_message(from_value)).reason == "sign.ok"


@pytest.mark.parametrize("content, reason", [
    (_message(b"a@acme.example, b@evil.example"), "sign.multiple_from"),
    (_message(b"Group: a@acme.example, b@evil.example;"), "sign.multiple_from"),
    (_message(b"a@acme.example", b"From: b@acme.example\r\n"), "sign.repeated_from_field"),
    (_message(b"a@acme.example", b"from: a@acme.example\r\n"), "sign.repeated_from_field"),
    (b"To: bob@example.net\r\nSubject: none\r\n\r\nbody\r\n", "sign.no_from"),
    (_message(b"undisclosed-senders:;"), "sign.no_from"),
    (_message(b""), "sign.no_from"),
    (_message(b"garbage"), "sign.bad_from"),
    (_message(b"<>"), "sign.bad_from"),
    (_message(b"john@[192.0.2.1]"), "sign.bad_from"),
    (_message(b"John <john@acme.example> trailing junk"), "sign.bad_from"),
    (_message(b"<a@evil.example>@acme.example"), "sign.bad_from"),
    (_message(b"a@acme.example@evil.example"), "sign.bad_from"),
    (_message(b"a@acme..example"), "sign.bad_from"),
    (_message(b"a@acme.example\xff"), "sign.bad_from"),
    (b"From: a@acme.example\r\nbroken line\r\n\r\n", "sign.malformed_header"),
])
def test_header_from_refusals(content, reason, tenant):
    found = stage.header_from(content)
    assert found.domain is None and found.reason == reason
    assert stage.header_from_domain(content) is None
    signed, result = stage.sign_submission(content, tenant)
    assert signed is None and (result.verdict, result.reason) == (Verdict.REJECT, reason)


def test_several_from_addresses_in_one_domain_are_signed(tenant, dns):
    signed, result = stage.sign_submission(_message(b"a@acme.example, B <b@ACME.example>"), tenant)
    assert result.verdict is Verdict.PASS and result.details["d"] == "acme.example"
    assert _verify_all(signed, dns) == [True, True]
