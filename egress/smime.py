"""S/MIME encryption of the message itself (RFC 8551 enveloped-data).

`encrypt(content, certs)` turns an RFC 5322 message into one whose body is
`application/pkcs7-mime; smime-type=enveloped-data`, readable only with the
private key of one of `certs` (AES-256-CBC content encryption, RSA key
transport, built with cryptography's PKCS7EnvelopeBuilder).  The MIME entity
(Content-* headers and body) is encrypted; the routing headers (From, To,
Subject, Date, Message-ID ...) stay in clear, as RFC 8551 §3.1 does it.
Existing DKIM-Signature fields are dropped: they covered the clear body and
no longer verify; the message must be signed again after encryption.

`decide(message, tenant_delivery, recipients)` says, for one domain's
recipients, who gets encrypted mail (a registered certificate), who gets it
only over verified TLS, who is held, and who gets it plain.  Encryption is
required when the DLP stage set the message flag `encrypt` (to "smime",
"required" or "true") or the tenant's `smime.encrypt` is `always`; with
`available` it is used whenever a certificate is registered.

Reads: recipient certificates from the tenant config (public).  Holds the
clear content while encrypting.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

ENCRYPT_FLAG = "encrypt"                 # set by the DLP stage or a tenant rule
ENCRYPTED_FLAG = "smime"                 # "encrypted": already done earlier in the pipeline
_REQUIRED_VALUES = ("smime", "required", "true", "yes")

_MIME_FIELDS = (b"content-", b"mime-version")


def split_message(content: bytes) -> tuple[list[bytes], bytes]:
    """(header fields, each with its folded continuation lines, in CRLF; body)."""
    text = content.replace(b"\r\n", b"\n")
    head, sep, body = text.partition(b"\n\n")
    if not sep:
        head, body = text, b""
    fields: list[bytes] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        elif line:
            fields.append(line)
    return fields, body.replace(b"\n", b"\r\n")


def _name(field_bytes: bytes) -> bytes:
    return field_bytes.split(b":", 1)[0].strip().lower()


def encrypt(content: bytes, certs: list[x509.Certificate]) -> bytes:
    """The message with its MIME entity encrypted to every certificate in `certs`."""
    if not certs:
        raise ValueError("S/MIME encryption needs at least one recipient certificate")
    fields, body = split_message(content)
    mime = [f for f in fields if _name(f).startswith(b"content-")]
    outer = [f for f in fields if not _name(f).startswith(_MIME_FIELDS)
             and _name(f) != b"dkim-signature"]
    if not any(_name(f) == b"content-type" for f in mime):
        mime.insert(0, b"Content-Type: text/plain; charset=us-ascii")
    inner = b"\r\n".join(mime) + b"\r\n\r\n" + body
    builder = pkcs7.PKCS7EnvelopeBuilder().set_data(inner)
    for cert in certs:
        builder = builder.add_recipient(cert)
    der = builder.encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    encoded = base64.b64encode(der)
    lines = [encoded[i:i + 76] for i in range(0, len(encoded), 76)]
    headers = outer + [
        b"MIME-Version: 1.0",
        b'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"',
        b"Content-Transfer-Encoding: base64",
        b'Content-Disposition: attachment; filename="smime.p7m"',
    ]
    return b"\r\n".join(headers) + b"\r\n\r\n" + b"\r\n".join(lines) + b"\r\n"


def decrypt(content: bytes, cert: x509.Certificate, key) -> bytes:
    """The inner MIME entity of an encrypted message (for tests and tooling)."""
    _, body = split_message(content)
    der = base64.b64decode(b"".join(body.split()))
    return pkcs7.pkcs7_decrypt_der(der, cert, key, [])


def encrypt_message(content: bytes, certs: list[x509.Certificate]) -> bytes:
    return encrypt(content, certs)


@dataclass
class Decision:
    encrypt_to: list[str] = field(default_factory=list)
    certificates: list[x509.Certificate] = field(default_factory=list)
    verified_tls: list[str] = field(default_factory=list)
    hold: list[str] = field(default_factory=list)
    plain: list[str] = field(default_factory=list)


def required(message, tenant_delivery) -> bool:
    flag = str(message.flags.get(ENCRYPT_FLAG, "")).lower()
    return flag in _REQUIRED_VALUES or tenant_delivery.smime_encrypt == "always"


def tls_required(message) -> bool:
    """The DLP stage asked for transport encryption only: verified TLS, never clear."""
    return str(message.flags.get(ENCRYPT_FLAG, "")).lower() == "tls"


def decide(message, tenant_delivery, recipients: list[str]) -> Decision | None:
    """Who gets what; None when S/MIME plays no part for this message."""
    if message.flags.get(ENCRYPTED_FLAG) == "encrypted":
        return None
    must = required(message, tenant_delivery)
    may = must or tenant_delivery.smime_encrypt == "available"
    if not may:
        return None
    decision = Decision()
    for recipient in recipients:
        pem = tenant_delivery.smime_cert_pem(recipient)
        if pem is not None:
            decision.encrypt_to.append(recipient)
            decision.certificates.append(x509.load_pem_x509_certificate(pem))
        elif not must:
            decision.plain.append(recipient)
        elif tenant_delivery.smime_fallback == "hold":
            decision.hold.append(recipient)
        else:
            decision.verified_tls.append(recipient)
    return decision
