"""Impersonation checks that need no network: who the message claims to be from.

`check(content, tenant) -> list[Finding]` reads the header From, Sender and
Reply-To and the links in the body, and reports:

- `display_name`: a display name claiming a protected name (the tenant's
  organisation name or a name under `protect.names`) on an address that may
  not use it (the listed addresses, or else any address in the tenant's
  domains);
- `display_name_address`: a display name that contains an email address other
  than the real one (`"ceo@acme.example" <x@elsewhere.example>`);
- `lookalike_domain`: a domain in those headers or in a link that is not the
  tenant's but looks like one of its domains (UTS #39 confusable skeleton,
  punycode, edit distance, the domain spelled with hyphens or used as the
  left part of another domain);
- `reply_to`: a Reply-To outside the tenant's domains, when the tenant sets
  `forbid_external_reply_to`;
- `link_mismatch`: an HTML link whose visible text shows one domain while its
  href goes to another (links into the tenant's domains or its
  `trusted_link_domains`, such as a click-tracking host, are not disguises).

Reads: untrusted message content (headers, RFC 2047 words, HTML).  Pure and
bounded (part sizes and link counts are capped); never raises on malformed
mail.  A finding's detail names domains and protected names only, never
message text.
"""

from __future__ import annotations

import email
import email.policy
import re
import unicodedata
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message as EmailMessage
from email.utils import getaddresses
from html.parser import HTMLParser
from typing import Iterable
from urllib.parse import urlsplit

from agents.scan.confusables import decode_domain, domain_skeleton, edit_distance, fold
from postwarden.config.content import ProtectedName

MAX_PART_BYTES = 2 * 1024 * 1024
MAX_TOTAL_BYTES = 8 * 1024 * 1024
MAX_LINKS = 2000
MAX_PARTS = 200

_ADDRESS_IN_TEXT = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_URL_IN_TEXT = re.compile(r"\bhttps?://([^\s/:?#\"'<>\\]+)", re.IGNORECASE)
_SHOWN_DOMAIN = re.compile(
    r"^\s*(?:(?:https?://)?(?:[^\s/@:]+@)?((?:[\w-]+\.)+[^\W\d_]{2,63})\.?(?::\d+)?(?:[/?#]\S*)?)\s*$",
    re.IGNORECASE | re.UNICODE)
_FILE_SUFFIXES = {"pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "zip", "png", "jpg", "jpeg",
                  "gif", "htm", "html", "txt", "csv", "exe", "xml", "json", "eml", "ics", "php",
                  "asp", "aspx"}


@dataclass(frozen=True)
class Finding:
    kind: str          # one of postwarden.config.content.IMPERSONATION_KINDS
    detail: str        # for the audit trail: domains and protected names, no message text

    @property
    def reason(self) -> str:
        return f"scan.impersonation.{self.kind}"


# -- helpers ----------------------------------------------------------------
def _decode_words(text: str) -> str:
    try:
        return str(make_header(decode_header(text)))
    except (UnicodeError, LookupError, ValueError, email.errors.HeaderParseError):
        return text


def _unescape(value: str) -> str:
    """A raw header value as text: 8-bit bytes (RFC 6532 UTF-8 headers) decoded, bad ones replaced."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _addresses(message: EmailMessage, header: str) -> list[tuple[str, str]]:
    """(decoded display name, lower-case address) for every address in `header`."""
    wanted = header.lower()
    values = [_unescape(v) for k, v in message.raw_items() if k.lower() == wanted and isinstance(v, str)]
    try:
        pairs = getaddresses(values)
    except (ValueError, TypeError, IndexError):
        return []
    return [(_decode_words(name).strip(), address.strip().lower()) for name, address in pairs
            if address or name]


def _domain_of(address: str) -> str:
    return decode_domain(address.rpartition("@")[2]) if "@" in address else ""


def _words(text: str) -> list[str]:
    """Folded alphanumeric words: confusables, case, width and accents removed."""
    folded = "".join(ch for ch in unicodedata.normalize("NFD", fold(text))
                     if unicodedata.category(ch) != "Mn")
    return re.findall(r"[^\W_]+", folded, re.UNICODE)


def _claims(display_words: list[str], name_words: list[str]) -> bool:
    if not name_words or not display_words:
        return False
    width = len(name_words)
    for start in range(len(display_words) - width + 1):
        if display_words[start:start + width] == name_words:
            return True
    compact_name, compact_display = "".join(name_words), "".join(display_words)
    if len(compact_name) >= 5 and compact_name in compact_display:
        return True
    return len(compact_name) >= 6 and edit_distance(compact_display, compact_name, 1) <= 1


class _Tenancy:
    """The tenant's domains, in the forms the checks compare against."""

    def __init__(self, tenant):
        self.domains = [d.name.lower().rstrip(".") for d in tenant.domains]
        self.skeletons = [(d, domain_skeleton(d)) for d in self.domains]
        self.trusted = tuple(getattr(tenant.content, "trusted_link_domains", ()))

    def trusted_link(self, host: str) -> bool:
        """A link into the tenant's own domains or a tracking host it named is not a disguise."""
        return self.owns(host) or any(host == d or host.endswith("." + d) for d in self.trusted)

    def owns(self, domain: str) -> bool:
        domain = decode_domain(domain)
        return any(domain == d or domain.endswith("." + d) for d in self.domains)

    def imitated(self, domain: str) -> str | None:
        """The tenant domain that `domain` (not the tenant's own) looks like, if any."""
        if not domain or self.owns(domain):
            return None
        shown = domain_skeleton(domain)
        labels = shown.split(".")
        for name, skeleton in self.skeletons:
            tail = ".".join(labels[-len(skeleton.split(".")):])
            if skeleton in (shown, tail):
                return name                                     # confusable / punycode
            if f".{skeleton}." in f".{shown}.":
                return name                                     # acme.example.evil.test
            if len(skeleton) >= 6 and (edit_distance(tail, skeleton, 2) <= (1 if len(skeleton) <= 10 else 2)
                                       or edit_distance(shown, skeleton, 1) <= 1):
                return name                                     # typo-squat
            if "." in skeleton and skeleton.replace(".", "-") in shown:
                return name                                     # acme-example.com
        return None


class _Links(HTMLParser):
    """Collects (href, visible text) for every <a href> in an HTML part."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a" and len(self.links) < MAX_LINKS:
            self._close()
            self._href = next((v for k, v in attrs if k == "href" and v), None)
            self._text = []

    def handle_endtag(self, tag):
        if tag == "a":
            self._close()

    def handle_data(self, data):
        if self._href is not None and sum(map(len, self._text)) < 2000:
            self._text.append(data)

    def _close(self):
        if self._href is not None:
            self.links.append((self._href.strip(), " ".join("".join(self._text).split())))
        self._href, self._text = None, []

    def close(self):
        super().close()
        self._close()


def _text_parts(message: EmailMessage) -> Iterable[tuple[str, str]]:
    """(content type, decoded text) of text/plain and text/html parts, within the caps."""
    budget = MAX_TOTAL_BYTES
    for index, part in enumerate(message.walk()):
        if index >= MAX_PARTS or budget <= 0:
            return
        ctype = part.get_content_type()
        if ctype not in ("text/plain", "text/html"):
            continue
        try:
            payload = part.get_payload(decode=True) or b""
        except (ValueError, TypeError, AssertionError):
            continue
        if not isinstance(payload, bytes):
            continue
        payload = payload[:min(MAX_PART_BYTES, budget)]
        budget -= len(payload)
        charset = part.get_content_charset() or "utf-8"
        try:
            text = payload.decode(charset, "replace")
        except LookupError:
            text = payload.decode("utf-8", "replace")
        yield ctype, text


def _host(url: str) -> str:
    try:
        parts = urlsplit(url.strip())
        if parts.scheme.lower() not in ("http", "https"):
            return ""
        return decode_domain(parts.hostname or "")
    except ValueError:
        return ""


def _shown_domain(text: str) -> str:
    match = _SHOWN_DOMAIN.match(text)
    if not match:
        return ""
    domain = decode_domain(match.group(1))
    if domain.rsplit(".", 1)[-1] in _FILE_SUFFIXES and not re.match(r"\s*(https?://|www\.)", text, re.I):
        return ""
    return domain


def _shown(domain: str) -> str:
    """A domain for the audit trail: the ASCII (punycode) form, with the Unicode one beside it."""
    try:
        ascii_form = domain.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_form = domain.encode("ascii", "backslashreplace").decode("ascii")
    return ascii_form if ascii_form == domain else f"{ascii_form} ({domain})"


def _same_site(a: str, b: str) -> bool:
    a, b = a.removeprefix("www."), b.removeprefix("www.")
    return a == b or a.endswith("." + b) or b.endswith("." + a)


# -- the check ----------------------------------------------------------------
def check(content: bytes, tenant) -> list[Finding]:
    """Every impersonation finding in `content` for `tenant` (empty when none)."""
    message = email.message_from_bytes(content, policy=email.policy.compat32)
    policy = tenant.content
    tenancy = _Tenancy(tenant)
    findings: dict[tuple[str, str], Finding] = {}

    def found(kind: str, detail: str) -> None:
        findings.setdefault((kind, detail), Finding(kind, detail))

    senders = _addresses(message, "From") + _addresses(message, "Sender")
    reply_to = _addresses(message, "Reply-To")

    protected = list(policy.protect)
    if tenant.name and all(fold(p.name) != fold(tenant.name) for p in protected):
        protected.append(ProtectedName(tenant.name))
    protected_words = [(p, _words(p.name)) for p in protected]

    for position, (display_name, address) in enumerate(senders + reply_to):
        if not display_name:
            continue
        domain = _domain_of(address)
        if position < len(senders):
            words = _words(display_name)
            for name, name_words in protected_words:
                if not _claims(words, name_words):
                    continue
                allowed = (address in name.addresses if name.addresses
                           else bool(domain) and tenancy.owns(domain))
                if not allowed:
                    found("display_name", f"display name claims {name.name!r}, "
                                          f"address domain {domain or '(none)'}")
        for shown in _ADDRESS_IN_TEXT.findall(unicodedata.normalize("NFKC", display_name)):
            if shown.lower() != address:
                found("display_name_address", f"display name shows an address at "
                                              f"{_domain_of(shown.lower())}, real domain {domain or '(none)'}")

    header_domains = {_domain_of(a) for _, a in senders + reply_to} - {""}
    for header in ("Return-Path",):
        header_domains |= {_domain_of(a) for _, a in _addresses(message, header)} - {""}
    for domain in sorted(header_domains):
        imitated = tenancy.imitated(domain)
        if imitated:
            found("lookalike_domain", f"{_shown(domain)} looks like {imitated}")

    if policy.forbid_external_reply_to:
        for _, address in reply_to:
            domain = _domain_of(address)
            if not domain or not tenancy.owns(domain):
                found("reply_to", f"Reply-To domain {domain or '(none)'} is outside the tenant")

    link_hosts: set[str] = set()
    for ctype, text in _text_parts(message):
        if ctype == "text/html":
            parser = _Links()
            try:
                parser.feed(text)
                parser.close()
            except (AssertionError, ValueError):
                pass
            for href, shown_text in parser.links:
                host = _host(href)
                if host:
                    link_hosts.add(host)
                shown = _shown_domain(shown_text)
                if host and shown and not _same_site(host, shown) and not tenancy.trusted_link(host):
                    found("link_mismatch", f"link text shows {_shown(shown)}, goes to {_shown(host)}")
        for raw_host in _URL_IN_TEXT.findall(text)[:MAX_LINKS]:
            link_hosts.add(decode_domain(raw_host.rpartition("@")[2]))
    for host in sorted(link_hosts - header_domains):
        imitated = tenancy.imitated(host)
        if imitated:
            found("lookalike_domain", f"{_shown(host)} looks like {imitated}")
    return list(findings.values())
