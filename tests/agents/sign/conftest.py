"""Keys and a fake DNS for the sign tests: dkimpy's real verifier, served TXT records from a dict."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from agents.sign import dkim as ours


class FakeDns:
    """A TXT zone for dkimpy's `dnsfunc=` parameter (the only thing mocked: there is no internet)."""

    def __init__(self):
        self.records: dict[bytes, bytes] = {}
        self.queries: list[bytes] = []

    def publish(self, selector: str, domain: str, private_key) -> None:
        name = f"{selector}._domainkey.{domain}.".encode()
        self.records[name] = ours.dns_txt_record(private_key)

    def __call__(self, name: bytes, timeout: int = 5) -> bytes | None:
        self.queries.append(name)
        return self.records.get(name)


def pem(private_key) -> bytes:
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())


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
