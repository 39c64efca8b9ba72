"""DKIM key files: make one, and print the DNS TXT record that publishes it.

Writes private keys (PEM, PKCS#8, mode 0600): a secret.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa


def generate(path: Path, kind: str = "rsa") -> None:
    key = (rsa.generate_private_key(65537, 2048) if kind == "rsa"
           else ed25519.Ed25519PrivateKey.generate())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def public_record(private_pem: bytes) -> str:
    """The TXT record value (v=DKIM1; k=...; p=...) for a private key."""
    key = serialization.load_pem_private_key(private_pem, password=None)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}"
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"


def dns_record(path: Path, domain: str, selector: str) -> str:
    return f'{selector}._domainkey.{domain}. IN TXT "{public_record(path.read_bytes())}"'
