"""Delivery status notifications (RFC 3464 multipart/report) for the envelope sender.

`build_dsn(message, content, failed, reporting_mta, kind)` writes a bounce
(kind="failure") or a delay warning (kind="delay") addressed to the original
envelope sender, from MAILER-DAEMON at the sender's own domain (a tenant
domain, so the DSN can be DKIM-signed like any other tenant mail) or else at
the reporting host.  It carries a human-readable part, the machine-readable
message/delivery-status part and only the *headers* of the original
(text/rfc822-headers), never its body: the body may hold what DLP protects.
The caller never builds a DSN for a DSN or for an empty envelope sender
(`may_send_dsn`).

Parses untrusted input: the original headers (copied, length-capped) and
server reply texts (control characters stripped so they cannot inject
header lines).
"""

from __future__ import annotations

import re
import uuid
from email.utils import format_datetime, formatdate
from datetime import datetime, timezone

from egress.outcome import RecipientOutcome
from egress.replies import EXPIRED

MAX_HEADER_BYTES = 64 * 1024
_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def may_send_dsn(message) -> bool:
    """RFC 3464/5321: never bounce a bounce, never to the null sender."""
    return bool(message.envelope_sender) and not message.is_dsn and \
        message.envelope_sender != "<>"


def original_headers(content: bytes) -> bytes:
    """The header block of an RFC 5322 message (up to the first blank line), CRLF, capped."""
    text = content.replace(b"\r\n", b"\n")
    head, sep, _ = text.partition(b"\n\n")
    if not sep and b"\n" not in text:
        head = b""
    head = head[:MAX_HEADER_BYTES]
    if len(head) == MAX_HEADER_BYTES:
        head = head[:head.rfind(b"\n")]
    return head.replace(b"\n", b"\r\n") + b"\r\n"


def _clean(text: str) -> str:
    return _UNSAFE.sub(" ", text or "").strip()[:900]


def _date(ms: int | None = None) -> str:
    if not ms:
        return formatdate(localtime=False, usegmt=True)
    return format_datetime(datetime.fromtimestamp(ms / 1000, tz=timezone.utc), usegmt=True)


def build_dsn(message, content: bytes, failed: list[RecipientOutcome], reporting_mta: str,
              kind: str = "failure", *, will_retry_until_ms: int | None = None,
              from_domain: str | None = None) -> bytes:
    if kind not in ("failure", "delay"):
        raise ValueError(f"kind must be 'failure' or 'delay', not {kind!r}")
    sender_domain = message.envelope_sender.rpartition("@")[2] if "@" in message.envelope_sender else ""
    domain = from_domain or sender_domain or reporting_mta
    boundary = f"=_postwarden_dsn_{uuid.uuid4().hex}"
    action = "failed" if kind == "failure" else "delayed"
    subject = ("Undelivered Mail Returned to Sender" if kind == "failure"
               else "Delayed Mail (still being retried)")

    human = [f"This is the mail system at {reporting_mta}.", ""]
    if kind == "failure":
        human.append("Your message could not be delivered to one or more recipients. "
                      "It has not been delivered and will not be retried.")
    else:
        human.append("Your message has not been delivered yet to one or more recipients. "
                      "It will be retried; you do not need to send it again.")
        if will_retry_until_ms:
            human.append(f"Delivery will be attempted until {_date(will_retry_until_ms)}.")
    human.append("")
    for outcome in failed:
        where = f" (host {_clean(outcome.host)})" if outcome.host else ""
        human.append(f"<{_clean(outcome.recipient)}>{where}: {outcome.code} {outcome.enhanced} "
                     f"{_clean(outcome.text)}")

    status = [f"Reporting-MTA: dns; {_clean(reporting_mta)}",
              f"X-Postwarden-Message-ID: {_clean(message.id)}",
              f"Arrival-Date: {_date(message.received_at)}"]
    for outcome in failed:
        enhanced = outcome.enhanced or f"{str(outcome.code)[:1]}.0.0"
        if kind == "failure" and not enhanced.startswith("5"):
            enhanced = EXPIRED.enhanced     # a temporary error that ran out of time (5.4.7)
        status += ["",
                   f"Final-Recipient: rfc822; {_clean(outcome.recipient)}",
                   f"Action: {action}",
                   f"Status: {enhanced}"]
        if outcome.host:
            status.append(f"Remote-MTA: dns; {_clean(outcome.host)}")
        status.append(f"Diagnostic-Code: smtp; {outcome.code} {outcome.enhanced} {_clean(outcome.text)}")
        status.append(f"Last-Attempt-Date: {_date()}")
        if kind == "delay" and will_retry_until_ms:
            status.append(f"Will-Retry-Until: {_date(will_retry_until_ms)}")

    lines = [
        f"From: Mail Delivery System <MAILER-DAEMON@{domain}>",
        f"To: <{_clean(message.envelope_sender)}>",
        f"Subject: {subject}",
        f"Date: {_date()}",
        f"Message-ID: <{uuid.uuid4().hex}@{_clean(reporting_mta)}>",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        "This is a MIME-encapsulated message.",
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Description: Notification",
        "",
        *human,
        "",
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "Content-Description: Delivery report",
        "",
        *status,
        "",
        f"--{boundary}",
        "Content-Type: text/rfc822-headers",
        "Content-Description: Undelivered message headers",
        "",
    ]
    head = "\r\n".join(lines).encode("utf-8") + b"\r\n"
    return head + original_headers(content) + f"\r\n--{boundary}--\r\n".encode()
