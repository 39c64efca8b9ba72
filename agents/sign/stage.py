"""The sign stage's pure core: pick the tenant's DKIM keys for the header From and sign.

`sign_submission(content, tenant)` is what the agent calls: it reads the header
From (`header_from`), picks the signing domain and signs with every key of it
(`sign_message`), and returns ``(signed content in CRLF, StageResult)`` or
``(None, StageResult)`` with a REJECT/TEMPFAIL verdict and a ``sign.*`` reason.
No Kafka here.

Which domain signs (d=), given the header From domain F:
  * the tenant owns F if F is one of its domains or a subdomain of one
    (the same rule config uses for ``*.domain`` sender grants);
  * of the owned domains that are F or a parent of F and have DKIM keys, the
    closest to F signs: F itself when it has keys, else the nearest parent.
    A parent d= passes DMARC under relaxed alignment (adkim=r, the default);
    a domain that publishes adkim=s needs keys of its own.
  * owned but no such domain has a key: REJECT ``sign.no_key``;
    not owned: REJECT ``sign.domain_not_owned``.
Every key of the signing domain signs (RSA and Ed25519 dual-signing when both
are configured); signatures are stacked in the configured key order.

Parses untrusted input: the From header field of a submitted message (RFC 2047
display names, groups, comments, obsolete routes) through the stdlib's RFC 5322
address parser, refusing anything it flags as invalid.  Holds secrets: the
tenant's DKIM private keys, loaded from PEM once per key and cached in memory.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from email.errors import InvalidHeaderDefect
from email.policy import default as _default_policy

from agents.sign import dkim
from postwarden.config.model import DkimKey, Domain, Tenant
from postwarden.verdicts import StageResult, Verdict

STAGE = "sign"

# reason codes, one place
OK = "sign.ok"
DOMAIN_NOT_OWNED = "sign.domain_not_owned"
NO_KEY = "sign.no_key"
NO_FROM = "sign.no_from"                        # no From field, or one with no address
BAD_FROM = "sign.bad_from"                      # From the RFC 5322 parser calls invalid
REPEATED_FROM_FIELD = "sign.repeated_from_field"  # more than one From field
MULTIPLE_FROM = "sign.multiple_from"            # several From addresses in different domains
MALFORMED_HEADER = "sign.malformed_header"      # header block that is not header fields
KEY_UNUSABLE = "sign.key_unusable"              # a configured key that does not load


@dataclass(frozen=True)
class HeaderFrom:
    """The header From domain, or the reason there is none to sign for."""

    domain: str | None
    reason: str = OK


def _normalise_domain(domain: str) -> str | None:
    domain = domain.strip().rstrip(".").lower()
    if not domain or domain.startswith("[") or ".." in domain:
        return None                      # a domain literal cannot be signed for
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    return ascii_domain


def header_from(content: bytes) -> HeaderFrom:
    """Read the header From domain of a message, refusing ambiguous or malformed ones."""
    try:
        message = dkim.parse(dkim.crlf(content))
    except dkim.MessageFormatError:
        return HeaderFrom(None, MALFORMED_HEADER)
    values = [value for name, value in message.fields if name.lower() == b"from"]
    if not values:
        return HeaderFrom(None, NO_FROM)
    if len(values) > 1:
        return HeaderFrom(None, REPEATED_FROM_FIELD)
    text = values[0].replace(b"\r\n", b"").decode("utf-8", errors="replace").strip()
    try:
        field = _default_policy.header_factory("From", text)
        addresses = field.addresses
    except Exception:                    # the stdlib parser on hostile input
        return HeaderFrom(None, BAD_FROM)
    if any(isinstance(defect, InvalidHeaderDefect) for defect in field.defects):
        return HeaderFrom(None, BAD_FROM)
    if not addresses:
        return HeaderFrom(None, NO_FROM)
    domains = set()
    raw = text.lower()
    for address in addresses:
        if not address.username or not address.domain:
            return HeaderFrom(None, BAD_FROM)
        # the parser decodes RFC 2047 words and drops CFWS even inside a domain
        # ("a@=?utf-8?q?x.example?=", "a @ x . example"): receivers see those
        # differently, so only a domain written literally after its "@" counts
        if "@" + address.domain.lower() not in raw:
            return HeaderFrom(None, BAD_FROM)
        domain = _normalise_domain(address.domain)
        if domain is None:
            return HeaderFrom(None, BAD_FROM)
        domains.add(domain)
    if len(domains) > 1:
        return HeaderFrom(None, MULTIPLE_FROM)
    return HeaderFrom(domains.pop())


def header_from_domain(content: bytes) -> str | None:
    """The header From domain (lower-case, A-labels), or None; `header_from` says why."""
    return header_from(content).domain


def signing_domain(tenant: Tenant, from_domain: str) -> tuple[Domain | None, str]:
    """The tenant domain whose keys sign mail from `from_domain`, or None and the reason."""
    from_domain = _normalise_domain(from_domain) or ""
    owned = [d for d in tenant.domains
             if from_domain == d.name or from_domain.endswith("." + d.name)]
    if not owned:
        return None, DOMAIN_NOT_OWNED
    with_keys = [d for d in owned if d.dkim]
    if not with_keys:
        return None, NO_KEY
    return max(with_keys, key=lambda d: len(d.name)), OK


@functools.lru_cache(maxsize=4096)
def _loaded_key(key: DkimKey) -> dkim.PrivateKey:
    """The key object for a configured key, parsed from PEM once."""
    return key.private_key()


def signing_keys(domain: Domain) -> list[dkim.SigningKey]:
    """Every configured key of `domain` as loaded signing keys (raises on an unusable key)."""
    return [dkim.SigningKey(domain.name, key.selector, _loaded_key(key), key.algorithm)
            for key in domain.dkim]


def _result(verdict: Verdict, reason: str, **details: str) -> StageResult:
    return StageResult(stage=STAGE, verdict=verdict, reason=reason, details=details)


def sign_message(content: bytes, tenant: Tenant, header_from_domain: str, *,
                 timestamp: int | None = None) -> tuple[bytes | None, StageResult]:
    """Sign `content` with every key of the tenant domain that `header_from_domain` aligns to.

    Returns the signed message in CRLF (signatures on top) and a PASS result with
    details d/s/a (s and a comma-joined when dual-signed), or None and a REJECT
    (not owned, no key, malformed header block) or TEMPFAIL (a key that does not
    load: an operator must fix the config; the message can be retried).
    """
    from_domain = _normalise_domain(header_from_domain or "") or ""
    domain, reason = signing_domain(tenant, from_domain)
    if domain is None:
        return None, _result(Verdict.REJECT, reason, from_domain=from_domain)
    try:
        keys = signing_keys(domain)
    except (ValueError, TypeError):
        return None, _result(Verdict.TEMPFAIL, KEY_UNUSABLE, d=domain.name)
    try:
        signed = dkim.sign_message(
            content, keys, timestamp=int(time.time()) if timestamp is None else timestamp)
    except dkim.MessageFormatError:
        return None, _result(Verdict.REJECT, MALFORMED_HEADER, d=domain.name)
    except (TypeError, ValueError):      # key object not of its configured algorithm
        return None, _result(Verdict.TEMPFAIL, KEY_UNUSABLE, d=domain.name)
    return signed, _result(Verdict.PASS, OK, d=domain.name,
                           s=",".join(k.selector for k in keys),
                           a=",".join(k.algorithm for k in keys),
                           from_domain=from_domain)


def sign_submission(content: bytes, tenant: Tenant, *,
                    timestamp: int | None = None) -> tuple[bytes | None, StageResult]:
    """Read the header From of `content`, then `sign_message`; what the sign agent calls."""
    found = header_from(content)
    if found.domain is None:
        return None, _result(Verdict.REJECT, found.reason)
    return sign_message(content, tenant, found.domain, timestamp=timestamp)


__all__ = ["HeaderFrom", "header_from", "header_from_domain", "signing_domain", "signing_keys",
           "sign_message", "sign_submission", "STAGE", "OK", "DOMAIN_NOT_OWNED", "NO_KEY",
           "NO_FROM", "BAD_FROM", "REPEATED_FROM_FIELD", "MULTIPLE_FROM", "MALFORMED_HEADER",
           "KEY_UNUSABLE"]
