"""Config for delivery: routes, DNS, egress identity, per-tenant TLS and retries.

`parse_top(top)` reads the top-level `routes` and `dns` keys; `parse_tenant`
reads the tenant keys for delivery.  Problems go through the Section.

Holds secrets: smart-host AUTH passwords (never shown in a problem).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from postwarden.config.reader import Section


@dataclass(frozen=True)
class Route:
    domains: tuple[str, ...]          # recipient domain patterns; "*" matches all
    smarthost: tuple[str, int] | None  # None: deliver by MX

    def matches(self, domain: str) -> bool:
        domain = domain.lower()
        return any(fnmatch.fnmatchcase(domain, p.lower()) for p in self.domains)


@dataclass(frozen=True)
class Delivery:
    routes: tuple[Route, ...] = ()
    nameservers: tuple[tuple[str, int], ...] = ()   # empty: the system resolver
    retry_schedule: tuple[float, ...] = (60, 300, 900, 1800, 3600)
    max_age: float = 5 * 86400
    connect_timeout: float = 30.0

    def route_for(self, domain: str) -> Route | None:
        for route in self.routes:
            if route.matches(domain):
                return route
        return None


@dataclass(frozen=True)
class TenantDelivery:
    """Per-tenant delivery policy (extended by the delivery engine's issue)."""


def parse_route(s: Section) -> Route:
    route = Route(
        domains=s.str_list("domains", ("*",)),
        smarthost=s.hostport("smarthost", None, default_port=25),
    )
    s.done()
    return route


def parse_top(top: Section) -> Delivery:
    routes = tuple(parse_route(r) for r in top.sections("routes", label="smarthost"))
    dns = top.section("dns")
    nameservers = ()
    raw = dns.raw("nameservers", None)
    if raw is not None:
        servers = dns.str_list("nameservers", ())
        parsed = []
        for server in servers:
            from postwarden.config.reader import parse_hostport
            hp = parse_hostport(server, 53)
            if hp is None:
                dns.fail("nameservers", "host:port entries", repr(server))
            else:
                parsed.append(hp)
        nameservers = tuple(parsed)
    dns.done()
    return Delivery(routes=routes, nameservers=nameservers)


def parse_tenant(tenant: Section) -> TenantDelivery:
    return TenantDelivery()
