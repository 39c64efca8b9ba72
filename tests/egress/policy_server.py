"""An HTTPS server on loopback serving an MTA-STS policy file, for tests.

Serves `GET /.well-known/mta-sts.txt` with the text in `.policy` (or `.status`
other than 200), over TLS with the given server context, on its own loop in a
thread; counts requests.  Reads/writes loopback sockets only.
"""

from __future__ import annotations

import asyncio
import ssl
import threading


class PolicyServer:
    def __init__(self, context: ssl.SSLContext, policy: str, host: str = "127.0.0.1"):
        self.context = context
        self.policy = policy
        self.host = host
        self.port = 0
        self.status = 200
        self.content_type = "text/plain"
        self.requests: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line = head.split(b"\r\n", 1)[0].decode()
            host = [line.split(":", 1)[1].strip() for line in head.decode().split("\r\n")
                    if line.lower().startswith("host:")]
            self.requests.append(f"{request_line} host={host[0] if host else ''}")
            body = self.policy.encode() if self.status == 200 else b"no"
            reason = "OK" if self.status == 200 else "Moved"
            writer.write(f"HTTP/1.1 {self.status} {reason}\r\nContent-Type: {self.content_type}\r\n"
                         f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
            await writer.drain()
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def start(self) -> "PolicyServer":
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            server = self._loop.run_until_complete(
                asyncio.start_server(self._serve, self.host, 0, ssl=self.context))
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()
            server.close()
            self._loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(5)
        return self

    def stop(self) -> None:
        if self._loop:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
