"""Bounce classification: why a receiving server refused a recipient.

`classify(code, enhanced, text)` maps a failure reply to one of
mailbox_full, unknown_user, policy, reputation or other, from the RFC 3463
provider wording for reputation blocks first (they come with many codes),
then the RFC 3463 enhanced status, then the wording of the text.  It goes into the audit
event so operators can tell a dead address from a blocked IP.

Parses untrusted input: server reply text (matched only, never executed).
"""

from __future__ import annotations

import re

MAILBOX_FULL, UNKNOWN_USER, POLICY, REPUTATION, OTHER = (
    "mailbox_full", "unknown_user", "policy", "reputation", "other")

_REPUTATION = re.compile(
    r"\b(reputation|blocklist|blacklist|block list|black list|rbl|dnsbl|spamhaus|spamcop|"
    r"barracuda|listed|poor sender|ip .{0,20}blocked|sender score|too many complaints|"
    r"rate limited|unusual rate|temporarily deferred due to)\b", re.I)
_MAILBOX_FULL = re.compile(r"\b(mailbox (is )?full|over ?quota|quota exceeded|insufficient "
                           r"storage|mailbox size limit|out of storage)\b", re.I)
_UNKNOWN_USER = re.compile(r"\b(user unknown|unknown user|no such user|does not exist|"
                           r"mailbox unavailable|invalid recipient|recipient rejected|"
                           r"recipient address rejected|no mailbox|unknown recipient|mailbox not found|"
                           r"not a valid mailbox)\b", re.I)
_POLICY = re.compile(r"\b(policy|spam|dmarc|spf|dkim|content rejected|message rejected|"
                     r"not allowed|denied|relay(ing)? (access )?denied|virus|tls required|"
                     r"encryption)\b", re.I)


def classify(code: int, enhanced: str, text: str) -> str | None:
    """The bounce class of a failure reply; None for a success."""
    if 200 <= code < 300:
        return None
    subject_detail = enhanced.split(".", 1)[1] if "." in enhanced else ""
    if _REPUTATION.search(text):
        return REPUTATION
    if subject_detail == "2.2":
        return MAILBOX_FULL
    if subject_detail in ("1.1", "1.6", "2.1", "1.3"):
        return UNKNOWN_USER
    if subject_detail.startswith("7."):
        return POLICY
    if _MAILBOX_FULL.search(text):
        return MAILBOX_FULL
    if _UNKNOWN_USER.search(text):
        return UNKNOWN_USER
    if _POLICY.search(text):
        return POLICY
    return OTHER
