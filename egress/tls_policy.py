"""Which TLS a delivery needs: per tenant, per route, MTA-STS and DANE combined.

`Requirement` is what one connection must achieve: `require` (no delivery in
clear: defer instead), `verify` (certificate chain and name checked against
`server_name`), or DANE-EE `tlsa` records to match.  `level_requirement`
turns opportunistic|required|verify into one; `stronger` keeps the stricter of
two (a route can raise a tenant's floor, never lower it).  The engine asks
MTA-STS (egress/mta_sts.py) for the domain and DANE (egress/dane.py) per MX
host when the tenant's policy is `mta-sts` or `dane`.

`tls_record(ssl_object, requirement, verified)` is the TLS outcome written to
the audit event: protocol version, cipher, verified or not, the policy.

Pure; parses nothing untrusted itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

LEVELS = {"opportunistic": 0, "required": 1, "verify": 2}


@dataclass(frozen=True)
class Requirement:
    policy: str                 # the name recorded in the audit event
    require: bool = False
    verify: bool = False
    server_name: str = ""
    tlsa: tuple = ()            # DNSSEC-validated TLSA records (DANE)

    @property
    def dane(self) -> bool:
        return bool(self.tlsa)

    def signature(self) -> tuple:
        """What a reused connection must have been opened with."""
        return (self.policy, self.require, self.verify, self.server_name, self.tlsa)


def level_requirement(level: str, server_name: str) -> Requirement:
    rank = LEVELS.get(level, 0)
    return Requirement(level if level in LEVELS else "opportunistic", rank >= 1, rank >= 2,
                       server_name)


def stronger(a: Requirement, b: Requirement) -> Requirement:
    """The stricter of two requirements (DANE and verification win over weaker ones)."""
    def rank(r: Requirement) -> tuple:
        return (r.dane, r.verify, r.require)
    return a if rank(a) >= rank(b) else b


def with_name(requirement: Requirement, server_name: str) -> Requirement:
    return replace(requirement, server_name=server_name)


def tls_record(ssl_object, requirement: Requirement, verified: bool) -> dict[str, str]:
    if ssl_object is None:
        return {"version": "none", "cipher": "", "verified": "false",
                "policy": requirement.policy}
    cipher = ssl_object.cipher()
    return {"version": ssl_object.version() or "", "cipher": cipher[0] if cipher else "",
            "verified": "true" if verified else "false", "policy": requirement.policy}
