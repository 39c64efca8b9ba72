"""Config for the DLP stage: per-tenant rules and extraction limits.

`parse_tenant(tenant_section)` reads the tenant key `dlp`, checks it with the
`Section` API (so every problem names the tenant, the key and what was
expected) and returns an immutable `DlpPolicy`.  Shape::

    dlp:
      bulk_email_threshold: 10        # distinct addresses that make a "bulk list"
      limits: {archive_depth: 3, archive_members: 1000,
               expanded_bytes: 67108864, pdf_pages: 300, seconds: 20s}
      rules:
        - {name: cards, detectors: [credit_card], min_count: 1,
           where: [headers, body, attachments], action: block}
        - {name: health, detectors: [icd10_code, us_npi], action: quarantine,
           mode: log_only}
        - {name: bank, detectors: [iban], action: require_encryption, encryption: tls}

Reads: an untrusted mapping (part of the config document).  Holds no secrets.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from postwarden.config.reader import Section, unique

# Detectors of personal and health data (the names rules may list).
DETECTORS: tuple[str, ...] = (
    "credit_card", "us_ssn", "iban", "us_bank_routing", "jp_my_number", "uk_nino",
    "nhs_number", "us_npi", "icd10_code", "date_of_birth", "email_address_bulk",
)
# Findings about the message itself rather than data in it: an archive that hit
# a limit (depth, member count, expanded size) or an attachment that could not
# be read (encrypted, corrupt).  Rules may list them like detectors.
SIGNALS: tuple[str, ...] = ("archive_limit", "unreadable_attachment")
FINDING_TYPES: tuple[str, ...] = DETECTORS + SIGNALS

LOCATIONS: tuple[str, ...] = ("headers", "body", "attachments")
ACTIONS: tuple[str, ...] = ("block", "quarantine", "require_encryption", "allow_and_log")
MODES: tuple[str, ...] = ("enforce", "log_only")
ENCRYPTION: tuple[str, ...] = ("tls", "smime")
RULE_NAME = r"[a-z0-9][a-z0-9_-]{0,62}"


@dataclass(frozen=True)
class DlpRule:
    """One rule: these detectors, at least `min_count` hits in `where` -> `action`."""
    name: str
    detectors: tuple[str, ...]
    min_count: int = 1
    where: tuple[str, ...] = LOCATIONS
    action: str = "block"
    mode: str = "enforce"            # "log_only": record what would have happened
    encryption: str = "tls"          # for action require_encryption

    @property
    def log_only(self) -> bool:
        return self.mode == "log_only"


@dataclass(frozen=True)
class DlpLimits:
    """Bounds on what one message may make the extractor do."""
    archive_depth: int = 3                     # nested archives / forwarded messages
    archive_members: int = 1000                # members read over the whole message
    expanded_bytes: int = 64 * 1024 * 1024     # bytes decompressed over the whole message
    pdf_pages: int = 300                       # pages read per PDF
    seconds: float = 20.0                      # wall time for extracting one message


@dataclass(frozen=True)
class DlpPolicy:
    """Per-tenant DLP rules; immutable, `clone(**changes)` refuses unknown keys."""
    rules: tuple[DlpRule, ...] = ()
    limits: DlpLimits = DlpLimits()
    bulk_email_threshold: int = 10

    @property
    def detectors(self) -> frozenset[str]:
        """Every finding type some rule looks at (what `inspect` must run)."""
        return frozenset(d for rule in self.rules for d in rule.detectors)

    def clone(self, **changes: Any) -> "DlpPolicy":
        return replace(self, **changes)


def scan_everything(limits: DlpLimits = DlpLimits()) -> DlpPolicy:
    """A policy with every detector in one allow-and-log rule (for `dlp scan`)."""
    return DlpPolicy(rules=(DlpRule("all", FINDING_TYPES, action="allow_and_log"),),
                     limits=limits)


def _parse_rule(s: Section) -> DlpRule:
    name = s.str("name", pattern=RULE_NAME,
                 expected="a rule name of lower-case letters, digits, _ and -")
    detectors = s.str_list(
        "detectors", item=lambda d: d in FINDING_TYPES,
        expected="a list of detectors from: " + ", ".join(FINDING_TYPES))
    where = s.str_list("where", LOCATIONS, item=lambda w: w in LOCATIONS,
                       expected="a list of locations from: " + ", ".join(LOCATIONS))
    rule = DlpRule(
        name=name or "invalid",
        detectors=tuple(dict.fromkeys(detectors or ())),
        min_count=s.int("min_count", 1, minimum=1),
        where=tuple(dict.fromkeys(where or LOCATIONS)),
        action=s.choice("action", ACTIONS),
        mode=s.choice("mode", MODES, "enforce"),
        encryption=s.choice("encryption", ENCRYPTION, "tls"),
    )
    if s.has("encryption") and rule.action != "require_encryption":
        s.fail("encryption", "no encryption key unless action is require_encryption",
               f"action {rule.action}")
    s.done()
    return rule


def _parse_limits(s: Section) -> DlpLimits:
    d = DlpLimits()
    limits = DlpLimits(
        archive_depth=s.int("archive_depth", d.archive_depth, minimum=0, maximum=20),
        archive_members=s.int("archive_members", d.archive_members, minimum=1, maximum=100000),
        expanded_bytes=s.int("expanded_bytes", d.expanded_bytes, minimum=1024,
                             maximum=4 * 1024 ** 3),
        pdf_pages=s.int("pdf_pages", d.pdf_pages, minimum=1, maximum=100000),
        seconds=s.duration("seconds", d.seconds),
    )
    s.done()
    return limits


def parse_tenant(tenant: Section) -> DlpPolicy:
    """Read the tenant's `dlp` key; problems go to the tenant's Section."""
    present = tenant.has("dlp")
    s = tenant.section("dlp")
    if not present:
        return DlpPolicy()
    rule_sections = s.sections("rules", label="name")
    rules = tuple(_parse_rule(r) for r in rule_sections)
    unique(s, "rules", [r.name for r in rules], "rule name")
    policy = DlpPolicy(
        rules=rules,
        limits=_parse_limits(s.section("limits")),
        bulk_email_threshold=s.int("bulk_email_threshold", 10, minimum=2, maximum=100000),
    )
    s.done()
    return policy


__all__ = ["DlpPolicy", "DlpRule", "DlpLimits", "DETECTORS", "SIGNALS", "FINDING_TYPES",
           "LOCATIONS", "ACTIONS", "MODES", "parse_tenant", "scan_everything"]
