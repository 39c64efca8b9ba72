"""Ingress node lifecycle: listeners, the Kafka producer and the config registry.

Starts the submission listener (port 587 style: STARTTLS required before
AUTH) and the submissions listener (port 465 style: implicit TLS, RFC 8314),
both served by one `SubmissionHandler`.  Stateless: any number of nodes can
run side by side; each materialises the config topic itself.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from pathlib import Path

from aiosmtpd.smtp import SMTP

from ingress.ratelimit import RateLimiter
from ingress.submission import SubmissionHandler
from ingress.tls import server_context
from postwarden import kafka
from postwarden.blobs import DirectoryBlobStore
from postwarden.config.model import Config
from postwarden.crypto import Keyring
from postwarden.registry import Registry

log = logging.getLogger("postwarden.ingress")


def _smtp(handler: SubmissionHandler, config: Config, tls_context, *, implicit: bool) -> SMTP:
    return SMTP(
        handler,
        hostname=config.ingress.hostname,
        ident="Postwarden ESMTP",
        tls_context=None if implicit else tls_context,
        require_starttls=not implicit,
        auth_required=True,
        auth_require_tls=not implicit,
        authenticator=handler.authenticate,
        data_size_limit=config.ingress.max_message_size,
        enable_SMTPUTF8=True,
        decode_data=False,
        timeout=300,
    )


class IngressNode:
    def __init__(self, local: Config, node_document: dict, keyring: Keyring):
        self.local = local
        self.keyring = keyring
        self.registry = Registry(local.kafka, node_document, keyring)
        self.servers: list[asyncio.AbstractServer] = []
        self.producer = None

    async def start(self) -> None:
        settings = self.local.kafka
        await kafka.ensure_topics(settings)
        await self.registry.start()
        log.info("ingress: waiting for config on the config topic (postwarden apply)")
        config = await self.registry.wait_ready()
        self.producer = kafka.producer(
            settings, linger_ms=5, request_timeout_ms=int(config.ingress.publish_timeout * 1000))
        await self.producer.start()
        blobs = DirectoryBlobStore(Path(config.state_dir) / "blobs")
        tls_context = server_context(config.ingress.cert, config.ingress.key,
                                     state_dir=Path(config.state_dir), hostname=config.ingress.hostname)
        loop = asyncio.get_running_loop()
        rate_limiter = RateLimiter()          # one bucket per app across both listeners
        listeners = [(config.ingress.submission, False), (config.ingress.smtps, True)]
        for address, implicit in listeners:
            if address is None:
                continue
            handler = SubmissionHandler(self.registry, self.keyring, self.producer, blobs,
                                        implicit_tls=implicit, rate_limiter=rate_limiter)
            server = await loop.create_server(
                partial(_smtp, handler, config, tls_context, implicit=implicit),
                host=address[0], port=address[1], ssl=tls_context if implicit else None)
            self.servers.append(server)
            log.info("ingress: %s on %s:%d", "implicit TLS (smtps)" if implicit else
                     "submission with STARTTLS", address[0], address[1])

    async def stop(self) -> None:
        for server in self.servers:
            server.close()
        for server in self.servers:
            await server.wait_closed()
        if self.producer:
            await self.producer.stop()
        await self.registry.stop()
