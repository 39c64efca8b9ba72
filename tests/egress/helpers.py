"""Shared test helpers for the delivery engine: config documents, messages, content."""

from __future__ import annotations

import copy
import time
import uuid

from postwarden.config.model import parse
from postwarden.crypto import Sealed
from postwarden.message import Message

CONTENT = (b"From: Billing <invoices@acme.example>\r\n"
           b"To: someone@example.org\r\n"
           b"Subject: Your invoice\r\n"
           b"Message-ID: <inv-1@acme.example>\r\n"
           b"Date: Fri, 04 Dec 2026 20:00:00 +0000\r\n"
           b"MIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n"
           b"\r\n"
           b"Invoice 42: amount due 10 EUR.\r\n"
           b".leading dot line\r\n")


def document(dns_server=None, *, tenant: dict | None = None, routes: list | None = None,
             delivery: dict | None = None) -> dict:
    doc: dict = {
        "tenants": [{"id": "acme", "domains": [{"name": "acme.example"}], **(tenant or {})}],
        "delivery": {"connect_timeout": "3s", "command_timeout": "5s", "max_shaping_wait": "1s",
                     **(delivery or {})},
    }
    if dns_server is not None:
        doc["dns"] = {"nameservers": [dns_server.address], "timeout": "2s"}
    if routes is not None:
        doc["routes"] = routes
    return doc


class ConfigHolder:
    """A config provider whose document a test can change between deliveries."""

    def __init__(self, doc: dict):
        self.doc = doc
        self.config = parse(copy.deepcopy(doc))

    def update(self, **changes) -> None:
        self.doc.update(changes)
        self.config = parse(copy.deepcopy(self.doc))

    def __call__(self):
        return self.config


def message(recipients, *, sender: str = "invoices@acme.example", app_id: str = "billing",
            flags: dict | None = None, attempt: int = 0, received_at: int | None = None,
            is_dsn: bool = False) -> Message:
    return Message(
        id=uuid.uuid4().hex, tenant_id="acme", app_id=app_id,
        received_at=received_at if received_at is not None else int(time.time() * 1000),
        client_address="127.0.0.1", auth_user="billing@acme", envelope_sender=sender,
        recipients=tuple(recipients), size=len(CONTENT),
        payload=Sealed("acme/1", b"w", b"n", b"c"), flags=dict(flags or {}), attempt=attempt,
        is_dsn=is_dsn)
