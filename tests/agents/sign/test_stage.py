"""agents.sign.stage: which tenant domain signs, dual signing, and the refusals as verdicts."""

from __future__ import annotations

from agents.sign import stage
from postwarden.config import model
from postwarden.config.model import DkimKey, Domain, Tenant
from postwarden.verdicts import Verdict
from tests.agents.sign.helpers import message_from, pem, verify_all


def test_dual_signs_with_every_key_of_the_from_domain(tenant, dns):
    content = message_from(b"Acme <noreply@acme.example>")
    signed, result = stage.sign_message(content, tenant, "acme.example")
    assert result.stage == "sign" and result.verdict is Verdict.PASS and result.reason == "sign.ok"
    assert result.details["d"] == "acme.example"
    assert result.details["s"] == "rsa1,ed1"
    assert result.details["a"] == "rsa-sha256,ed25519-sha256"
    assert signed.endswith(content)
    assert verify_all(signed, dns) == [True, True]


def test_exact_subdomain_with_its_own_key_signs_as_itself(tenant, ed_key, dns):
    dns.publish("ed1", "billing.acme.example", ed_key)
    signed, result = stage.sign_message(message_from(b"billing@billing.acme.example"), tenant,
                                        "billing.acme.example")
    assert result.details == {"d": "billing.acme.example", "s": "ed1", "a": "ed25519-sha256",
                              "from_domain": "billing.acme.example"}
    assert verify_all(signed, dns) == [True]
    assert b"d=billing.acme.example;" in signed


def test_subdomain_without_keys_signs_with_the_nearest_parent_that_has_keys(tenant, dns):
    signed, result = stage.sign_message(message_from(b"alerts@eu.alerts.acme.example"), tenant,
                                        "EU.Alerts.Acme.Example.")
    assert result.verdict is Verdict.PASS
    assert result.details["d"] == "acme.example"
    assert result.details["from_domain"] == "eu.alerts.acme.example"
    assert verify_all(signed, dns) == [True, True]


def test_domain_not_owned_is_rejected(tenant):
    for domain in ("evil.example", "notacme.example", "acme.example.evil.example", "example", ""):
        signed, result = stage.sign_message(message_from(b"x@" + domain.encode()), tenant, domain)
        assert signed is None
        assert (result.verdict, result.reason) == (Verdict.REJECT, "sign.domain_not_owned"), domain


def test_owned_domain_without_key_is_rejected(tenant):
    for domain in ("nokeys.example", "sub.nokeys.example"):
        signed, result = stage.sign_message(message_from(b"x@" + domain.encode()), tenant, domain)
        assert signed is None
        assert (result.verdict, result.reason) == (Verdict.REJECT, "sign.no_key")


def test_lf_only_submission_comes_back_signed_in_crlf(tenant, dns):
    content = message_from(b"noreply@acme.example").replace(b"\r\n", b"\n")
    signed, result = stage.sign_submission(content, tenant)
    assert result.verdict is Verdict.PASS
    assert b"\n" not in signed.replace(b"\r\n", b"")
    assert verify_all(signed, dns) == [True, True]


def test_malformed_header_block_is_a_verdict_not_an_exception(tenant):
    content = b"From: noreply@acme.example\r\nno colon on this line\r\n\r\nbody\r\n"
    signed, result = stage.sign_message(content, tenant, "acme.example")
    assert signed is None and (result.verdict, result.reason) == (Verdict.REJECT, "sign.malformed_header")
    assert stage.sign_submission(content, tenant)[1].reason == "sign.malformed_header"


def test_a_key_that_does_not_load_is_a_tempfail(ed_key):
    broken = Tenant(id="t", name="t", apps=(), domains=(
        Domain("acme.example", (DkimKey("ed1", "ed25519-sha256", b"-----BEGIN PRIVATE KEY-----\nxx\n"),)),))
    signed, result = stage.sign_message(message_from(b"a@acme.example"), broken, "acme.example")
    assert signed is None and (result.verdict, result.reason) == (Verdict.TEMPFAIL, "sign.key_unusable")
    mismatched = Tenant(id="t", name="t", apps=(), domains=(
        Domain("acme.example", (DkimKey("ed1", "rsa-sha256", pem(ed_key)),)),))
    signed, result = stage.sign_message(message_from(b"a@acme.example"), mismatched, "acme.example")
    assert signed is None and (result.verdict, result.reason) == (Verdict.TEMPFAIL, "sign.key_unusable")


def test_loaded_keys_are_cached(tenant, monkeypatch):
    loads = []
    real = DkimKey.private_key
    monkeypatch.setattr(DkimKey, "private_key", lambda self: loads.append(self.selector) or real(self))
    stage._loaded_key.cache_clear()
    for _ in range(5):
        assert stage.sign_message(message_from(b"a@acme.example"), tenant, "acme.example")[0]
    assert sorted(loads) == ["ed1", "rsa1"]


def test_signs_for_a_tenant_built_from_a_config_document(dns, rsa_key, ed_key):
    config = model.parse({"tenants": [{"id": "acme", "domains": [
        {"name": "acme.example", "dkim": [{"selector": "ed1", "key_pem": pem(ed_key).decode()},
                                          {"selector": "rsa1", "key_pem": pem(rsa_key).decode()}]}]}]})
    signed, result = stage.sign_submission(message_from(b"Acme <noreply@acme.example>"),
                                           config.tenant("acme"))
    assert result.details["a"] == "ed25519-sha256,rsa-sha256"
    assert verify_all(signed, dns) == [True, True]
