"""The DLP decision: a tenant's rules applied to the findings, as stage results.

`decide(findings, policy)` returns one `StageResult` (stage "dlp") per rule
that matched, most severe first, or a single PASS when none did:

    block               REJECT      reason dlp.<rule>  (the DSN names the rule)
    quarantine          QUARANTINE  reason dlp.<rule>
    require_encryption  PASS        details require_encryption=tls|smime
    allow_and_log       PASS        reason dlp.<rule>
    mode: log_only      PASS        details mode=log_only, would=<verdict>

Details hold the rule, its action and `type:location:count` triples, never a
matched value.  Pure: reads the findings and the policy, writes nothing.
"""

from __future__ import annotations

from postwarden.config.dlp import DlpPolicy, DlpRule
from postwarden.verdicts import StageResult, Verdict

from agents.dlp.findings import Findings

STAGE = "dlp"
REASON_PASS = "dlp.pass"

VERDICT_OF_ACTION = {
    "block": Verdict.REJECT,
    "quarantine": Verdict.QUARANTINE,
    "require_encryption": Verdict.PASS,
    "allow_and_log": Verdict.PASS,
}


def reason_for(rule: DlpRule) -> str:
    return f"dlp.{rule.name}"


def decide(findings: Findings, policy: DlpPolicy) -> list[StageResult]:
    """The stage results for these findings under the tenant's rules."""
    results: list[StageResult] = []
    for rule in policy.rules:
        hits = [f for f in findings if f.type in rule.detectors and f.location in rule.where]
        if not hits or sum(f.count for f in hits) < rule.min_count:
            continue
        details = {"rule": rule.name, "action": rule.action, "mode": rule.mode,
                   "findings": findings.summary(hits)}
        verdict = VERDICT_OF_ACTION[rule.action]
        if rule.log_only:
            details["would"] = verdict.value
            if rule.action == "require_encryption":
                details["would_require_encryption"] = rule.encryption
            results.append(StageResult(STAGE, Verdict.PASS, reason_for(rule), details))
            continue
        if rule.action == "require_encryption":
            details["require_encryption"] = rule.encryption
        results.append(StageResult(STAGE, verdict, reason_for(rule), details))
    if not results:
        details = {"findings": findings.summary()} if findings else {}
        return [StageResult(STAGE, Verdict.PASS, REASON_PASS, details)]
    results.sort(key=lambda r: -r.verdict.severity)
    return results
