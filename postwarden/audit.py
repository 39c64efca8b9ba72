"""Audit events: one record per step in a message's life, built from its stage results.

`event(message, kind, actor, ...)` makes an AuditEvent record (schemas/
audit_event.avsc) from a `Message`; it copies envelope facts and the stage
results, never content.  `Auditor` publishes them on the audit topic keyed by
message id, through a producer the component already has.
"""

from __future__ import annotations

import os
import socket
import uuid
from typing import Iterable, Mapping

from postwarden import codec, topics
from postwarden.message import Message
from postwarden.verdicts import StageResult, Verdict, now_ms

SCHEMA = "postwarden.AuditEvent"
NODE = f"{socket.gethostname()}:{os.getpid()}"   # which process wrote the event (message trace)
KINDS = ("accepted", "refused", "scanned", "tagged", "quarantined", "released", "deleted",
         "rejected", "dlp_matched", "signed", "delivered", "deferred", "bounced", "expired",
         "dsn_sent", "dead_lettered", "other")


def event(message: Message, kind: str, actor: str, *, results: Iterable[StageResult] | None = None,
          recipients: Iterable[str] | None = None, reply: Mapping | None = None,
          tls: Mapping[str, str] | None = None, details: Mapping[str, str] | None = None) -> dict:
    if kind not in KINDS:
        raise ValueError(f"unknown audit event kind {kind!r}")
    return {
        "event_id": uuid.uuid4().hex,
        "message_id": message.id,
        "tenant_id": message.tenant_id,
        "app_id": message.app_id,
        "at": now_ms(),
        "event": kind,
        "actor": actor,
        "envelope_sender": message.envelope_sender,
        "recipients": list(message.recipients if recipients is None else recipients),
        "results": [r.to_record() for r in (message.results if results is None else results)],
        "reply": dict(reply) if reply else None,
        "tls": {str(k): str(v) for k, v in (tls or {}).items()},
        "details": {"node": NODE, **{str(k): str(v) for k, v in (details or {}).items()}},
    }


def refusal(*, message_id: str, tenant_id: str, app_id: str, envelope_sender: str,
            recipients: Iterable[str], reply: str, client_address: str) -> dict:
    """An audit event for a submission ingress refused at SMTP time (no message was queued)."""
    code, _, rest = reply.partition(" ")
    enhanced, _, text = rest.partition(" ")
    return {
        "event_id": uuid.uuid4().hex, "message_id": message_id, "tenant_id": tenant_id,
        "app_id": app_id, "at": now_ms(), "event": "refused", "actor": "ingress",
        "envelope_sender": envelope_sender, "recipients": list(recipients),
        "results": [StageResult("ingress", Verdict.TEMPFAIL if code.startswith("4") else Verdict.REJECT,
                                "ingress.refused",
                                {"client_address": client_address}).to_record()],
        "reply": {"code": int(code), "enhanced": enhanced, "text": text[:500], "host": ""},
        "tls": {}, "details": {"node": NODE},
    }


def encode(record: dict) -> bytes:
    return codec.encode(SCHEMA, record)


class Auditor:
    """Sends audit events through an aiokafka producer (acks=all)."""

    def __init__(self, producer, actor: str):
        self.producer = producer
        self.actor = actor

    async def emit(self, message: Message, kind: str, **fields) -> None:
        record = event(message, kind, fields.pop("actor", self.actor), **fields)
        await self.producer.send_and_wait(topics.AUDIT, encode(record), key=message.id.encode())

    async def emit_soon(self, message: Message, kind: str, **fields):
        """Queue the event and return the delivery future (for batching with other sends)."""
        record = event(message, kind, fields.pop("actor", self.actor), **fields)
        return await self.producer.send(topics.AUDIT, encode(record), key=message.id.encode())
