"""The validated configuration: immutable records built from one document.

`parse(document)` checks the whole document (node settings, routes, tenants,
their domains, DKIM keys, apps and every policy section) and either returns a
`Config` or raises one `ConfigError` naming every bad key, the tenant it
belongs to and what was expected.  Nothing takes effect from a document that
fails here.

Reads: an untrusted mapping (from YAML or from the config topic).  Holds
secrets: password hashes and DKIM private keys; their `repr` never shows them.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from dataclasses import dataclass, field
from typing import Any, Mapping

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from postwarden.config import content, delivery, dlp
from postwarden.config.reader import ConfigError, Problems, Section, unique

DOMAIN_PATTERN = r"(?=.{1,253}$)([A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
ID_PATTERN = r"[a-z0-9][a-z0-9_.-]{0,62}"


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap: str | None            # None: start the embedded broker
    idempotence: bool = False        # the embedded broker lacks InitProducerId
    partitions: int = 4
    replication: int = 1
    # consumer-group timings (seconds); short ones make a single-node start quick
    rebalance_timeout: float = 10.0
    session_timeout: float = 10.0
    heartbeat_interval: float = 1.0


@dataclass(frozen=True)
class IngressSettings:
    submission: tuple[str, int] | None = ("127.0.0.1", 2587)
    smtps: tuple[str, int] | None = ("127.0.0.1", 2465)
    cert: str | None = None
    key: str | None = None
    hostname: str = "localhost"
    max_message_size: int = 25 * 1024 * 1024
    max_recipients: int = 100
    publish_timeout: float = 5.0     # seconds to wait for acks=all before 451


@dataclass(frozen=True)
class DkimKey:
    selector: str
    algorithm: str                   # "rsa-sha256" or "ed25519-sha256"
    private_key_pem: bytes = field(repr=False)

    def private_key(self):
        return serialization.load_pem_private_key(self.private_key_pem, password=None)


@dataclass(frozen=True)
class Domain:
    name: str
    dkim: tuple[DkimKey, ...] = ()


@dataclass(frozen=True)
class App:
    id: str
    tenant_id: str
    username: str
    password_hash: str = field(repr=False)
    allowed_senders: tuple[str, ...] = ()
    allowed_ips: tuple[Any, ...] = ()
    rate_limit: tuple[int, float] | None = None   # (messages, per seconds) on each ingress node

    def may_send_as(self, address: str) -> bool:
        """True if `address` matches a granted pattern (`*@sub.example` globs)."""
        address = address.strip().lower()
        return any(fnmatch.fnmatchcase(address, pattern.lower()) for pattern in self.allowed_senders)

    def may_connect_from(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip.split("%")[0])
        except ValueError:
            return False
        if getattr(address, "ipv4_mapped", None):
            address = address.ipv4_mapped
        return any(address in network for network in self.allowed_ips)


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    domains: tuple[Domain, ...]
    apps: tuple[App, ...]
    content: content.TenantContent = content.TenantContent()
    dlp: dlp.DlpPolicy = dlp.DlpPolicy()
    delivery: delivery.TenantDelivery = delivery.TenantDelivery()

    def domain(self, name: str) -> Domain | None:
        name = name.lower().rstrip(".")
        for domain in self.domains:
            if domain.name == name:
                return domain
        return None

    def owns(self, domain_name: str) -> bool:
        return self.domain(domain_name) is not None


@dataclass(frozen=True)
class Config:
    kafka: KafkaSettings
    ingress: IngressSettings
    tenants: tuple[Tenant, ...]
    scanners: content.Scanners = content.Scanners()
    delivery: delivery.Delivery = delivery.Delivery()
    state_dir: str = ".postwarden"
    inline_limit: int = 512 * 1024
    document: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def tenant(self, tenant_id: str) -> Tenant | None:
        return self._tenants.get(tenant_id)

    def app_by_username(self, username: str) -> App | None:
        return self._apps.get(username.lower())

    @property
    def _tenants(self) -> dict[str, Tenant]:
        cached = self.__dict__.get("_tenant_index")
        if cached is None:
            cached = {t.id: t for t in self.tenants}
            object.__setattr__(self, "_tenant_index", cached)
        return cached

    @property
    def _apps(self) -> dict[str, App]:
        cached = self.__dict__.get("_app_index")
        if cached is None:
            cached = {a.username.lower(): a for t in self.tenants for a in t.apps}
            object.__setattr__(self, "_app_index", cached)
        return cached


# ---------------------------------------------------------------------------
def _parse_kafka(s: Section) -> KafkaSettings:
    settings = KafkaSettings(
        bootstrap=s.str("bootstrap", None),
        idempotence=s.bool("idempotence", False),
        partitions=s.int("partitions", 4, minimum=1, maximum=1024),
        replication=s.int("replication", 1, minimum=1, maximum=16),
        rebalance_timeout=s.duration("rebalance_timeout", 10.0),
        session_timeout=s.duration("session_timeout", 10.0),
        heartbeat_interval=s.duration("heartbeat_interval", 1.0),
    )
    s.done()
    return settings


def _parse_ingress(s: Section) -> IngressSettings:
    defaults = IngressSettings()
    submission = s.hostport("submission", defaults.submission) if s.raw("submission", True) is not False else None
    smtps = s.hostport("smtps", defaults.smtps) if s.raw("smtps", True) is not False else None
    cert, key = s.str("cert", None), s.str("key", None)
    if (cert is None) != (key is None):
        s.fail("cert", "cert and key together (or neither, for a generated self-signed pair)")
    settings = IngressSettings(
        submission=submission,
        smtps=smtps,
        cert=cert,
        key=key,
        hostname=s.str("hostname", defaults.hostname),
        max_message_size=s.int("max_message_size", defaults.max_message_size, minimum=1024),
        max_recipients=s.int("max_recipients", defaults.max_recipients, minimum=1, maximum=10000),
        publish_timeout=s.duration("publish_timeout", defaults.publish_timeout),
    )
    s.done()
    return settings


def _load_dkim_key(s: Section, domain: str) -> DkimKey | None:
    selector = s.str("selector", pattern=ID_PATTERN, expected="a DNS label such as s1")
    pem = s.str("key_pem", None, expected="a PEM private key")
    if pem is None:
        s.fail("key", "the path of a PEM private key (RSA 2048+ or Ed25519)", "nothing")
        return None
    try:
        private_key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        s.fail("key", "an unencrypted PEM private key (RSA 2048+ or Ed25519)", "something unreadable")
        return None
    if isinstance(private_key, rsa.RSAPrivateKey):
        if private_key.key_size < 2048:
            s.fail("key", "an RSA key of at least 2048 bits (RFC 8301)",
                   f"{private_key.key_size} bits")
            return None
        algorithm = "rsa-sha256"
    elif isinstance(private_key, ed25519.Ed25519PrivateKey):
        algorithm = "ed25519-sha256"
    else:
        s.fail("key", "an RSA or Ed25519 private key", type(private_key).__name__)
        return None
    s.done()
    return DkimKey(selector or "invalid", algorithm, pem.encode())


def _parse_domain(s: Section) -> Domain:
    name = (s.str("name", pattern=DOMAIN_PATTERN, expected="a domain name") or "").lower()
    keys = []
    raw = s.raw("dkim", None)
    entries = raw if isinstance(raw, list) else ([raw] if raw is not None else [])
    for index, entry in enumerate(entries):
        path = s.where("dkim") + (f"[{index}]" if isinstance(raw, list) else "")
        key = _load_dkim_key(Section(entry, path, s.problems, s.tenant), name)
        if key:
            keys.append(key)
    s.done()
    return Domain(name, tuple(keys))


def _parse_app(s: Section, tenant_id: str) -> App:
    from postwarden import passwords

    app_id = s.str("id", pattern=ID_PATTERN, expected="an id of lower-case letters, digits, . _ -")
    password_hash = s.str("password_hash", expected="a hash printed by `postwarden hash-password`")
    if password_hash and not passwords.is_hash(password_hash):
        s.fail("password_hash", "a hash printed by `postwarden hash-password` (never a clear password)",
               "something else")
    senders = s.str_list(
        "allowed_senders", expected="a list of addresses or patterns such as *@billing.acme.example",
        item=lambda x: "@" in x)
    app = App(
        id=app_id or "invalid",
        tenant_id=tenant_id,
        username=s.str("username"),
        password_hash=password_hash or "",
        allowed_senders=senders or (),
        allowed_ips=s.networks("allowed_ips", (ipaddress.ip_network("127.0.0.0/8"),
                                               ipaddress.ip_network("::1/128"))),
        rate_limit=_parse_rate_limit(s),
    )
    s.done()
    return app


def _parse_rate_limit(app: Section) -> tuple[int, float] | None:
    if not app.has("rate_limit"):
        app.raw("rate_limit")
        return None
    s = app.section("rate_limit")
    messages = s.int("messages", minimum=1)
    per = s.duration("per", 60.0)
    s.done()
    if not messages or not per:
        return None
    return messages, per


def _check_senders_owned(s: Section, tenant: Tenant) -> None:
    """An app may only be granted addresses in its tenant's own domains."""
    for app in tenant.apps:
        for pattern in app.allowed_senders:
            domain = pattern.rsplit("@", 1)[-1].lower()
            owned = any(domain == d.name or (domain.startswith("*.") and domain[2:] == d.name)
                        or fnmatch.fnmatchcase(domain, f"*.{d.name}") for d in tenant.domains)
            if not owned:
                s.fail(f"apps[{app.id}].allowed_senders",
                       "addresses in the tenant's own domains", f"{pattern!r} is outside them")


def _parse_tenant(s: Section) -> Tenant:
    tenant_id = s.str("id", pattern=ID_PATTERN, expected="an id of lower-case letters, digits, . _ -")
    tenant_id = tenant_id or "invalid"
    domains = tuple(_parse_domain(d) for d in s.sections("domains", label="name", required=True))
    apps = tuple(_parse_app(a, tenant_id) for a in s.sections("apps"))
    unique(s, "domains", [d.name for d in domains], "domain name")
    unique(s, "apps", [a.id for a in apps], "app id")
    tenant = Tenant(
        id=tenant_id,
        name=s.str("name", tenant_id),
        domains=domains,
        apps=apps,
        content=content.parse_tenant(s),
        dlp=dlp.parse_tenant(s),
        delivery=delivery.parse_tenant(s),
    )
    _check_senders_owned(s, tenant)
    s.done()
    return tenant


def parse(document: Mapping[str, Any], source: str = "config") -> Config:
    """Validate a whole config document; raise ConfigError listing every problem."""
    problems = Problems(source)
    top = Section(document, "", problems)
    kafka = _parse_kafka(top.section("kafka"))
    ingress = _parse_ingress(top.section("ingress"))
    tenants = tuple(_parse_tenant(t) for t in top.sections("tenants", tenant_label=True))
    unique(top, "tenants", [t.id for t in tenants], "tenant id")
    unique(top, "tenants", [a.username.lower() for t in tenants for a in t.apps if a.username],
           "app username")
    owners: dict[str, str] = {}
    for tenant in tenants:
        for domain in tenant.domains:
            for owned, owner in owners.items():
                related = (domain.name == owned or domain.name.endswith("." + owned)
                           or owned.endswith("." + domain.name))
                if related and owner != tenant.id:
                    top.fail(f"tenants[{tenant.id}].domains",
                             "each domain (and its subdomains) owned by one tenant",
                             f"{domain.name} overlaps {owned} of tenant {owner}")
            owners[domain.name] = tenant.id
    config = Config(
        kafka=kafka,
        ingress=ingress,
        tenants=tenants,
        scanners=content.parse_scanners(top),
        delivery=delivery.parse_top(top),
        state_dir=top.str("state_dir", ".postwarden"),
        inline_limit=top.int("inline_limit", 512 * 1024, minimum=1024, maximum=900 * 1024),
        document=document,
    )
    top.done()
    problems.raise_if_any()
    return config


__all__ = ["Config", "ConfigError", "KafkaSettings", "IngressSettings", "Tenant", "App",
           "Domain", "DkimKey", "parse"]
