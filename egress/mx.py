"""DNS for delivery: MX routing (RFC 5321 §5, null MX RFC 7505), addresses, TXT and TLSA.

`Dns` wraps a dnspython async resolver pointed at the configured nameservers
(`dns: {nameservers: ["127.0.0.1:5353"]}`) or the system's.  Queries ask for
DNSSEC data (DO and AD bits) so answers carry `secure=True` only when the
resolver said they were validated (the AD bit).  `Dns.mail_hosts(domain)`
returns the hosts to try, in preference order, each with its addresses, or a
`LocalReply` saying why there are none (null MX, no such domain, DNS down).

Reads: DNS answers (untrusted: names and records from the network, parsed by
dnspython).  Holds no secrets.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.nameserver
import dns.rdatatype
import dns.resolver

from egress import replies
from egress.replies import LocalReply


@dataclass(frozen=True)
class Lookup:
    """Records of one name and type: empty when the name has none (NOERROR/NODATA)."""
    records: tuple = ()
    secure: bool = False          # the AD bit was set: DNSSEC-validated by the resolver
    nxdomain: bool = False
    error: str | None = None      # a temporary failure (timeout, SERVFAIL)

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(frozen=True)
class MailHost:
    name: str                      # the MX host name (or the domain, for an implicit MX)
    preference: int
    addresses: tuple[str, ...] = ()
    implicit: bool = False         # no MX: the domain's own address records (RFC 5321 §5.1)
    secure: bool = False           # the MX answer and these addresses were DNSSEC-validated
    error: str | None = None       # why there are no addresses


@dataclass(frozen=True)
class MailHosts:
    hosts: tuple[MailHost, ...] = ()
    failure: LocalReply | None = None   # set when there is nothing to try
    mx_secure: bool = False


def make_resolver(nameservers: tuple[tuple[str, int], ...] = (), timeout: float = 5.0
                  ) -> dns.asyncresolver.Resolver:
    """A resolver asking for DNSSEC status, pointed at `nameservers` (host, port) if any."""
    if nameservers:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port)
                                for host, port in nameservers]
    else:
        resolver = dns.asyncresolver.Resolver()
    resolver.timeout = min(timeout, 2.0)
    resolver.lifetime = timeout
    resolver.use_edns(0, dns.flags.DO, 1232)
    resolver.flags = dns.flags.RD | dns.flags.AD
    resolver.cache = None
    return resolver


class Dns:
    def __init__(self, resolver):
        self.resolver = resolver

    async def query(self, name: str, rdtype: str) -> Lookup:
        try:
            answer = await self.resolver.resolve(name, rdtype, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return Lookup(nxdomain=True)
        except dns.resolver.NoAnswer:
            return Lookup()
        except (dns.resolver.NoNameservers, dns.exception.Timeout, dns.resolver.LifetimeTimeout,
                dns.resolver.YXDOMAIN) as error:
            return Lookup(error=type(error).__name__)
        except dns.exception.DNSException as error:
            return Lookup(error=type(error).__name__)
        secure = bool(answer.response.flags & dns.flags.AD)
        records = tuple(answer.rrset) if answer.rrset is not None else ()
        return Lookup(records=records, secure=secure)

    async def addresses(self, host: str) -> tuple[tuple[str, ...], bool, str | None]:
        """(IPv6 and IPv4 addresses, all secure, temporary error) of a host name or literal."""
        literal = _ip_literal(host)
        if literal:
            return (literal,), False, None
        v6, v4 = await asyncio.gather(self.query(host, "AAAA"), self.query(host, "A"))
        found = tuple(r.address for r in v6.records) + tuple(r.address for r in v4.records)
        error = v6.error or v4.error
        secure = bool(found) and all(x.secure for x in (v6, v4) if x.records)
        return found, secure, (error if not found else None)

    async def txt(self, name: str) -> Lookup:
        return await self.query(name, "TXT")

    async def tlsa(self, host: str, port: int) -> Lookup:
        return await self.query(f"_{port}._tcp.{host.rstrip('.')}", "TLSA")

    async def mail_hosts(self, domain: str) -> MailHosts:
        """The hosts to try for `domain`, in MX preference order (equal ones shuffled)."""
        domain = domain.rstrip(".").lower()
        literal = _domain_literal(domain)
        if literal:
            return MailHosts((MailHost(domain, 0, (literal,), implicit=True),))
        mx = await self.query(domain, "MX")
        if mx.nxdomain:
            return MailHosts(failure=replies.NO_SUCH_DOMAIN)
        if mx.failed:
            return MailHosts(failure=replies.DNS_TEMPFAIL.with_detail(f"MX {mx.error}"))
        if not mx.records:
            found, secure, error = await self.addresses(domain)
            if error:
                return MailHosts(failure=replies.DNS_TEMPFAIL.with_detail(f"A/AAAA {error}"))
            if not found:
                return MailHosts(failure=replies.NO_MAIL_HOST)
            return MailHosts((MailHost(domain, 0, found, implicit=True, secure=secure),))
        if any(str(r.exchange) == "." for r in mx.records):
            # RFC 7505: a single MX of "." with preference 0 says the domain takes no mail.
            return MailHosts(failure=replies.NULL_MX, mx_secure=mx.secure)
        ordered = sorted(mx.records, key=lambda r: (r.preference, random.random()))
        names = [(str(r.exchange).rstrip(".").lower(), r.preference) for r in ordered]
        resolved = await asyncio.gather(*(self.addresses(name) for name, _ in names))
        hosts = tuple(MailHost(name, preference, found, secure=mx.secure and secure, error=error)
                      for (name, preference), (found, secure, error) in zip(names, resolved))
        if not any(h.addresses for h in hosts):
            if any(h.error for h in hosts):
                return MailHosts(hosts, replies.DNS_TEMPFAIL.with_detail("MX host addresses"),
                                 mx.secure)
            return MailHosts(hosts, replies.NO_MAIL_HOST, mx.secure)
        return MailHosts(hosts, None, mx.secure)


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def _domain_literal(domain: str) -> str | None:
    """`[192.0.2.1]` or `[IPv6:2001:db8::1]` address literals (RFC 5321 §4.1.3)."""
    if domain.startswith("[") and domain.endswith("]"):
        inner = domain[1:-1]
        if inner.lower().startswith("ipv6:"):
            inner = inner[5:]
        return _ip_literal(inner)
    return None
