"""Config validation: the whole document is checked, errors name tenant, key and expectation."""

import pytest

from postwarden.config import ConfigError, inline_files, parse
from tests.fixtures.relay import base_document


@pytest.fixture
def document(tmp_path, password_hash):
    return inline_files(base_document(tmp_path, "127.0.0.1:9092", 2526, password_hash), tmp_path)


def problems(document):
    with pytest.raises(ConfigError) as error:
        parse(document)
    return [str(p) for p in error.value.problems]


def test_valid_document_parses(document):
    config = parse(document)
    acme = config.tenant("acme")
    assert [d.name for d in acme.domains] == ["acme.example"]
    assert {k.algorithm for k in acme.domains[0].dkim} == {"rsa-sha256", "ed25519-sha256"}
    app = config.app_by_username("BILLING@acme")
    assert app.tenant_id == "acme"
    assert app.may_send_as("invoices@acme.example")
    assert app.may_send_as("x@billing.acme.example")
    assert not app.may_send_as("ceo@acme.example")
    assert app.may_connect_from("127.0.0.1") and not app.may_connect_from("127.0.0.2")


def test_every_problem_is_reported_with_tenant_and_key(document):
    app = document["tenants"][0]["apps"][0]
    app["allowed_ips"] = ["not-a-network"]
    app["password_hash"] = "plain-text-password"
    document["tenants"][1]["domains"][0]["name"] = "bad domain!"
    document["tenants"][0]["colour"] = "blue"
    found = problems(document)
    assert any("tenant acme" in p and "apps[billing].allowed_ips" in p and "IP networks" in p for p in found)
    assert any("tenant acme" in p and "password_hash" in p and "never a clear password" in p for p in found)
    assert any("tenant globex" in p and "domains" in p and "a domain name" in p for p in found)
    assert any("tenant acme" in p and "colour" in p and "unknown key" in p for p in found)
    # the secret itself never appears in an error
    assert not any("plain-text-password" in p for p in found)


def test_sender_outside_the_tenant_domains_is_refused(document):
    document["tenants"][0]["apps"][0]["allowed_senders"] = ["ceo@globex.example"]
    assert any("outside" in p and "tenant acme" in p for p in problems(document))


def test_domain_owned_by_two_tenants_is_refused(document):
    document["tenants"][1]["domains"].append({"name": "acme.example"})
    assert any("owned by one tenant" in p for p in problems(document))


def test_duplicate_app_username_is_refused(document):
    document["tenants"][1]["apps"][0]["username"] = "billing@acme"
    assert any("unique app usernames" in p for p in problems(document))


def test_unreadable_dkim_key_names_the_file(tmp_path, password_hash):
    raw = base_document(tmp_path, "127.0.0.1:9092", 2526, password_hash)
    raw["tenants"][0]["domains"][0]["dkim"][0]["key"] = "keys/missing.pem"
    with pytest.raises(ConfigError) as error:
        inline_files(raw, tmp_path)
    assert "missing.pem" in str(error.value) and "tenant acme" in str(error.value)


def test_weak_rsa_key_is_refused(document):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    weak = rsa.generate_private_key(65537, 1024).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    document["tenants"][0]["domains"][0]["dkim"][0]["key_pem"] = weak.decode()
    assert any("at least 2048 bits" in p for p in problems(document))


def test_missing_cert_or_key_alone_is_refused(document):
    document["ingress"]["cert"] = "/etc/ssl/cert.pem"
    assert any("cert and key together" in p for p in problems(document))
