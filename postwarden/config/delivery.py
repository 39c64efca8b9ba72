"""Config for delivery: routes, DNS, engine defaults, shaping, per-tenant TLS, S/MIME, retries.

`parse_top(top)` reads the top-level keys `routes`, `dns` and `delivery`;
`parse_tenant(tenant)` reads the tenant keys `tls`, `smime`, `retry` and
`egress`.  Problems go through the Section, never raise.

    routes:   [{domains: ["*"], smarthost: "host:port", auth: {username, password},
                tls: opportunistic|required|verify, tenants: [acme]}]   # no smarthost: MX
    dns:      {nameservers: ["127.0.0.1:5353"], timeout: 5s}
    delivery: {mx_port: 25, helo: relay.example, source_addresses: [...],
               connect_timeout: 30s, command_timeout: 60s, connection_reuse: true,
               idle_timeout: 10s, messages_per_connection: 100, max_shaping_wait: 5s,
               retry: {schedule: [1m, 5m, 15m, 30m, 1h], max_age: 5d},
               shaping: [{match: ["*.mail.example"], connections: 2, per_minute: 60,
                          backoff: 1m, max_backoff: 30m}]}
    tenant:   tls: opportunistic|required|verify|mta-sts|dane
              smime: {certs: {"user@example.org": path.pem or inline PEM},
                      encrypt: flagged|available|always, fallback: verify-tls|hold}
              retry: {schedule: [...], max_age: 5d}
              egress: {source_addresses: ["127.0.0.2"], helo: mail.acme.example,
                       apps: {billing: {source_addresses: [...], helo: ...}}}

S/MIME certificates may be given as inline PEM (what the loader produces when it
inlines files) or as a path; a relative path is read against the directory set
with `config_directory(path)` (default: the working directory).

Reads: files named by S/MIME cert paths.  Holds secrets: smart-host AUTH
passwords (never shown in a problem or a repr).
"""

from __future__ import annotations

import contextlib
import contextvars
import fnmatch
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

from postwarden.config.reader import Section, describe, parse_duration, parse_hostport

ROUTE_TLS = ("opportunistic", "required", "verify")
TENANT_TLS = ("opportunistic", "required", "verify", "mta-sts", "dane")
SMIME_ENCRYPT = ("flagged", "available", "always")
SMIME_FALLBACK = ("verify-tls", "hold")

_config_dir: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "postwarden_config_dir", default=None)


@contextlib.contextmanager
def config_directory(path: str | Path) -> Iterator[None]:
    """Read relative S/MIME certificate paths against `path` while parsing."""
    token = _config_dir.set(Path(path))
    try:
        yield
    finally:
        _config_dir.reset(token)


@dataclass(frozen=True)
class SmtpAuth:
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Route:
    domains: tuple[str, ...]           # recipient domain patterns; "*" matches all
    smarthost: tuple[str, int] | None  # None: deliver by MX
    auth: SmtpAuth | None = None
    tls: str | None = None             # None: the tenant's policy (opportunistic by default)
    tenants: tuple[str, ...] = ()      # empty: every tenant

    def matches(self, domain: str, tenant_id: str | None = None) -> bool:
        if self.tenants and tenant_id not in self.tenants:
            return False
        domain = domain.lower()
        return any(fnmatch.fnmatchcase(domain, p.lower()) for p in self.domains)


@dataclass(frozen=True)
class Shaping:
    """Limits for one destination (an MX host, smart host or provider pattern)."""
    match: tuple[str, ...] = ("*",)    # host-name or domain patterns; "*" matches all
    connections: int = 20              # simultaneous connections per destination host
    per_minute: int = 0                # messages per minute per destination; 0: no limit
    backoff: float = 60.0              # first pause after a 421; doubles up to max_backoff
    max_backoff: float = 1800.0

    def matches(self, *names: str) -> bool:
        return any(fnmatch.fnmatchcase(n.lower().rstrip("."), p.lower())
                   for n in names if n for p in self.match)


@dataclass(frozen=True)
class Egress:
    """Where a tenant's (or app's) mail leaves from: source addresses (IP pool) and HELO."""
    source_addresses: tuple[str, ...] = ()
    helo: str | None = None


@dataclass(frozen=True)
class Delivery:
    routes: tuple[Route, ...] = ()
    nameservers: tuple[tuple[str, int], ...] = ()   # empty: the system resolver
    retry_schedule: tuple[float, ...] = (60, 300, 900, 1800, 3600)
    max_age: float = 5 * 86400
    connect_timeout: float = 30.0
    command_timeout: float = 60.0
    dns_timeout: float = 5.0
    mx_port: int = 25
    helo: str | None = None                          # None: the host's FQDN
    source_addresses: tuple[str, ...] = ()
    connection_reuse: bool = True
    idle_timeout: float = 10.0
    messages_per_connection: int = 100
    max_shaping_wait: float = 30.0                   # wait at most this for a slot, then defer
    shaping: tuple[Shaping, ...] = ()
    default_shaping: Shaping = Shaping()

    def route_for(self, domain: str, tenant_id: str | None = None) -> Route | None:
        for route in self.routes:
            if route.matches(domain, tenant_id):
                return route
        return None

    def shaping_for(self, host: str, domain: str = "") -> Shaping:
        for rule in self.shaping:
            if rule.matches(host, domain):
                return rule
        return self.default_shaping


@dataclass(frozen=True)
class TenantDelivery:
    """Per-tenant delivery policy."""
    tls: str = "opportunistic"
    smime_certs: Mapping[str, bytes] = field(default_factory=dict)   # address -> PEM
    smime_encrypt: str = "flagged"
    smime_fallback: str = "verify-tls"
    retry_schedule: tuple[float, ...] | None = None  # None: the top-level default
    max_age: float | None = None
    egress: Egress = Egress()
    app_egress: Mapping[str, Egress] = field(default_factory=dict)

    def smime_cert_pem(self, address: str) -> bytes | None:
        return self.smime_certs.get(address.strip().lower())

    def egress_for(self, app_id: str | None) -> Egress:
        """The app's own pool/HELO where given, else the tenant's."""
        app = self.app_egress.get(app_id or "")
        if app is None:
            return self.egress
        return Egress(app.source_addresses or self.egress.source_addresses,
                      app.helo or self.egress.helo)


# ---------------------------------------------------------------------------
def _ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _durations(s: Section, key: str) -> tuple[float, ...] | None:
    raw = s.raw(key, None)
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw:
        s.fail(key, "a non-empty list of durations such as [1m, 5m, 1h]", describe(raw))
        return None
    parsed = [parse_duration(item) for item in raw]
    if any(p is None or p <= 0 for p in parsed):
        s.fail(key, "a list of positive durations such as [1m, 5m, 1h]", "a bad entry")
        return None
    return tuple(p for p in parsed if p is not None)


def _parse_retry(s: Section) -> tuple[tuple[float, ...] | None, float | None]:
    schedule = _durations(s, "schedule")
    max_age = s.duration("max_age", None)
    if max_age is not None and max_age <= 0:
        s.fail("max_age", "a positive duration such as 5d")
        max_age = None
    s.done()
    return schedule, max_age


def _parse_egress(s: Section, *, allow_apps: bool) -> tuple[Egress, dict[str, Egress]]:
    egress = Egress(
        source_addresses=s.str_list("source_addresses", (), item=_ip,
                                    expected="a list of IP addresses such as 127.0.0.2"),
        helo=s.str("helo", None, expected="a host name"),
    )
    apps: dict[str, Egress] = {}
    if allow_apps:
        raw = s.raw("apps", None)
        if raw is not None and not isinstance(raw, Mapping):
            s.fail("apps", "a mapping of app id to {source_addresses, helo}", describe(raw))
        elif raw:
            for app_id in raw:
                child = Section(raw[app_id], s.where(f"apps.{app_id}"), s.problems, s.tenant)
                apps[str(app_id)] = _parse_egress(child, allow_apps=False)[0]
    s.done()
    return egress, apps


def _read_pem(text: str) -> bytes | None:
    """Inline PEM as given, or the file it names (relative to the config directory)."""
    if text.lstrip().startswith("-----BEGIN"):
        return text.encode()
    path = Path(text)
    if not path.is_absolute():
        path = (_config_dir.get() or Path.cwd()) / path
    try:
        return path.read_bytes()
    except OSError:
        return None


def _parse_smime(s: Section) -> tuple[dict[str, bytes], str, str]:
    from cryptography import x509

    certs: dict[str, bytes] = {}
    raw = s.raw("certs", None)
    if raw is not None and not isinstance(raw, Mapping):
        s.fail("certs", "a mapping of address to certificate (path or PEM)", describe(raw))
    elif raw:
        for address, value in raw.items():
            key = f"certs.{address}"
            if not isinstance(address, str) or "@" not in address:
                s.fail(key, "an email address as the key", "something else")
                continue
            if not isinstance(value, str) or not value.strip():
                s.fail(key, "a PEM certificate or the path of one", describe(value))
                continue
            pem = _read_pem(value)
            if pem is None:
                s.fail(key, "a readable PEM certificate file", f"cannot read {value!r}")
                continue
            try:
                x509.load_pem_x509_certificate(pem)
            except ValueError:
                s.fail(key, "a PEM X.509 certificate", "something unreadable")
                continue
            certs[address.strip().lower()] = pem
    encrypt = s.choice("encrypt", SMIME_ENCRYPT, "flagged")
    fallback = s.choice("fallback", SMIME_FALLBACK, "verify-tls")
    s.done()
    return certs, encrypt, fallback


def _parse_shaping(s: Section) -> Shaping:
    defaults = Shaping()
    rule = Shaping(
        match=s.str_list("match", ("*",)),
        connections=s.int("connections", defaults.connections, minimum=1, maximum=1000),
        per_minute=s.int("per_minute", defaults.per_minute, minimum=0),
        backoff=s.duration("backoff", defaults.backoff),
        max_backoff=s.duration("max_backoff", defaults.max_backoff),
    )
    s.done()
    return rule


def parse_route(s: Section) -> Route:
    auth = None
    if s.raw("auth", None) is not None:
        a = s.section("auth")
        auth = SmtpAuth(a.str("username"), a.str("password", expected="a password"))
        a.done()
    route = Route(
        domains=s.str_list("domains", ("*",)),
        smarthost=s.hostport("smarthost", None, default_port=25),
        auth=auth,
        tls=s.choice("tls", ROUTE_TLS, None),
        tenants=s.str_list("tenants", ()),
    )
    if auth and route.smarthost is None:
        s.fail("auth", "a smarthost to authenticate to (AUTH is for smart hosts only)")
    s.done()
    return route


def parse_top(top: Section) -> Delivery:
    routes = tuple(parse_route(r) for r in top.sections("routes", label="smarthost"))
    dns = top.section("dns")
    nameservers = []
    for server in dns.str_list("nameservers", ()):
        hp = parse_hostport(server, 53)
        if hp is None:
            dns.fail("nameservers", "host:port entries", repr(server))
        else:
            nameservers.append(hp)
    d = Delivery()
    dns_timeout = dns.duration("timeout", d.dns_timeout)
    dns.done()

    s = top.section("delivery")
    retry = s.section("retry")
    schedule, max_age = _parse_retry(retry)
    shaping = tuple(_parse_shaping(r) for r in s.sections("shaping", label="match"))
    default_shaping = d.default_shaping
    if s.has("default_shaping"):
        default_shaping = _parse_shaping(s.section("default_shaping"))
    delivery = Delivery(
        routes=routes,
        nameservers=tuple(nameservers),
        retry_schedule=schedule or d.retry_schedule,
        max_age=max_age or d.max_age,
        connect_timeout=s.duration("connect_timeout", d.connect_timeout),
        command_timeout=s.duration("command_timeout", d.command_timeout),
        dns_timeout=dns_timeout,
        mx_port=s.int("mx_port", d.mx_port, minimum=1, maximum=65535),
        helo=s.str("helo", None, expected="a host name"),
        source_addresses=s.str_list("source_addresses", (), item=_ip,
                                    expected="a list of IP addresses"),
        connection_reuse=s.bool("connection_reuse", d.connection_reuse),
        idle_timeout=s.duration("idle_timeout", d.idle_timeout),
        messages_per_connection=s.int("messages_per_connection", d.messages_per_connection,
                                      minimum=1),
        max_shaping_wait=s.duration("max_shaping_wait", d.max_shaping_wait),
        shaping=shaping,
        default_shaping=default_shaping,
    )
    s.done()
    return delivery


def parse_tenant(tenant: Section) -> TenantDelivery:
    tls = tenant.choice("tls", TENANT_TLS, "opportunistic")
    certs, encrypt, fallback = ({}, "flagged", "verify-tls")
    if tenant.has("smime"):
        certs, encrypt, fallback = _parse_smime(tenant.section("smime"))
    schedule, max_age = (None, None)
    if tenant.has("retry"):
        schedule, max_age = _parse_retry(tenant.section("retry"))
    egress, apps = Egress(), {}
    if tenant.has("egress"):
        egress, apps = _parse_egress(tenant.section("egress"), allow_apps=True)
    return TenantDelivery(tls=tls, smime_certs=certs, smime_encrypt=encrypt,
                          smime_fallback=fallback, retry_schedule=schedule, max_age=max_age,
                          egress=egress, app_egress=apps)
