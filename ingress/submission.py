"""The submission handler: every decision ingress makes about a message, at SMTP time.

Fast checks only (DESIGN.md, "Fast path"): credentials and source address
(AUTH), envelope sender granted and the app's rate limit (MAIL), recipient
count (RCPT), header From/Sender granted (DATA), size (aiosmtpd's SIZE/552).  Then the message gets an
id, is stamped, sealed under its tenant's data key and published to the
submitted topic with acks=all; the client hears 250 only after that ack, and
451 when the broker cannot take it within `publish_timeout`.

Reads untrusted input: SMTP commands, AUTH credentials and the message header
section (parsed only for From/Sender).  Holds secrets: clear passwords during
AUTH (never logged) and message content until it is sealed.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from email.parser import BytesHeaderParser
from email.policy import compat32

from aiosmtpd.smtp import AuthResult, LoginPassword

from ingress import replies
from ingress.ratelimit import RateLimiter
from postwarden import audit, passwords, topics
from postwarden.config.model import App
from postwarden.crypto import Sealed
from postwarden.ids import new_message_id
from postwarden.message import Message
from postwarden.verdicts import StageResult, Verdict

log = logging.getLogger("postwarden.ingress")


def split_header(content: bytes) -> tuple[bytes, bytes]:
    """(header section, rest) at the first empty line (CRLF or LF)."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        index = content.find(separator)
        if index >= 0:
            return content[:index + len(separator) // 2], content[index + len(separator) // 2:]
    return content, b""


def header_addresses(header_section: bytes, name: str) -> tuple[list[str] | None, int]:
    """(addresses, number of such header fields); addresses None if any is unparseable."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(header_section + b"\r\n")
    values = headers.get_all(name) or []
    addresses = []
    for _display, address in email.utils.getaddresses([str(v) for v in values]):
        if not address or "@" not in address or any(c in address for c in " <>\"\\,;"):
            return None, len(values)
        addresses.append(address.lower())
    if values and not addresses:
        return None, len(values)
    return addresses, len(values)


class SubmissionHandler:
    """aiosmtpd handler hooks; one instance serves every session of a listener."""

    def __init__(self, registry, keyring, producer, blobs, *, actor: str = "ingress",
                 implicit_tls: bool = False, rate_limiter: RateLimiter | None = None):
        self.registry = registry
        self.keyring = keyring
        self.producer = producer
        self.blobs = blobs
        self.auditor = audit.Auditor(producer, actor)
        self.implicit_tls = implicit_tls
        self.rate_limiter = rate_limiter or RateLimiter()

    @property
    def config(self):
        return self.registry.config

    # -- AUTH (aiosmtpd's `authenticator` callable) --------------------------
    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        username = auth_data.login.decode("utf-8", "replace")
        app = self.config.app_by_username(username)
        if app is None or not passwords.verify(auth_data.password.decode("utf-8", "replace"),
                                               app.password_hash):
            log.info("auth failed for %r from %s", username[:64], session.peer[0])
            return AuthResult(success=False, handled=False, message=replies.AUTH_INVALID)
        if not app.may_connect_from(session.peer[0]):
            log.info("auth refused for app %s/%s from %s: address not allowed",
                     app.tenant_id, app.id, session.peer[0])
            return AuthResult(success=False, handled=False,
                              message=replies.AUTH_CLIENT_NOT_ALLOWED.format(ip=session.peer[0]))
        return AuthResult(success=True, auth_data=app.username)

    def _app(self, session) -> App | None:
        """The session's app as configured now (a config change applies at once)."""
        if not session.authenticated or not session.auth_data:
            return None
        return self.config.app_by_username(session.auth_data)

    # -- SMTP hooks -----------------------------------------------------------
    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        app = self._app(session)
        if app is None:
            return replies.CONFIG_CHANGED if session.authenticated else replies.AUTH_REQUIRED
        if not address:
            return self._refused(app, session, address, [], replies.NULL_SENDER_REFUSED)
        if not app.may_send_as(address):
            return self._refused(app, session, address, [],
                                 replies.SENDER_NOT_GRANTED.format(address=address, app=app.id))
        if app.rate_limit and not self.rate_limiter.allow(f"{app.tenant_id}/{app.id}", *app.rate_limit):
            return self._refused(app, session, address, [], replies.RATE_LIMITED.format(app=app.id))
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return replies.SENDER_OK

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if len(envelope.rcpt_tos) >= self.config.ingress.max_recipients:
            return replies.TOO_MANY_RECIPIENTS.format(limit=self.config.ingress.max_recipients)
        if "@" not in address or address.startswith("@") or address.endswith("@"):
            return replies.BAD_ADDRESS.format(reason="a recipient must be local@domain")
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return replies.RECIPIENT_OK

    async def handle_DATA(self, server, session, envelope):
        app = self._app(session)
        if app is None:
            return replies.CONFIG_CHANGED
        content: bytes = envelope.original_content or envelope.content
        header_section, _body = split_header(content)
        refusal, header_from = self._check_headers(app, header_section)
        if refusal:
            return self._refused(app, session, envelope.mail_from, envelope.rcpt_tos, refusal)

        received_at = int(time.time() * 1000)
        message_id = new_message_id(received_at)
        content = self._stamp(content, header_section, message_id, session, envelope)
        data_key = self.registry.data_key(app.tenant_id)
        if data_key is None:
            log.error("no data key for tenant %s: was the config applied?", app.tenant_id)
            return replies.BROKER_UNAVAILABLE
        draft = Message(
            id=message_id, tenant_id=app.tenant_id, app_id=app.id, received_at=received_at,
            client_address=session.peer[0], auth_user=app.username,
            helo=(session.host_name or "")[:255], envelope_sender=envelope.mail_from,
            recipients=tuple(envelope.rcpt_tos), header_from=tuple(header_from),
            size=len(content), payload=Sealed(data_key.key_id, data_key.wrapped, b"", b""),
        )
        message = draft.seal_content(self.keyring, content, self.blobs, self.config.inline_limit)
        message = message.with_result(StageResult("ingress", Verdict.PASS, "ingress.accepted",
                                                  {"tls": self._tls_version(session)}))
        try:
            await self._publish(message)
        except Exception as error:  # any broker trouble: the client must retry, never a 250
            log.warning("message %s not queued, answering 451: %s", message_id,
                        type(error).__name__)
            if message.blob_ref:
                self.blobs.delete(message.blob_ref)
            return replies.BROKER_UNAVAILABLE
        log.info("accepted %s tenant=%s app=%s rcpts=%d size=%d", message_id, app.tenant_id,
                 app.id, len(message.recipients), message.size)
        return replies.ACCEPTED.format(message_id=message_id)

    # -- helpers ----------------------------------------------------------------
    def _refused(self, app: App, session, sender: str, recipients, reply: str) -> str:
        """Record a policy refusal on the audit topic (best effort: the client already knows)."""
        record = audit.refusal(message_id=new_message_id(), tenant_id=app.tenant_id, app_id=app.id,
                               envelope_sender=sender or "", recipients=recipients, reply=reply,
                               client_address=session.peer[0])
        log.info("refused tenant=%s app=%s: %s", app.tenant_id, app.id, reply)
        task = asyncio.ensure_future(self.producer.send(topics.AUDIT, audit.encode(record),
                                                        key=record["message_id"].encode()))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return reply

    def _check_headers(self, app: App, header_section: bytes) -> tuple[str | None, list[str]]:
        try:
            from_addresses, from_count = header_addresses(header_section, "From")
            sender_addresses, _ = header_addresses(header_section, "Sender")
        except Exception:
            return replies.MALFORMED_HEADERS, []
        if from_count == 0:
            return replies.FROM_MISSING, []
        if from_count > 1:
            return replies.FROM_MULTIPLE, []
        if from_addresses is None:
            return replies.FROM_UNPARSEABLE, []
        for address in from_addresses:
            if not app.may_send_as(address):
                return replies.FROM_NOT_GRANTED.format(address=address, app=app.id), []
        if sender_addresses is None:
            return replies.FROM_UNPARSEABLE, []
        for address in sender_addresses:
            if not app.may_send_as(address):
                return replies.SENDER_HEADER_NOT_GRANTED.format(address=address, app=app.id), []
        return None, from_addresses

    def _tls_version(self, session) -> str:
        ssl_object = (session.ssl or {}).get("ssl_object") if isinstance(session.ssl, dict) else None
        if ssl_object is not None:
            return ssl_object.version() or "tls"
        return "implicit" if self.implicit_tls else "none"

    def _stamp(self, content: bytes, header_section: bytes, message_id: str, session,
               envelope) -> bytes:
        """Prepend trace headers; add Message-ID and Date when the app left them out (RFC 6409)."""
        hostname = self.config.ingress.hostname
        newline = b"\r\n" if b"\r\n" in header_section or not header_section else b"\n"
        lower = header_section.lower()
        added = [
            f"Received: from {(session.host_name or 'unknown')[:64]} ([{session.peer[0]}])"
            f" by {hostname} (Postwarden) with ESMTPSA id {message_id};"
            f" {email.utils.formatdate(localtime=False)}",
            f"X-Postwarden-Id: {message_id}",
        ]
        if not lower.startswith(b"message-id:") and b"\nmessage-id:" not in lower:
            added.append(f"Message-ID: <{message_id}@{hostname}>")
        if not lower.startswith(b"date:") and b"\ndate:" not in lower:
            added.append(f"Date: {email.utils.formatdate(localtime=False)}")
        return newline.join(line.encode() for line in added) + newline + content

    async def _publish(self, message: Message) -> None:
        timeout = self.config.ingress.publish_timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        value = message.encode()
        submitted = await asyncio.wait_for(
            self.producer.send(topics.SUBMITTED, value, key=message.id.encode()), timeout)
        accepted = await asyncio.wait_for(
            self.auditor.emit_soon(message, "accepted", results=message.results),
            max(0.1, deadline - loop.time()))
        await asyncio.wait_for(asyncio.gather(submitted, accepted),
                               max(0.1, deadline - loop.time()))
