"""Clients for the two content scanners: ClamAV `clamd` and `rspamd`.

`ClamdClient.scan(content)` streams a whole RFC 5322 message to clamd with the
INSTREAM command (TCP or unix socket, 4-byte big-endian length-prefixed
chunks, a zero-length chunk to finish) and reads one reply line, so ClamAV
itself unpacks MIME parts, archives and attached messages.
`RspamdClient.check(...)` posts the message to rspamd's HTTP `/checkv2` with
the envelope in the request headers rspamd expects (From, Rcpt, IP, Helo,
User, Queue-Id) and returns the score, action and symbols.

Every call has its own deadline (connect included); a scanner that is
unreachable, refuses, answers garbage or does not answer in time raises
`ScannerUnavailable`, which the policy turns into the tenant's
`scanner_down` verdict.  Nothing here decides about the message.

Reads: replies from the scanners (trusted services, but parsed defensively).
Sends: clear message content to the scanners, which must be on a trusted
network (loopback or the cluster network).  Holds no secrets.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Iterable

import aiohttp

CLAMD_CHUNK = 64 * 1024
_MAX_REPLY = 64 * 1024


class ScannerUnavailable(Exception):
    """A scanner could not give an answer: refused, timed out or failed."""

    def __init__(self, scanner: str, problem: str):
        super().__init__(f"{scanner}: {problem}")
        self.scanner = scanner
        self.problem = problem


@dataclass(frozen=True)
class ClamdResult:
    infected: bool
    signature: str | None = None      # the ClamAV signature name when infected
    elapsed_ms: float = 0.0


@dataclass(frozen=True)
class RspamdResult:
    score: float
    required_score: float
    action: str                       # rspamd's own action, e.g. "no action", "reject"
    symbols: dict[str, float] = field(default_factory=dict)
    elapsed_ms: float = 0.0
    skipped: bool = False             # rspamd decided early (e.g. a pre-filter such as GTUBE)

    def top_symbols(self, limit: int = 20) -> list[tuple[str, float]]:
        """The symbols that weigh most, largest absolute score first."""
        ranked = sorted(self.symbols.items(), key=lambda item: (-abs(item[1]), item[0]))
        return ranked[:limit]


# ---------------------------------------------------------------------------
def _split_address(address: str) -> tuple[str | None, str | int]:
    """'host:port' -> (host, port); '/path/sock' or 'unix:/path' -> (None, path)."""
    if address.startswith("unix:"):
        address = address[5:]
    if address.startswith("/"):
        return None, address
    if address.startswith("["):
        host, _, port = address[1:].partition("]:")
    else:
        host, _, port = address.rpartition(":")
    return host, int(port)


class ClamdClient:
    """INSTREAM scans against one clamd; one connection per scan."""

    def __init__(self, address: str, timeout: float = 30.0, *, connect_timeout: float | None = None,
                 chunk_size: int = CLAMD_CHUNK):
        self.address = address
        self.timeout = timeout
        self.connect_timeout = min(connect_timeout or timeout, timeout)
        self.chunk_size = chunk_size
        self._host, self._port = _split_address(address)

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._host is None:
            return await asyncio.open_unix_connection(str(self._port))
        return await asyncio.open_connection(self._host, self._port)

    async def _command(self, command: bytes, chunks: Iterable[bytes] = ()) -> str:
        try:
            reader, writer = await asyncio.wait_for(self._open(), self.connect_timeout)
        except asyncio.TimeoutError:
            raise ScannerUnavailable("clamd", f"no connection within {self.connect_timeout:g}s")
        except OSError as error:
            raise ScannerUnavailable("clamd", f"cannot connect to {self.address}: "
                                              f"{error.strerror or error}")
        try:
            writer.write(b"z" + command + b"\0")
            for chunk in chunks:
                writer.write(len(chunk).to_bytes(4, "big") + chunk)
                try:
                    await writer.drain()
                except (ConnectionResetError, BrokenPipeError):
                    break          # clamd stopped reading (size limit): its reply says why
            else:
                await writer.drain()
            reply = await reader.readuntil(b"\0")
        except asyncio.IncompleteReadError as error:
            if error.partial:
                reply = error.partial
            else:
                raise ScannerUnavailable("clamd", "closed the connection without a reply")
        except asyncio.LimitOverrunError:
            raise ScannerUnavailable("clamd", "reply too long")
        except OSError as error:
            raise ScannerUnavailable("clamd", f"connection failed: {error.strerror or error}")
        finally:
            writer.close()
        return reply.rstrip(b"\0").decode("utf-8", "replace").strip()

    def _chunks(self, content: bytes) -> Iterable[bytes]:
        view = memoryview(content)
        for start in range(0, len(content), self.chunk_size):
            yield bytes(view[start:start + self.chunk_size])
        yield b""

    async def scan(self, content: bytes) -> ClamdResult:
        started = time.perf_counter()
        try:
            reply = await asyncio.wait_for(self._command(b"INSTREAM", self._chunks(content)),
                                           self.timeout)
        except asyncio.TimeoutError:
            raise ScannerUnavailable("clamd", f"no answer within {self.timeout:g}s")
        elapsed = (time.perf_counter() - started) * 1000
        # "stream: OK", "stream: Eicar-Test-Signature FOUND", "INSTREAM size limit exceeded. ERROR"
        _, _, verdict = reply.partition(": ")
        if reply.endswith(" FOUND") and verdict:
            return ClamdResult(True, verdict[: -len(" FOUND")].strip()[:200], elapsed)
        if verdict == "OK":
            return ClamdResult(False, None, elapsed)
        raise ScannerUnavailable("clamd", f"error reply: {reply[:200]}")

    async def ping(self) -> bool:
        try:
            reply = await asyncio.wait_for(self._command(b"PING"), self.timeout)
        except (ScannerUnavailable, asyncio.TimeoutError):
            return False
        return reply == "PONG"


# ---------------------------------------------------------------------------
def _header_value(text: str) -> str:
    """Envelope values are untrusted: no line breaks or control characters in a header."""
    return "".join(ch for ch in text if ch >= " " and ch != "\x7f")[:998]


class RspamdClient:
    """`/checkv2` requests against one rspamd normal worker, over a shared HTTP session."""

    def __init__(self, url: str, timeout: float = 20.0, *, connect_timeout: float | None = None,
                 password: str | None = None):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.connect_timeout = min(connect_timeout or timeout, timeout)
        self.password = password
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=256, force_close=False),
                timeout=aiohttp.ClientTimeout(total=self.timeout, sock_connect=self.connect_timeout))
            self._loop = loop
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def check(self, content: bytes, *, envelope_sender: str = "", recipients: Iterable[str] = (),
                    client_ip: str = "", helo: str = "", auth_user: str = "",
                    queue_id: str = "") -> RspamdResult:
        headers: list[tuple[str, str]] = [("From", _header_value(envelope_sender) or "<>")]
        headers += [("Rcpt", _header_value(r)) for r in recipients]
        for name, value in (("IP", client_ip), ("Helo", helo), ("User", auth_user),
                            ("Queue-Id", queue_id)):
            if value:
                headers.append((name, _header_value(value)))
        if self.password:
            headers.append(("Password", self.password))
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                async with self._client().post(f"{self.url}/checkv2", data=content,
                                               headers=headers) as response:
                    body = await response.read()
                    status = response.status
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
            raise ScannerUnavailable("rspamd", f"no answer within {self.timeout:g}s")
        except aiohttp.ClientConnectorError as error:
            raise ScannerUnavailable("rspamd", f"cannot connect to {self.url}: "
                                               f"{error.strerror or error}")
        except (aiohttp.ClientError, OSError) as error:
            raise ScannerUnavailable("rspamd", f"request failed: {type(error).__name__}: {error}")
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200:
            raise ScannerUnavailable("rspamd", f"HTTP {status}: {body[:200]!r}")
        try:
            reply = json.loads(body)
            symbols = {str(name): float(symbol.get("score", 0.0))
                       for name, symbol in (reply.get("symbols") or {}).items()}
            return RspamdResult(score=float(reply["score"]),
                                required_score=float(reply.get("required_score", 0.0)),
                                action=str(reply.get("action", "")), symbols=symbols,
                                elapsed_ms=elapsed, skipped=bool(reply.get("is_skipped", False)))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ScannerUnavailable("rspamd", f"unreadable reply: {body[:200]!r}")

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(self.timeout):
                async with self._client().get(f"{self.url}/ping") as response:
                    return response.status == 200 and (await response.read()).strip() == b"pong"
        except (asyncio.TimeoutError, aiohttp.ClientError, OSError):
            return False
