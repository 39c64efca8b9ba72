"""The scan stage's core: run the scanners on one message and decide, per tenant policy.

`scan_message(content, message_meta, tenant, scanners_config, clients)` asks
clamd and rspamd at the same time (each under its own deadline, so a stuck
scanner delays only the messages it holds and never other tenants beyond
that deadline), runs the impersonation checks, and returns a `ScanOutcome`:
one `StageResult` per check (stage ``scan``) and the headers naming every
non-pass spam or impersonation result (applied whenever the message goes on:
tagged now, or later released from quarantine).  `decide(...)` is the policy alone, pure, for tests and for
re-deciding a quarantined message.

Verdicts come from the tenant's `content_policy`:
- virus found: `virus` (reject by default, or quarantine);
- rspamd score: `spam.tag_at / quarantine_at / reject_at`;
- each impersonation kind: its action (quarantine by default);
- a scanner unreachable, failing or late: `scanner_down` — `hold` gives
  TEMPFAIL (the message is held and retried), `pass` gives PASS with an
  audit note.  Either way a `scan.scanner_down` result is recorded: a scan is
  never skipped silently.

Reads: clear message content (from the caller, which opened the sealed
payload) and the message's envelope facts.  Writes nothing; the caller
records the results.  Details hold scores, symbol names, signature names and
domains, never message content.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from agents.scan import impersonation, reasons
from agents.scan.impersonation import Finding
from agents.scan.scanners import (ClamdClient, ClamdResult, RspamdClient, RspamdResult,
                                  ScannerUnavailable)
from postwarden.config.content import Scanners, TenantContent
from postwarden.verdicts import StageResult, Verdict, strongest

INLINE_CHECK_LIMIT = 256 * 1024      # bytes checked on the event loop; larger ones in a thread
_ACTION_VERDICT = {"pass": Verdict.PASS, "tag": Verdict.TAG, "quarantine": Verdict.QUARANTINE,
                   "reject": Verdict.REJECT}


@dataclass
class ScanClients:
    """The scanner clients a worker shares across messages (None: scanner not configured)."""
    clamd: ClamdClient | None = None
    rspamd: RspamdClient | None = None

    @classmethod
    def from_config(cls, scanners: Scanners) -> "ScanClients":
        t = scanners.timeouts
        return cls(
            clamd=ClamdClient(scanners.clamd, t.clamd, connect_timeout=t.connect)
            if scanners.clamd else None,
            rspamd=RspamdClient(scanners.rspamd, t.rspamd, connect_timeout=t.connect)
            if scanners.rspamd else None)

    async def close(self) -> None:
        if self.rspamd is not None:
            await self.rspamd.close()


@dataclass(frozen=True)
class ScanOutcome:
    results: list[StageResult]
    headers_to_add: list[tuple[str, str]] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        return strongest(self.results)

    @property
    def deciding(self) -> StageResult | None:
        """The result that set the verdict (the first of the most severe ones)."""
        verdict = self.verdict
        return next((r for r in self.results if r.verdict is verdict), None)

    def dsn_text(self) -> str:
        deciding = self.deciding
        return reasons.dsn_text(deciding) if deciding else ""


# ---------------------------------------------------------------------------
def _down(scanner: str, problem: str, policy: TenantContent) -> StageResult:
    if policy.scanner_down == "pass":
        return StageResult(reasons.STAGE, Verdict.PASS, reasons.SCANNER_DOWN,
                           {"scanner": scanner, "error": problem, "policy": "pass",
                            "note": f"passed without {scanner} (fail open)"})
    return StageResult(reasons.STAGE, Verdict.TEMPFAIL, reasons.SCANNER_DOWN,
                       {"scanner": scanner, "error": problem, "policy": "hold"})


def _virus_result(outcome: ClamdResult | ScannerUnavailable | None,
                  policy: TenantContent) -> StageResult:
    if outcome is None:
        return StageResult(reasons.STAGE, Verdict.PASS, reasons.NOT_CONFIGURED,
                           {"scanner": "clamd", "note": "no clamd configured: not scanned for malware"})
    if isinstance(outcome, ScannerUnavailable):
        return _down("clamd", outcome.problem, policy)
    timing = {"scanner": "clamd", "ms": f"{outcome.elapsed_ms:.1f}"}
    if outcome.infected:
        return StageResult(reasons.STAGE, _ACTION_VERDICT[policy.virus], reasons.VIRUS,
                           {**timing, "signature": outcome.signature or "unnamed"})
    return StageResult(reasons.STAGE, Verdict.PASS, reasons.CLEAN, timing)


def _spam_result(outcome: RspamdResult | ScannerUnavailable | None,
                 policy: TenantContent) -> tuple[StageResult, list[tuple[str, str]]]:
    if outcome is None:
        return StageResult(reasons.STAGE, Verdict.PASS, reasons.NOT_CONFIGURED,
                           {"scanner": "rspamd", "note": "no rspamd configured: not scored for spam"}), []
    if isinstance(outcome, ScannerUnavailable):
        return _down("rspamd", outcome.problem, policy), []
    action = policy.spam.action(outcome.score)
    details = {
        "scanner": "rspamd", "ms": f"{outcome.elapsed_ms:.1f}", "score": f"{outcome.score:.2f}",
        "rspamd_action": outcome.action,
        "symbols": ",".join(f"{name}({score:.2f})" for name, score in outcome.top_symbols()),
    }
    verdict = _ACTION_VERDICT[action]
    result = StageResult(reasons.STAGE, verdict, reasons.HAM if action == "pass" else reasons.SPAM,
                         details)
    headers = []
    if verdict is not Verdict.PASS:
        headers.append((reasons.HEADER_SPAM, f"yes; score={outcome.score:.2f}; action={action}"))
    return result, headers


def _impersonation_results(findings: list[Finding], policy: TenantContent
                           ) -> tuple[list[StageResult], list[tuple[str, str]]]:
    if not findings:
        return [StageResult(reasons.STAGE, Verdict.PASS, reasons.NO_IMPERSONATION)], []
    results, tagged = [], []
    for finding in findings:
        verdict = _ACTION_VERDICT[policy.impersonation_action(finding.kind)]
        results.append(StageResult(reasons.STAGE, verdict, finding.reason, {"detail": finding.detail}))
        if verdict is not Verdict.PASS and finding.kind not in tagged:
            tagged.append(finding.kind)
    headers = [(reasons.HEADER_IMPERSONATION, ", ".join(tagged))] if tagged else []
    return results, headers


def decide(policy: TenantContent, *, virus: ClamdResult | ScannerUnavailable | None,
           spam: RspamdResult | ScannerUnavailable | None,
           findings: list[Finding]) -> ScanOutcome:
    """The tenant policy applied to what the scanners and checks found (pure)."""
    results = [_virus_result(virus, policy)]
    spam_result, headers = _spam_result(spam, policy)
    results.append(spam_result)
    impersonation_results, impersonation_headers = _impersonation_results(findings, policy)
    results += impersonation_results
    # Kept whatever the final verdict: they apply whenever the message goes on
    # (tagged now, or later released from quarantine).
    return ScanOutcome(results, headers + impersonation_headers)


# ---------------------------------------------------------------------------
async def _ask(call) -> Any:
    try:
        return await call
    except ScannerUnavailable as error:
        return error


async def scan_message(content: bytes, message_meta, tenant, scanners_config: Scanners | None,
                       clients: ScanClients) -> ScanOutcome:
    """Scan one message for `tenant`; `message_meta` has the envelope facts (a `Message` does).

    `scanners_config` is accepted for the agent's convenience (the clients are
    built from it with `ScanClients.from_config`); the clients carry the
    addresses and deadlines.
    """
    del scanners_config
    virus_call = _ask(clients.clamd.scan(content)) if clients.clamd else None
    spam_call = _ask(clients.rspamd.check(
        content,
        envelope_sender=getattr(message_meta, "envelope_sender", "") or "",
        recipients=tuple(getattr(message_meta, "recipients", ()) or ()),
        client_ip=getattr(message_meta, "client_address", "") or "",
        helo=getattr(message_meta, "helo", "") or "",
        auth_user=getattr(message_meta, "auth_user", "") or "",
        queue_id=getattr(message_meta, "id", "") or "")) if clients.rspamd else None
    pending = [c for c in (virus_call, spam_call) if c is not None]
    answers = iter(await asyncio.gather(*pending))
    virus = next(answers) if virus_call is not None else None
    spam = next(answers) if spam_call is not None else None
    if len(content) > INLINE_CHECK_LIMIT:      # big messages: parse off the event loop
        findings = await asyncio.to_thread(impersonation.check, content, tenant)
    else:
        findings = impersonation.check(content, tenant)
    return decide(tenant.content, virus=virus, spam=spam, findings=findings)
