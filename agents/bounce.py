"""DSNs for messages the agents refuse (policy rejects: virus, DLP block, unsignable).

A rejected message's envelope sender gets an RFC 3464 report naming the reason
code and a human sentence, never the offending content (no malware payload,
no matched card number): egress.dsn includes only the original's headers.
The DSN is itself a Message (is_dsn, null envelope sender) from
MAILER-DAEMON at the tenant's domain, DKIM-signed like any other mail, and it
is never bounced in turn.
"""

from __future__ import annotations

import logging

from postwarden.config.model import Config
from postwarden.crypto import Sealed
from postwarden.ids import new_message_id
from postwarden.message import Message
from postwarden.verdicts import StageResult, Verdict, now_ms

log = logging.getLogger("postwarden.agents")

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
    from agents.sign.stage import sign_submission
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
    signed, sign_result = sign_submission(report, tenant)
    if signed is None:
        log.warning("DSN for %s could not be signed: %s", message.id, sign_result.reason)
        signed = report
    dsn_id = new_message_id()
    dsn = Message(
        id=dsn_id, tenant_id=message.tenant_id, app_id=message.app_id, received_at=now_ms(),
        client_address="", auth_user="", envelope_sender="",
        recipients=(message.envelope_sender,), header_from=(f"mailer-daemon@{domain.name}",),
        size=len(signed), payload=Sealed(message.payload.key_id, message.payload.wrapped_key, b"", b""),
        is_dsn=True, results=(StageResult("agents", Verdict.PASS, "dsn.rejection",
                                          {"original": message.id, "reason": reason}),),
    )
    return dsn.seal_content(keyring, signed, blobs, config.inline_limit)
