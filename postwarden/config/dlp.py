"""Config for the DLP stage: per-tenant rules.

Owned by the DLP stage (issue: DLP).  `parse_tenant(tenant_section)` reads the
tenant key `dlp`, consumes it, and reports problems through the Section.
"""

from __future__ import annotations

from dataclasses import dataclass

from postwarden.config.reader import Section


@dataclass(frozen=True)
class DlpPolicy:
    """Per-tenant DLP rules (filled in by the DLP stage's issue)."""
    rules: tuple = ()


def parse_tenant(tenant: Section) -> DlpPolicy:
    tenant.raw("dlp")
    return DlpPolicy()
