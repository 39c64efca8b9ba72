"""Keys and a fake DNS for the sign tests: dkimpy's real verifier, served TXT records from a dict."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from postwarden.config.model import DkimKey, Domain, Tenant
from tests.agents.sign.helpers import FakeDns, pem


@pytest.fixture(scope="session")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ed_key():
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture
def dns(rsa_key, ed_key):
    zone = FakeDns()
    zone.publish("rsa1", "acme.example", rsa_key)
    zone.publish("ed1", "acme.example", ed_key)
    return zone


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
