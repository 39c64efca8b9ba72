"""Reason codes of the scan stage and the sentence a DSN or an operator sees for each.

One place for the words: the DSN builder calls `dsn_text(result)`; the
quarantine listing shows the same sentence.  A sentence may name a virus
signature, a score or a domain, never message content or the malware itself.

Reads: a `StageResult` of the scan stage.  Holds no secrets.
"""

from __future__ import annotations

from postwarden.verdicts import StageResult

STAGE = "scan"

VIRUS = "scan.virus"
CLEAN = "scan.clean"
SPAM = "scan.spam"
HAM = "scan.ham"
IMPERSONATION = "scan.impersonation"            # + "." + kind
NO_IMPERSONATION = "scan.impersonation.none"
SCANNER_DOWN = "scan.scanner_down"
NOT_CONFIGURED = "scan.not_configured"

HEADER_SPAM = "X-Postwarden-Spam"
HEADER_IMPERSONATION = "X-Postwarden-Impersonation"

_TEXT = {
    VIRUS: "The message contains malware ({signature}) and was not delivered.",
    SPAM: "The message was classified as spam (score {score}) and was not delivered.",
    SCANNER_DOWN: "The message could not be scanned for malware and spam yet; delivery will be retried.",
    IMPERSONATION + ".display_name": "The sender's display name claims a protected name it may not use.",
    IMPERSONATION + ".display_name_address": "The sender's display name shows an email address that is not the sender's.",
    IMPERSONATION + ".lookalike_domain": "The message refers to a domain that imitates one of the organisation's domains ({detail}).",
    IMPERSONATION + ".reply_to": "The Reply-To address is outside the organisation's domains, which its policy forbids.",
    IMPERSONATION + ".link_mismatch": "A link shows one domain but leads to another ({detail}).",
}


def dsn_text(result: StageResult) -> str:
    """The human sentence for a scan result (for DSNs, webhooks and the quarantine view)."""
    template = _TEXT.get(result.reason, "The message was stopped by the content scan ({reason}).")
    facts = {"reason": result.reason, "signature": "unnamed", "score": "?", "detail": ""}
    facts.update({k: str(v) for k, v in result.details.items()})
    try:
        return template.format(**facts)
    except (KeyError, IndexError, ValueError):
        return template
