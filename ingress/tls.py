"""TLS for ingress: the server context, and a self-signed pair for local use.

Reads the certificate and private key named in the node's `ingress` settings;
when none are configured it makes a self-signed pair under the state dir (and
the log says so: fine for trying Postwarden out, wrong for production).
Holds a secret: the TLS private key file it writes (mode 0600).
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

log = logging.getLogger("postwarden.ingress")


def self_signed(directory: Path, hostname: str) -> tuple[Path, Path]:
    """A cached self-signed certificate and key for `hostname` (made on first use)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "ingress-selfsigned.crt", directory / "ingress-selfsigned.key"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.timezone.utc)
    alt_names = [x509.DNSName(hostname), x509.DNSName("localhost"),
                 x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
            .sign(key, hashes.SHA256()))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def server_context(cert: str | Path | None, key: str | Path | None, *, state_dir: Path,
                   hostname: str) -> ssl.SSLContext:
    if cert is None or key is None:
        cert, key = self_signed(state_dir / "tls", hostname)
        log.warning("ingress: no cert/key configured, using a self-signed certificate %s "
                    "(for local use only)", cert)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    return context
