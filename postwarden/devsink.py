"""A development SMTP sink: stores every message it receives as an .eml file.

For `postwarden up --sink` so a newcomer can watch a first message arrive,
signed.  Loopback only; accepts anything; never use it as a real mailbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from aiosmtpd.smtp import SMTP

log = logging.getLogger("postwarden.sink")


class _StoreHandler:
    def __init__(self, directory: Path):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = self.directory / f"{time.strftime('%Y%m%d-%H%M%S')}-{self.count:06d}.eml"
        name.write_bytes(envelope.original_content or envelope.content)
        log.info("sink: message from <%s> to %s stored as %s", envelope.mail_from,
                 ", ".join(envelope.rcpt_tos), name)
        return "250 2.0.0 Ok: stored"


async def serve(host: str, port: int, directory: Path, stop: asyncio.Event | None = None) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    handler = _StoreHandler(directory)
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(handler, hostname="sink.localhost", decode_data=False), host, port)
    log.info("sink: listening on %s:%d, storing mail in %s", host, port, directory)
    async with server:
        await (stop.wait() if stop else asyncio.Event().wait())
