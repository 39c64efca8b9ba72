"""Config for the content security stage: scanner addresses and per-tenant policy.

Owned by the scan stage (issue: content security).  `parse_scanners(top)` reads
the top-level `scanners` key; `parse_tenant(tenant_section)` reads the tenant
keys `protect` and `content_policy`.  Both must consume their keys (so unknown
ones are reported) and report problems through the Section, never raise.
"""

from __future__ import annotations

from dataclasses import dataclass

from postwarden.config.reader import Section


@dataclass(frozen=True)
class Scanners:
    clamd: str | None = None          # "host:port" or a unix socket path
    rspamd: str | None = None         # "http://host:port"


@dataclass(frozen=True)
class TenantContent:
    """Per-tenant content policy (filled in by the scan stage's issue)."""


def parse_scanners(top: Section) -> Scanners:
    s = top.section("scanners")
    scanners = Scanners(clamd=s.str("clamd", None), rspamd=s.str("rspamd", None))
    s.done()
    return scanners


def parse_tenant(tenant: Section) -> TenantContent:
    tenant.raw("protect")
    tenant.raw("content_policy")
    return TenantContent()
