"""Config for the content security stage: scanner addresses and per-tenant policy.

Owned by the scan stage.  `parse_scanners(top)` reads the top-level
`scanners` key; `parse_tenant(tenant_section)` reads the tenant keys `protect`
and `content_policy`.  Both consume every key they read (so unknown ones are
reported) and report problems through the Section, never raise.

    scanners:
      clamd: "127.0.0.1:3310"              # or a unix socket path such as /run/clamav/clamd.ctl
      rspamd: "http://127.0.0.1:11333"
      timeouts: {clamd: 30s, rspamd: 20s, connect: 3s}
    tenants:
      - id: acme
        protect:
          names: ["Acme Corp", {name: "Jane Doe", addresses: ["jane.doe@acme.example"]}]
        content_policy:
          virus: reject                      # reject | quarantine
          spam: {tag_at: 6, quarantine_at: 10, reject_at: 15}   # rspamd score; null turns a step off
          impersonation: quarantine          # one action, or one per kind (see IMPERSONATION_KINDS)
          scanner_down: hold                 # hold (fail closed, retried) | pass (fail open, audited)
          forbid_external_reply_to: false
          trusted_link_domains: [click.esp.example]   # links may go there whatever their text shows

Reads: an untrusted mapping (through `Section`).  Holds no secrets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from postwarden.config.reader import Section

# Actions a content finding may take; the verdict of the same name is applied.
ACTIONS = ("pass", "tag", "quarantine", "reject")
VIRUS_ACTIONS = ("reject", "quarantine")
SCANNER_DOWN = ("hold", "pass")
DOMAIN = r"(?=.{1,253}$)([A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]{2,63}"
IMPERSONATION_KINDS = ("display_name", "display_name_address", "lookalike_domain", "reply_to",
                       "link_mismatch")


@dataclass(frozen=True)
class Timeouts:
    """Seconds allowed per scanner call (connect included) and for the connect alone."""
    clamd: float = 30.0
    rspamd: float = 20.0
    connect: float = 3.0


@dataclass(frozen=True)
class Scanners:
    clamd: str | None = None          # "host:port" or a unix socket path
    rspamd: str | None = None         # "http://host:port"
    timeouts: Timeouts = Timeouts()


@dataclass(frozen=True)
class ProtectedName:
    """A name only the listed addresses (or, without any, the tenant's domains) may show."""
    name: str
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class SpamThresholds:
    """rspamd score at or above which each action applies; None turns the step off."""
    tag_at: float | None = 6.0
    quarantine_at: float | None = 10.0
    reject_at: float | None = 15.0

    def action(self, score: float) -> str:
        for action, threshold in (("reject", self.reject_at), ("quarantine", self.quarantine_at),
                                  ("tag", self.tag_at)):
            if threshold is not None and score >= threshold:
                return action
        return "pass"


def _default_impersonation() -> tuple[tuple[str, str], ...]:
    return tuple((kind, "quarantine") for kind in IMPERSONATION_KINDS)


@dataclass(frozen=True)
class TenantContent:
    """Per-tenant content policy: what each scan finding does to the message."""
    protect: tuple[ProtectedName, ...] = ()
    virus: str = "reject"
    spam: SpamThresholds = SpamThresholds()
    impersonation: tuple[tuple[str, str], ...] = _default_impersonation()   # (kind, action)
    scanner_down: str = "hold"
    forbid_external_reply_to: bool = False
    trusted_link_domains: tuple[str, ...] = ()   # click-tracking / redirect hosts links may go to

    def impersonation_action(self, kind: str) -> str:
        return dict(self.impersonation).get(kind, "quarantine")


# ---------------------------------------------------------------------------
def _scanner_address(s: Section, key: str) -> str | None:
    value = s.str(key, None, expected="host:port or the absolute path of a unix socket")
    if value is None:
        return None
    value = value.strip()
    if key == "rspamd":
        if not (value.startswith("http://") or value.startswith("https://")):
            s.fail(key, "an http:// or https:// URL such as http://127.0.0.1:11333",
                   "something else")
            return None
        return value.rstrip("/")
    if value.startswith("/"):
        return value
    from postwarden.config.reader import parse_hostport
    if parse_hostport(value) is None:
        s.fail(key, "host:port or the absolute path of a unix socket", "something else")
        return None
    return value


def parse_scanners(top: Section) -> Scanners:
    s = top.section("scanners")
    clamd = _scanner_address(s, "clamd")
    rspamd = _scanner_address(s, "rspamd")
    t = s.section("timeouts")
    defaults = Timeouts()
    timeouts = Timeouts(
        clamd=t.duration("clamd", defaults.clamd),
        rspamd=t.duration("rspamd", defaults.rspamd),
        connect=t.duration("connect", defaults.connect),
    )
    for key in ("clamd", "rspamd", "connect"):
        if getattr(timeouts, key) <= 0:
            t.fail(key, "a duration above zero such as 5s", "0")
    t.done()
    s.done()
    return Scanners(clamd=clamd, rspamd=rspamd, timeouts=timeouts)


def _parse_protect(tenant: Section) -> tuple[ProtectedName, ...]:
    s = tenant.section("protect")
    raw = s.raw("names", None)
    names: list[ProtectedName] = []
    if raw is not None and not isinstance(raw, list):
        s.fail("names", "a list of names, or of {name, addresses} mappings", type(raw).__name__)
        raw = []
    for index, entry in enumerate(raw or []):
        if isinstance(entry, str) and entry.strip():
            names.append(ProtectedName(entry.strip()))
            continue
        if isinstance(entry, dict):
            item = Section(entry, f"{s.where('names')}[{index}]", s.problems, s.tenant)
            name = item.str("name", expected="the protected display name")
            addresses = item.str_list("addresses", (), expected="a list of email addresses",
                                      item=lambda x: "@" in x)
            item.done()
            if name:
                names.append(ProtectedName(name.strip(),
                                           tuple(a.strip().lower() for a in addresses or ())))
            continue
        s.fail(f"names[{index}]", "a name, or a mapping {name, addresses}",
               type(entry).__name__ if entry is not None else "nothing")
    s.done()
    return tuple(names)


def _parse_threshold(s: Section, key: str, default: float | None) -> float | None:
    if key in s.data and s.data[key] in (None, "off"):
        s.raw(key)
        return None
    value = s.number(key, default)
    if value is not None and value < 0:
        s.fail(key, "a score of at least 0 (or off)", str(value))
    return value


def _parse_spam(policy: Section) -> SpamThresholds:
    s = policy.section("spam")
    defaults = SpamThresholds()
    spam = SpamThresholds(
        tag_at=_parse_threshold(s, "tag_at", defaults.tag_at),
        quarantine_at=_parse_threshold(s, "quarantine_at", defaults.quarantine_at),
        reject_at=_parse_threshold(s, "reject_at", defaults.reject_at),
    )
    steps = [(k, v) for k, v in (("tag_at", spam.tag_at), ("quarantine_at", spam.quarantine_at),
                                 ("reject_at", spam.reject_at)) if v is not None]
    for (low_key, low), (high_key, high) in zip(steps, steps[1:]):
        if high < low:
            s.fail(high_key, f"a score at or above {low_key} ({low:g})", f"{high:g}")
    s.done()
    return spam


def _parse_impersonation(policy: Section) -> tuple[tuple[str, str], ...]:
    raw = policy.raw("impersonation", None)
    actions = _default_impersonation()
    if raw is None:
        return actions
    if isinstance(raw, str):
        if raw not in ACTIONS:
            policy.fail("impersonation", "one of " + ", ".join(ACTIONS) +
                        ", or a mapping of kind to action", "an unknown action")
            return actions
        return tuple((kind, raw) for kind in IMPERSONATION_KINDS)
    s = Section(raw, policy.where("impersonation"), policy.problems, policy.tenant)
    default = s.choice("default", ACTIONS, "quarantine")
    actions = tuple((kind, s.choice(kind, ACTIONS, default) or default) for kind in IMPERSONATION_KINDS)
    s.done()
    return actions


def parse_tenant(tenant: Section) -> TenantContent:
    protect = _parse_protect(tenant)
    s = tenant.section("content_policy")
    content = TenantContent(
        protect=protect,
        virus=s.choice("virus", VIRUS_ACTIONS, "reject") or "reject",
        spam=_parse_spam(s),
        impersonation=_parse_impersonation(s),
        scanner_down=s.choice("scanner_down", SCANNER_DOWN, "hold") or "hold",
        forbid_external_reply_to=bool(s.bool("forbid_external_reply_to", False)),
        trusted_link_domains=tuple(d.lower().rstrip(".") for d in s.str_list(
            "trusted_link_domains", (), expected="a list of domain names such as click.esp.example",
            item=lambda x: bool(re.fullmatch(DOMAIN, x.rstrip(".")))) or ()),
    )
    s.done()
    return content
