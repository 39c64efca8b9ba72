"""DANE for SMTP (RFC 7672): TLSA records, trusted only when DNSSEC-validated.

`usable_records(lookup)` keeps the TLSA records the engine can enforce, and
only from an answer that carried the AD bit (the resolver validated it); an
unsigned answer is ignored, as the RFC requires.  `matches(cert_der, records)`
checks the server's certificate against DANE-EE(3) records: selector 0 (full
certificate) or 1 (SubjectPublicKeyInfo), matching type 0 (exact), 1 (SHA-256)
or 2 (SHA-512); names and expiry are not checked for DANE-EE (RFC 7672 §3.1.1).
DANE-TA(2) records need the server's chain, which Python 3.11's ssl module does
not expose: with only such records the engine still requires TLS but cannot
authenticate (RFC 7672 §2.2: "unusable" records mean mandatory unauthenticated TLS).

Parses untrusted input: TLSA records and the peer certificate (DER, parsed by
cryptography).  Holds no secrets.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

DANE_TA, DANE_EE = 2, 3


@dataclass(frozen=True)
class Tlsa:
    usage: int
    selector: int
    mtype: int
    data: bytes


def records_of(lookup) -> tuple[Tlsa, ...]:
    return tuple(Tlsa(r.usage, r.selector, r.mtype, bytes(r.cert)) for r in lookup.records)


def usable_records(lookup) -> tuple[Tlsa, ...]:
    """DANE-EE/DANE-TA records from a DNSSEC-validated answer; () when not validated."""
    if not lookup.secure:
        return ()
    return tuple(r for r in records_of(lookup)
                 if r.usage in (DANE_TA, DANE_EE) and r.selector in (0, 1) and r.mtype in (0, 1, 2))


def _selected(cert_der: bytes, selector: int) -> bytes:
    if selector == 0:
        return cert_der
    cert = x509.load_der_x509_certificate(cert_der)
    return cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)


def _digest(data: bytes, mtype: int) -> bytes:
    if mtype == 1:
        return hashlib.sha256(data).digest()
    if mtype == 2:
        return hashlib.sha512(data).digest()
    return data


def association(cert_der: bytes, selector: int = 1, mtype: int = 1) -> bytes:
    """The TLSA association data for a certificate (what a zone publishes)."""
    return _digest(_selected(cert_der, selector), mtype)


def authenticating(records: tuple[Tlsa, ...]) -> tuple[Tlsa, ...]:
    return tuple(r for r in records if r.usage == DANE_EE)


def matches(cert_der: bytes | None, records: tuple[Tlsa, ...]) -> bool:
    if not cert_der:
        return False
    try:
        return any(association(cert_der, r.selector, r.mtype) == r.data
                   for r in authenticating(records))
    except ValueError:
        return False
