"""DKIM signing (RFC 6376) with RSA-SHA256 and Ed25519-SHA256 (RFC 8463).

`sign(content, domain=, selector=, private_key=, algorithm=)` returns one
folded ``DKIM-Signature: ...\\r\\n`` header line; `sign_message(content, keys)`
returns the whole message in CRLF with one signature per key prepended (dual
RSA + Ed25519 signing shares one parse and one body hash).

Canonicalisation is the same as dkimpy's (`dkim.canonicalization`, which the
tests compare against byte for byte), rewritten to run over the message once;
the private-key operation is done by `cryptography` (OpenSSL), which is what
makes a signature cost a fraction of a millisecond instead of dkimpy's
pure-Python RSA.

Line ends: the message is signed as it will travel, in CRLF.  `crlf(content)`
turns ``\\n`` and bare ``\\r`` into ``\\r\\n`` exactly as aiosmtplib does on the
way out and makes sure the content ends with a line end; a caller of `sign`
must prepend the header to ``crlf(content)``, not to the original bytes.
`sign_message` does that for you.

Header fields in h=: every present field named in `headers_to_sign`, once per
instance; the fields in `OVERSIGNED` once more than they appear (so a forged
From, Subject, Reply-To ... added later, above or below, breaks the
signature), and the fields in `GUARDED_WHEN_ABSENT` once even when absent (so
one cannot be added at all).  Date and Message-ID are oversigned only when
present, so a relay that adds a missing one does not break the signature.

Parses untrusted input: the raw header block of a submitted message (a
malformed header block raises `MessageFormatError`; the stage turns that into
a verdict).  Holds a secret: the private key object it is handed, never
logged or copied.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import time
from dataclasses import dataclass
from typing import Iterable, Union

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa, utils

PrivateKey = Union[rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey]

RSA_SHA256 = "rsa-sha256"
ED25519_SHA256 = "ed25519-sha256"
ALGORITHMS = (RSA_SHA256, ED25519_SHA256)

#: RFC 6376 section 5.4.1 recommended fields, plus the one-click unsubscribe
#: (RFC 8058, which requires List-Unsubscribe-Post to be signed) and Feedback-ID.
DEFAULT_HEADERS: tuple[bytes, ...] = (
    b"from", b"sender", b"reply-to", b"subject", b"date", b"message-id", b"to", b"cc",
    b"mime-version", b"content-type", b"content-transfer-encoding", b"content-id",
    b"content-description", b"resent-date", b"resent-from", b"resent-sender", b"resent-to",
    b"resent-cc", b"resent-message-id", b"in-reply-to", b"references", b"list-id",
    b"list-help", b"list-unsubscribe", b"list-unsubscribe-post", b"list-subscribe",
    b"list-post", b"list-owner", b"list-archive", b"feedback-id",
)

#: Signed once more than they appear, so another instance cannot be added.
OVERSIGNED: frozenset[bytes] = frozenset({
    b"from", b"sender", b"reply-to", b"subject", b"date", b"message-id", b"to", b"cc",
    b"mime-version", b"content-type", b"content-transfer-encoding", b"in-reply-to",
    b"references", b"list-unsubscribe", b"list-unsubscribe-post", b"feedback-id",
})

#: Signed (as absent) even when the message lacks them: adding one later is
#: exactly the forgery oversigning is for.
#: Date and Message-ID are left out: a relay may add a missing one.
GUARDED_WHEN_ABSENT: frozenset[bytes] = OVERSIGNED - {b"date", b"message-id"}

#: RFC 6376 section 5.4: never sign these (they change in transit).
NEVER_SIGNED: frozenset[bytes] = frozenset({
    b"return-path", b"received", b"comments", b"keywords", b"bcc", b"resent-bcc",
    b"dkim-signature",
})

SIMPLE = b"simple"
RELAXED = b"relaxed"

_LINE_ENDS = re.compile(rb"\r\n|\n|\r(?!\n)")
# a WSP run other than one plain space (replacing " " by " " is wasted work)
_WSP_RUN = re.compile(rb"\t[\t ]*| [\t ]+")
_FIELD_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+")
_B64_LINE = 72            # base64 characters per folded line of b=
_FOLD_AT = 76             # fold the tag list before a line grows past this


class MessageFormatError(ValueError):
    """The header block cannot be parsed as RFC 5322 header fields."""


@dataclass(frozen=True)
class SigningKey:
    """One key to sign with: the d= domain, the s= selector and the key object."""

    domain: str
    selector: str
    private_key: PrivateKey
    algorithm: str

    def __repr__(self) -> str:   # never show the key
        return f"SigningKey(d={self.domain!r}, s={self.selector!r}, a={self.algorithm!r})"


# ---------------------------------------------------------------------------
# Parsing

def crlf(content: bytes) -> bytes:
    """The content with every line end as CRLF and a final CRLF (as sent by SMTP)."""
    if b"\n" in content or b"\r" in content:
        # fast path: content already in CRLF with no stray CR or LF
        if content.count(b"\r\n") != content.count(b"\n") or content.count(b"\r") != content.count(b"\n"):
            content = _LINE_ENDS.sub(b"\r\n", content)
    if content and not content.endswith(b"\r\n"):
        content += b"\r\n"
    return content


@dataclass(frozen=True, eq=False)
class ParsedMessage:
    """A CRLF message split into header fields (name, raw value incl. CRLF) and body."""

    content: bytes
    fields: tuple[tuple[bytes, bytes], ...]
    body: bytes

    @functools.cached_property
    def positions(self) -> dict[bytes, list[int]]:
        """Lower-case field name -> indexes of its instances, top to bottom."""
        positions: dict[bytes, list[int]] = {}
        for index, (name, _) in enumerate(self.fields):
            positions.setdefault(name.lower(), []).append(index)
        return positions

    def count(self, name: bytes) -> int:
        return len(self.positions.get(name.lower(), ()))


def parse(content: bytes) -> ParsedMessage:
    """Split CRLF `content` (see `crlf`) into header fields and body, like dkimpy's rfc822_parse."""
    end = content.find(b"\r\n\r\n")
    if content.startswith(b"\r\n"):
        header_block, body = b"", content[2:]
    elif end < 0:
        header_block, body = content, b""
    else:
        header_block, body = content[:end + 2], content[end + 4:]
    fields: list[list[bytes]] = []
    for line in header_block.split(b"\r\n")[:-1] if header_block else ():
        if line[:1] in (b" ", b"\t"):
            if not fields:
                raise MessageFormatError("the header block starts with a continuation line")
            fields[-1][1] += line + b"\r\n"
            continue
        colon = line.find(b":")
        if colon <= 0 or not _FIELD_NAME.fullmatch(line, 0, colon):
            raise MessageFormatError(f"not a header field: {line[:40]!r}")
        fields.append([line[:colon], line[colon + 1:] + b"\r\n"])
    return ParsedMessage(content, tuple((n, v) for n, v in fields), body)


# ---------------------------------------------------------------------------
# Canonicalisation (RFC 6376 section 3.4), equal to dkimpy's

def canonical_body(body: bytes, algorithm: bytes) -> bytes:
    """The canonical body of a CRLF body under "simple" or "relaxed"."""
    if algorithm == RELAXED:
        if b" \r\n" in body or b"\t" in body:
            # strip WSP before each line end; the text after the last CRLF is not a line
            lines = body.split(b"\r\n")
            body = b"\r\n".join([line.rstrip(b" \t") for line in lines[:-1]] + lines[-1:])
        if b"\t" in body or b"  " in body:
            body = _WSP_RUN.sub(b" ", body)
        stripped = body.rstrip(b"\r\n")
        # keep a final WSP that is not before a line end, as dkimpy does
        return stripped + b"\r\n" if stripped else b""
    stripped = body.rstrip(b"\r\n")
    return stripped + b"\r\n"


def canonical_field(name: bytes, value: bytes, algorithm: bytes) -> bytes:
    """One header field as hashed: ``name:value`` with its CRLF (simple) or relaxed form."""
    if algorithm == RELAXED:
        # bytes.strip() as dkimpy: it also drops a \v or \f at the ends (OpenDKIM does too)
        return (name.lower() + b":"
                + _WSP_RUN.sub(b" ", value.replace(b"\r\n", b"")).strip() + b"\r\n")
    return name + b":" + value


def select_fields(fields: Iterable[tuple[bytes, bytes]],
                  names: Iterable[bytes]) -> list[tuple[bytes, bytes]]:
    """The instances h= names, each repeat taken from the bottom up (RFC 6376 5.4.2)."""
    fields = list(fields)
    chosen = []
    next_below: dict[bytes, int] = {}
    for name in names:
        i = next_below.get(name, len(fields))
        while i > 0:
            i -= 1
            if fields[i][0].lower() == name:
                chosen.append(fields[i])
                break
        next_below[name] = i
    return chosen


def signed_field_names(message: ParsedMessage, headers_to_sign: Iterable[bytes]) -> list[bytes]:
    """The h= list: present fields once per instance, oversigned ones once more."""
    positions = message.positions
    names: list[bytes] = []
    seen = set()
    for name in headers_to_sign:
        name = name.lower()
        if name in seen:
            continue
        seen.add(name)
        if name in NEVER_SIGNED:
            raise ValueError(f"{name.decode()} must not be signed (RFC 6376 5.4)")
        present = len(positions.get(name, ()))
        extra = 1 if name in OVERSIGNED and (present or name in GUARDED_WHEN_ABSENT) else 0
        names.extend([name] * (present + extra))
    if b"from" not in names:
        raise ValueError("From must be signed (RFC 6376 5.4)")
    return names


# ---------------------------------------------------------------------------
# The DKIM-Signature field

def _signature_prefix(key: SigningKey, canon: tuple[bytes, bytes], names: list[bytes],
                      body_hash: bytes, timestamp: int) -> bytes:
    """``DKIM-Signature:`` with every tag and an empty b= (what gets hashed).

    Folded at spaces and before the ':' of h= (FWS is allowed there) so no
    line passes _FOLD_AT columns; bh= and b= each start a line of their own,
    so the header text that was hashed never changes when b= is filled in.
    """
    tokens = [(b" ", b"v=1;"), (b" ", b"a=" + key.algorithm.encode() + b";"),
              (b" ", b"c=" + canon[0] + b"/" + canon[1] + b";"),
              (b" ", b"d=" + key.domain.encode("ascii") + b";"),
              (b" ", b"s=" + key.selector.encode("ascii") + b";"),
              (b" ", b"t=" + str(int(timestamp)).encode() + b";")]
    tokens.append((b" ", b"h=" + names[0]))
    tokens.extend((b"", b":" + name) for name in names[1:])
    tokens[-1] = (tokens[-1][0], tokens[-1][1] + b";")
    line = bytearray(b"DKIM-Signature:")
    column = len(line)
    for separator, token in tokens:
        if column + len(separator) + len(token) > _FOLD_AT:
            line += b"\r\n"
            column = 0
            separator = b" "
        line += separator + token
        column += len(separator) + len(token)
    line += b"\r\n bh=" + base64.b64encode(body_hash) + b";\r\n b="
    return bytes(line)


def signed_header_data(message: ParsedMessage, names: list[bytes], signature_field: bytes,
                       algorithm: bytes) -> bytes:
    """The header hash input: the h= fields canonicalised, then the DKIM-Signature
    field itself (b= empty) canonicalised without its trailing CRLF (RFC 6376 3.7)."""
    # each repeat of a name takes the next instance up (RFC 6376 5.4.2), as select_fields
    remaining = {name: len(indexes) for name, indexes in message.positions.items()}
    data = []
    for name in names:
        left = remaining.get(name, 0)
        if left:
            remaining[name] = left - 1
            field_name, value = message.fields[message.positions[name][left - 1]]
            data.append(canonical_field(field_name, value, algorithm))
    own_name, own_value = signature_field.split(b":", 1)
    data.append(canonical_field(own_name, own_value, algorithm).rstrip(b"\r\n").rstrip())
    return b"".join(data)


def _check_key(key: SigningKey) -> None:
    if key.algorithm == RSA_SHA256:
        if not isinstance(key.private_key, rsa.RSAPrivateKey):
            raise TypeError("rsa-sha256 needs an RSA private key")
    elif key.algorithm == ED25519_SHA256:
        if not isinstance(key.private_key, ed25519.Ed25519PrivateKey):
            raise TypeError("ed25519-sha256 needs an Ed25519 private key")
    else:
        raise ValueError(f"unknown DKIM algorithm {key.algorithm!r}")


def _signature_field(message: ParsedMessage, key: SigningKey, names: list[bytes],
                     canon: tuple[bytes, bytes], body_hash: bytes, timestamp: int) -> bytes:
    prefix = _signature_prefix(key, canon, names, body_hash, timestamp)
    digest = hashlib.sha256(signed_header_data(message, names, prefix, canon[0])).digest()
    if key.algorithm == RSA_SHA256:
        signature = key.private_key.sign(digest, padding.PKCS1v15(),
                                         utils.Prehashed(hashes.SHA256()))
    else:   # RFC 8463: Ed25519 signs the SHA-256 hash of the header data
        signature = key.private_key.sign(digest)
    b64 = base64.b64encode(signature)
    chunks = [b64[i:i + _B64_LINE] for i in range(0, len(b64), _B64_LINE)]
    return prefix + b"\r\n ".join(chunks) + b"\r\n"


def _canon(canonicalization: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    canon = tuple(c.encode() if isinstance(c, str) else c for c in canonicalization)
    if len(canon) != 2 or any(c not in (SIMPLE, RELAXED) for c in canon):
        raise ValueError(f"canonicalization must be two of simple/relaxed, not {canonicalization!r}")
    return canon  # type: ignore[return-value]


def sign(content: bytes, *, domain: str, selector: str, private_key: PrivateKey,
         algorithm: str, headers_to_sign: tuple[bytes, ...] = DEFAULT_HEADERS,
         canonicalization: tuple[bytes, bytes] = (RELAXED, RELAXED),
         timestamp: int | None = None) -> bytes:
    """The folded ``DKIM-Signature: ...\\r\\n`` line for `content`.

    Prepend it to ``crlf(content)`` (what was signed), not to LF-only input.
    Raises MessageFormatError for a header block that is not header fields.
    """
    key = SigningKey(domain, selector, private_key, algorithm)
    _check_key(key)
    canon = _canon(canonicalization)
    message = parse(crlf(content))
    names = signed_field_names(message, headers_to_sign)
    body_hash = hashlib.sha256(canonical_body(message.body, canon[1])).digest()
    return _signature_field(message, key, names, canon, body_hash,
                            int(time.time()) if timestamp is None else timestamp)


def sign_message(content: bytes, keys: Iterable[SigningKey], *,
                 headers_to_sign: tuple[bytes, ...] = DEFAULT_HEADERS,
                 canonicalization: tuple[bytes, bytes] = (RELAXED, RELAXED),
                 timestamp: int | None = None) -> bytes:
    """The whole message in CRLF with one DKIM-Signature per key on top (first key topmost)."""
    keys = list(keys)
    for key in keys:
        _check_key(key)
    canon = _canon(canonicalization)
    message = parse(crlf(content))
    names = signed_field_names(message, headers_to_sign)
    body_hash = hashlib.sha256(canonical_body(message.body, canon[1])).digest()
    when = int(time.time()) if timestamp is None else timestamp
    signatures = [_signature_field(message, key, names, canon, body_hash, when) for key in keys]
    return b"".join(signatures) + message.content


# ---------------------------------------------------------------------------
# Publishing

def dns_txt_record(private_key: PrivateKey) -> bytes:
    """The ``v=DKIM1; k=...; p=...`` TXT value to publish at selector._domainkey.domain."""
    public = private_key.public_key()
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return b"v=DKIM1; k=ed25519; p=" + base64.b64encode(raw)
    if isinstance(public, rsa.RSAPublicKey):
        der = public.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
        return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)
    raise TypeError("an RSA or Ed25519 key")


__all__ = ["DEFAULT_HEADERS", "OVERSIGNED", "GUARDED_WHEN_ABSENT", "NEVER_SIGNED", "RSA_SHA256",
           "ED25519_SHA256", "MessageFormatError", "SigningKey", "ParsedMessage", "crlf", "parse",
           "canonical_body", "canonical_field", "select_fields", "signed_field_names",
           "signed_header_data", "sign",
           "sign_message", "dns_txt_record"]
