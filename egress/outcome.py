"""The result of one delivery attempt for one recipient: `RecipientOutcome`.

Built by the engine from what the receiving server answered (or from a local
reply in egress/replies.py) and read by the egress worker for audit events,
retries and DSNs.  `reply_parts` splits an untrusted server reply into code,
enhanced status and text.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace

from egress.replies import LocalReply

DELIVERED, DEFERRED, BOUNCED = "delivered", "deferred", "bounced"

_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b\s*")


@dataclass
class RecipientOutcome:
    recipient: str
    status: str                 # "delivered" | "deferred" | "bounced"
    code: int                   # SMTP reply code (from the server or local)
    enhanced: str               # RFC 3463 status such as 5.1.1
    text: str                   # reply text without code and enhanced status
    host: str                   # the server that answered ("" when decided locally)
    tls: dict[str, str] = field(default_factory=dict)   # version, cipher, verified, policy
    bounce_class: str | None = None   # mailbox_full | unknown_user | policy | reputation | other
    source_address: str = ""    # the egress address (IP pool member) the connection used
    helo: str = ""              # the HELO name we gave
    remote_address: str = ""    # the server IP we talked to
    smime: bool = False         # the content delivered was S/MIME-encrypted
    duplicate: bool = False     # already delivered earlier: nothing sent this time

    @property
    def final(self) -> bool:
        return self.status != DEFERRED

    def to_record(self) -> dict[str, str]:
        """Flat strings for an audit event's details map."""
        record = {k: ("" if v is None else str(v)) for k, v in asdict(self).items() if k != "tls"}
        record.update({f"tls_{k}": v for k, v in self.tls.items()})
        return record


def expire(outcome: RecipientOutcome) -> RecipientOutcome:
    """A deferred outcome turned into the final bounce when the message's max age is over."""
    from egress.replies import EXPIRED
    last = f"{outcome.code} {outcome.enhanced} {outcome.text}".strip()
    return replace(outcome, status=BOUNCED, code=EXPIRED.code, enhanced=EXPIRED.enhanced,
                   text=f"{EXPIRED.text}; last error: {last}",
                   bounce_class=outcome.bounce_class or "other")


def reply_parts(code: int, message: str) -> tuple[str, str]:
    """(enhanced status, text) from a server reply text; derive the status if absent."""
    message = " ".join(line.strip() for line in (message or "").splitlines()).strip()
    match = _ENHANCED.match(message)
    if match and match.group(1) == str(code)[0]:
        return f"{match.group(1)}.{match.group(2)}.{match.group(3)}", message[match.end():]
    return f"{str(code)[0]}.0.0" if 200 <= code < 600 else "4.0.0", message


def status_for(code: int) -> str:
    if 200 <= code < 300:
        return DELIVERED
    if code >= 500:
        return BOUNCED
    return DEFERRED


def from_local(recipient: str, reply: LocalReply, *, host: str = "", tls: dict | None = None,
               **extra) -> RecipientOutcome:
    from egress.bounces import classify
    status = DELIVERED if reply.code < 300 else reply.status
    return RecipientOutcome(recipient, status, reply.code, reply.enhanced, reply.text, host,
                            dict(tls or {}), classify(reply.code, reply.enhanced, reply.text)
                            if status != DELIVERED else None, **extra)
