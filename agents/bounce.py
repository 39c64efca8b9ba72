"""DSNs for messages the agents refuse (policy rejects: virus, DLP block, unsignable).

A rejected message's envelope sender gets an RFC 3464 report naming the reason
code and a human sentence, never the offending content (no malware payload,
no matched card number): egress.dsn includes only the original's headers.
The DSN is itself a Message (is_dsn, null envelope sender) from
MAILER-DAEMON at the tenant's domain; it goes to the released topic, where the
agents sign it like any other mail, and it is never bounced in turn.
"""

from __future__ import annotations

from postwarden.config.model import Config
from postwarden.ids import new_message_id
from postwarden.message import Message
from postwarden.verdicts import StageResult, Verdict, now_ms

# what the sender reads for each reason family (the reason code follows it)
REASON_TEXT = {
    "scan.virus": "the message contains malware",
    "scan.spam": "the message was classified as spam",
    "scan.impersonation": "the message impersonates a protected name or domain",
    "dlp": "the message contains data that policy forbids sending",
    "sign": "the message cannot be signed for its From domain",
}


def reason_text(reason: str) -> str:
    for prefix, text in REASON_TEXT.items():
        if reason == prefix or reason.startswith(prefix + "."):
            return text
    return "the message was refused by policy"


def rejection_dsn(message: Message, content: bytes, result: StageResult | None, config: Config,
                  keyring, blobs) -> Message | None:
    """The sealed DSN for a rejected message; it is signed on its way out (the released topic)."""
    from egress.dsn import build_dsn
    from egress.engine import RecipientOutcome

    tenant = config.tenant(message.tenant_id)
    if tenant is None or not tenant.domains:
        return None
    reason = result.reason if result else "policy"
    text = f"{reason_text(reason)} ({reason})"
    failed = [RecipientOutcome(recipient=r, status="bounced", code=550, enhanced="5.7.1", text=text,
                               host=config.ingress.hostname, tls={}, bounce_class="policy")
              for r in message.recipients]
    sender_domain = message.envelope_sender.rsplit("@", 1)[-1].lower()
    domain = tenant.domain(sender_domain) or next((d for d in tenant.domains if d.dkim), tenant.domains[0])
    report = build_dsn(message, content, failed, config.ingress.hostname, kind="failure",
                       from_domain=domain.name)
    dsn = Message.dsn_for(message, domain.name,
                          StageResult("agents", Verdict.PASS, "dsn.rejection",
                                      {"original": message.id, "reason": reason}),
                          new_message_id(), now_ms())
    return dsn.seal_content(keyring, report, blobs, config.inline_limit)
