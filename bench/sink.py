"""A fast counting SMTP sink for benchmarks: the far end the relay delivers to.

What it does: a minimal asyncio SMTP server (EHLO/HELO, optional STARTTLS, AUTH PLAIN
accepting anything, MAIL, RCPT, DATA, RSET, NOOP, QUIT, PIPELINING) that keeps no
message, only counts: messages, bytes, sessions, messages carrying a DKIM-Signature
header vs not, messages of the current benchmark run (header ``X-Bench-Run``) vs
others (DSNs, strays), this run's messages delivered twice (same Message-ID), and the end-to-end latency of each benchmark message from its
``X-Bench-Sent`` stamp (CLOCK_MONOTONIC seconds, so sender and sink must share the
machine).  Kept deliberately small so it is never the bottleneck.
What it reads/writes: loopback sockets; with --status-file a small JSON status file.
Untrusted input: whatever the relay (or anything else) sends it; lines are bounded.

Standalone:
    python bench/sink.py --port 2526 [--status-file /tmp/sink.json] [--expect 5000]
prints a status line on stderr every second; with --expect N it exits after N
messages and prints one JSON line.  bench/load.py runs it in a child process
(`SinkProcess`) and reads the counters from shared memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import resource
import ssl
import sys
import time
from typing import MutableSequence

MAX_LINE = 4096

# indexes into the counter vector (a list, or a shared multiprocessing array)
MESSAGES, RUN_MESSAGES, OTHER_MESSAGES, SIGNED, UNSIGNED, BYTES, SESSIONS, TLS_SESSIONS, \
    FIRST_AT, LAST_RUN_AT, LAST_AT, DUPLICATES = range(12)
N_COUNTERS = 12

_SENT_STAMP = re.compile(rb"^x-bench-sent:[ \t]*([0-9]+\.[0-9]+)", re.I | re.M)
_RUN_ID = re.compile(rb"^x-bench-run:[ \t]*([A-Za-z0-9._-]+)", re.I | re.M)
_DKIM = re.compile(rb"^dkim-signature:", re.I | re.M)
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(<[^>\r\n]*>)", re.I | re.M)


class Counters:
    """Named view over the counter vector; `latencies` stays local to the sink process."""

    def __init__(self, values: MutableSequence[float] | None = None, run_id: str | None = None):
        self.values = values if values is not None else [0.0] * N_COUNTERS
        self.run_id = run_id.encode() if run_id else None
        self.latencies: list[float] = []
        self.seen: set[bytes] = set()       # Message-IDs of this run's messages

    def count(self, content: bytes) -> None:
        """Record one message (content without the final dot line)."""
        now = time.monotonic()
        v = self.values
        end = content.find(b"\r\n\r\n")
        header = content if end < 0 else content[:end + 2]
        v[MESSAGES] += 1
        v[BYTES] += len(content)
        if _DKIM.search(header):
            v[SIGNED] += 1
        else:
            v[UNSIGNED] += 1
        if not v[FIRST_AT]:
            v[FIRST_AT] = now
        v[LAST_AT] = now
        run = _RUN_ID.search(header)
        if run and (self.run_id is None or run.group(1) == self.run_id):
            message_id = _MESSAGE_ID.search(header)
            if message_id:
                if message_id.group(1) in self.seen:    # delivered twice: not counted again
                    v[DUPLICATES] += 1
                    return
                self.seen.add(message_id.group(1))
            stamp = _SENT_STAMP.search(header)
            if stamp:
                self.latencies.append(now - float(stamp.group(1)))
            v[RUN_MESSAGES] += 1
            v[LAST_RUN_AT] = now
        elif self.run_id is not None:
            v[OTHER_MESSAGES] += 1

    def snapshot(self) -> dict:
        v = self.values
        return {"messages": int(v[MESSAGES]), "run_messages": int(v[RUN_MESSAGES]),
                "other_messages": int(v[OTHER_MESSAGES]), "signed": int(v[SIGNED]),
                "unsigned": int(v[UNSIGNED]), "bytes": int(v[BYTES]),
                "duplicates": int(v[DUPLICATES]),
                "sessions": int(v[SESSIONS]), "tls_sessions": int(v[TLS_SESSIONS]),
                "first_at": v[FIRST_AT], "last_run_at": v[LAST_RUN_AT], "last_at": v[LAST_AT]}


class SinkProtocol(asyncio.Protocol):
    """One SMTP session.  Replies to every command it understands with a 2xx/3xx."""

    def __init__(self, counters: Counters, tls_context: ssl.SSLContext | None,
                 hostname: str = "bench-sink"):
        self.counters = counters
        self.tls_context = tls_context
        self.hostname = hostname
        self.buffer = bytearray()
        self.in_data = False
        self.awaiting_auth = False
        self.upgrading = False
        self.quitting = False
        self.scan_from = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport):
        if self.transport is None:          # not the TLS re-entry after STARTTLS
            self.counters.values[SESSIONS] += 1
            transport.write(b"220 %s ESMTP bench sink\r\n" % self.hostname.encode())
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.quitting:
            return
        self.buffer += data
        if self.upgrading:      # decrypted data that beat start_tls() back to us: keep it
            return
        replies: list[bytes] = []
        buffer = self.buffer
        while buffer:
            if self.in_data:
                if buffer.startswith(b".\r\n"):
                    content, consumed = b"", 3
                else:
                    end = buffer.find(b"\r\n.\r\n", self.scan_from)
                    if end < 0:
                        self.scan_from = max(0, len(buffer) - 4)
                        break
                    content, consumed = bytes(buffer[:end + 2]), end + 5
                del buffer[:consumed]
                self.in_data = False
                self.scan_from = 0
                self.counters.count(content)
                replies.append(b"250 2.0.0 Ok: queued\r\n")
                continue
            end = buffer.find(b"\r\n")
            if end < 0:
                if len(buffer) > MAX_LINE:
                    replies.append(b"500 5.5.2 Line too long\r\n")
                    buffer.clear()
                break
            line = bytes(buffer[:end])
            del buffer[:end + 2]
            reply = self.command(line)
            if reply:
                replies.append(reply)
            if self.upgrading or self.quitting:
                buffer.clear()
                break
        if replies and self.transport is not None:
            self.transport.write(b"".join(replies))
        if self.quitting and self.transport is not None:
            self.transport.close()
        if self.upgrading and self.transport is not None:
            # stop reading now: the ClientHello must reach the TLS layer, not us
            self.transport.pause_reading()
            asyncio.get_running_loop().create_task(self._starttls())

    def command(self, line: bytes) -> bytes | None:
        if self.awaiting_auth:
            self.awaiting_auth = False
            return b"235 2.7.0 Authentication successful\r\n"
        verb = line[:4].upper()
        if verb == b"MAIL":
            return b"250 2.1.0 Ok\r\n"
        if verb == b"RCPT":
            return b"250 2.1.5 Ok\r\n"
        if verb == b"DATA":
            self.in_data = True
            return b"354 End data with <CR><LF>.<CR><LF>\r\n"
        if verb == b"EHLO":
            lines = [self.hostname.encode(), b"PIPELINING", b"8BITMIME", b"SIZE 104857600",
                     b"ENHANCEDSTATUSCODES", b"AUTH PLAIN"]
            if self.tls_context and not self._tls_active():
                lines.append(b"STARTTLS")
            return b"".join(b"250-" + x + b"\r\n" for x in lines[:-1]) + b"250 " + lines[-1] + b"\r\n"
        if verb == b"HELO":
            return b"250 " + self.hostname.encode() + b"\r\n"
        if verb in (b"RSET", b"NOOP"):
            return b"250 2.0.0 Ok\r\n"
        if verb == b"QUIT":
            self.quitting = True
            return b"221 2.0.0 Bye\r\n"
        if verb == b"AUTH":
            if len(line.split()) >= 3:
                return b"235 2.7.0 Authentication successful\r\n"
            self.awaiting_auth = True
            return b"334 \r\n"
        if line[:8].upper() == b"STARTTLS" and self.tls_context and not self._tls_active():
            self.upgrading = True
            return b"220 2.0.0 Ready to start TLS\r\n"
        return b"502 5.5.2 Command not recognized\r\n"

    def _tls_active(self) -> bool:
        return self.transport is not None and self.transport.get_extra_info("ssl_object") is not None

    async def _starttls(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            transport = await loop.start_tls(self.transport, self, self.tls_context,
                                             server_side=True)
        except (OSError, ssl.SSLError, ConnectionError):
            if self.transport:
                self.transport.close()
            return
        self.counters.values[TLS_SESSIONS] += 1
        self.transport = transport
        self.upgrading = False
        if self.buffer:
            self.data_received(b"")

    def connection_lost(self, exc):
        self.transport = None


def tls_context_from(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    if not cert:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


async def serve(counters: Counters, host: str, port: int,
                tls_context: ssl.SSLContext | None = None) -> asyncio.AbstractServer:
    """Start listening; returns the server (its .sockets give the bound port)."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: SinkProtocol(counters, tls_context), host, port,
                                    reuse_address=True, backlog=512)


def _rusage_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ------------------------------------------------------------------ child process
def _child_main(values, conn, host: str, port: int, run_id: str | None,
                cert: str | None, key: str | None) -> None:
    counters = Counters(values, run_id)

    async def main() -> None:
        stop = asyncio.Event()
        try:
            server = await serve(counters, host, port, tls_context_from(cert, key))
        except OSError as error:
            conn.send({"error": f"bench sink cannot listen on {host}:{port}: {error}"})
            return
        cpu0 = _rusage_cpu()

        def on_request() -> None:
            try:
                request = conn.recv()
            except EOFError:
                stop.set()
                return
            if request == "report":
                conn.send({**counters.snapshot(), "latencies": counters.latencies,
                           "cpu_s": _rusage_cpu() - cpu0})
            elif request == "stop":
                stop.set()

        loop = asyncio.get_running_loop()
        loop.add_reader(conn.fileno(), on_request)
        conn.send({"ready": server.sockets[0].getsockname()[1]})
        await stop.wait()
        server.close()

    asyncio.run(main())


class SinkProcess:
    """The counting sink in a child process; counters readable live from shared memory.

    Start it before the caller creates its own event loop (it forks).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 2526, run_id: str | None = None,
                 tls_cert: str | None = None, tls_key: str | None = None):
        context = multiprocessing.get_context("fork")
        self.counters = Counters(context.RawArray("d", N_COUNTERS), run_id)
        self._conn, child_conn = context.Pipe()
        self._process = context.Process(
            target=_child_main, name="bench-sink", daemon=True,
            args=(self.counters.values, child_conn, host, port, run_id, tls_cert, tls_key))
        self._process.start()
        if not self._conn.poll(10):
            self.stop()
            raise RuntimeError("bench sink did not start within 10 s")
        hello = self._conn.recv()
        if "error" in hello:
            self._process.join(5)
            raise RuntimeError(hello["error"])
        self.port = hello["ready"]

    def report(self) -> dict:
        """Counters, the end-to-end latencies (seconds) and the sink's CPU seconds."""
        self._conn.send("report")
        if not self._conn.poll(30):
            raise RuntimeError("bench sink did not answer")
        return self._conn.recv()

    def stop(self) -> None:
        if self._process.is_alive():
            try:
                self._conn.send("stop")
            except (BrokenPipeError, OSError):
                pass
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()


# ------------------------------------------------------------------ standalone
def _status_line(snapshot: dict, rate: float) -> str:
    return (f"bench-sink: {snapshot['messages']} messages (DKIM-signed {snapshot['signed']}, "
            f"unsigned {snapshot['unsigned']}), {snapshot['sessions']} sessions, {rate:.0f} msg/s")


def _write_status(path: str, snapshot: dict) -> None:
    temporary = f"{path}.tmp"
    with open(temporary, "w") as status:
        json.dump(snapshot, status)
    os.replace(temporary, path)


async def _standalone(options: argparse.Namespace) -> dict:
    counters = Counters(run_id=options.run_id)
    server = await serve(counters, options.host, options.port,
                         tls_context_from(options.tls_cert, options.tls_key))
    port = server.sockets[0].getsockname()[1]
    print(f"bench-sink: listening on {options.host}:{port}", file=sys.stderr, flush=True)
    cpu0, last_count, last_time = _rusage_cpu(), 0, time.monotonic()
    try:
        while True:
            await asyncio.sleep(options.interval if not options.expect else 0.02)
            snapshot = counters.snapshot()
            now = time.monotonic()
            if options.status_file:
                _write_status(options.status_file, snapshot)
            if now - last_time >= options.interval:
                rate = (snapshot["messages"] - last_count) / (now - last_time)
                last_count, last_time = snapshot["messages"], now
                if not options.quiet:
                    print(_status_line(snapshot, rate), file=sys.stderr, flush=True)
            if options.expect and snapshot["messages"] >= options.expect:
                break
    finally:
        server.close()
    snapshot = counters.snapshot()
    if snapshot["first_at"]:
        span = snapshot["last_at"] - snapshot["first_at"]
        snapshot["msg_per_s_first_to_last"] = round((snapshot["messages"] - 1) / span, 1) if span else None
    snapshot["cpu_s"] = round(_rusage_cpu() - cpu0, 3)
    return snapshot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fast counting SMTP sink for benchmarks.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2526)
    parser.add_argument("--status-file", help="rewrite this JSON file with the counters")
    parser.add_argument("--interval", type=float, default=1.0, help="status period, seconds")
    parser.add_argument("--expect", type=int, default=0, help="exit after this many messages")
    parser.add_argument("--run-id", help="count X-Bench-Run messages of this run apart")
    parser.add_argument("--tls-cert", help="offer STARTTLS with this certificate (PEM)")
    parser.add_argument("--tls-key", help="private key for --tls-cert (PEM)")
    parser.add_argument("--quiet", action="store_true")
    options = parser.parse_args(argv)
    try:
        snapshot = asyncio.run(_standalone(options))
    except KeyboardInterrupt:
        return 130
    print(json.dumps(snapshot), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
