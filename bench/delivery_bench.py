"""Delivery engine benchmark: deliveries per second to a local sink, reuse on/off, TLS share.

What it does: starts a loopback SMTP sink (tests/fixtures/smtp_servers.py, data
not kept) in child processes, one plain and one offering STARTTLS with a
throwaway self-signed certificate,
then drives `egress.engine.DeliveryEngine` directly (no Kafka) with N
one-recipient messages at a given concurrency, through a smart-host route, in
four runs: connection reuse on/off x STARTTLS off/on.  For each run it prints
deliveries per second, connections opened, TLS handshakes, the mean handshake
time, and the share of delivery time spent in TLS handshakes (summed handshake
time / summed per-message delivery time).
What it reads/writes: loopback sockets; a temporary directory for the certificate.
Secrets: a throwaway private key for the sink's certificate.

    .venv/bin/python bench/delivery_bench.py [--messages 2000] [--concurrency 50] [--size 4096]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

import multiprocessing  # noqa: E402
import ssl  # noqa: E402

from tests.fixtures.smtp_servers import SmtpServer  # noqa: E402
from egress.engine import DeliveryEngine  # noqa: E402
from postwarden.config.model import parse  # noqa: E402
from postwarden.crypto import Sealed  # noqa: E402
from postwarden.message import Message  # noqa: E402


def self_signed(directory: Path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "sink.crt", directory / "sink.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def _sink_main(conn, cert: str | None, key: str | None) -> None:
    context = None
    if cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
    server = SmtpServer("127.0.0.1", name="sink.bench", tls_context=context,
                        record_data=False).start()
    conn.send(server.port)
    conn.recv()                       # until told to stop
    conn.send({"connections": server.connections, "messages": len(server.messages),
               "tls_sessions": sum(1 for s in server.sessions if s.tls)})
    server.stop()


class Sink:
    """The SMTP sink in a child process, so it does not share the engine's CPU."""

    def __init__(self, cert: str | None = None, key: str | None = None):
        context = multiprocessing.get_context("fork")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_sink_main, args=(child, cert, key), daemon=True)
        self._process.start()
        self.port = self._conn.recv()

    def stop(self) -> dict:
        self._conn.send("stop")
        report = self._conn.recv()
        self._process.join(5)
        return report


def content_of(size: int, index: int) -> bytes:
    head = (f"From: Billing <invoices@acme.example>\r\nTo: user{index}@example.org\r\n"
            f"Subject: Invoice {index}\r\nMessage-ID: <bench-{index}@acme.example>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n").encode()
    line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n"
    body = (line * (max(size - len(head), 0) // len(line) + 1))[:max(size - len(head), 0)]
    return head + body


def message_of(index: int) -> Message:
    return Message(id=f"bench-{os.getpid()}-{index}-{time.monotonic_ns()}", tenant_id="acme",
                   app_id="billing", received_at=int(time.time() * 1000), client_address="127.0.0.1",
                   auth_user="billing@acme", envelope_sender="invoices@acme.example",
                   recipients=(f"user{index}@example.org",), size=0,
                   payload=Sealed("acme/1", b"", b"", b""))


async def run(port: int, *, reuse: bool, tls: str, messages: int, concurrency: int,
              size: int) -> dict:
    document = {
        "tenants": [{"id": "acme", "domains": [{"name": "acme.example"}], "tls": "opportunistic"}],
        "routes": [{"domains": ["*"], "smarthost": f"127.0.0.1:{port}", "tls": tls}],
        "delivery": {"connection_reuse": reuse, "messages_per_connection": 1000,
                     "max_shaping_wait": "60s", "helo": "bench.postwarden.test",
                     "default_shaping": {"connections": concurrency}},
    }
    config = parse(document)
    engine = DeliveryEngine(lambda: config)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(messages):
        queue.put_nowait(index)
    latencies: list[float] = []
    failures: list[str] = []
    bodies = {i: content_of(size, i) for i in range(min(messages, 64))}

    async def worker() -> None:
        while True:
            try:
                index = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            message = message_of(index)
            started = time.perf_counter()
            [outcome] = await engine.deliver(message, bodies[index % len(bodies)],
                                             list(message.recipients))
            latencies.append(time.perf_counter() - started)
            if outcome.status != "delivered":
                failures.append(f"{outcome.code} {outcome.text}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await engine.close()
    stats = engine.stats
    return {
        "reuse": reuse, "tls": tls, "messages": messages, "failures": len(failures),
        "first_failure": failures[0] if failures else "",
        "seconds": elapsed, "per_second": (messages - len(failures)) / elapsed,
        "connections": stats.connections, "handshakes": stats.tls_handshakes,
        "handshake_ms": 1000 * stats.tls_seconds / stats.tls_handshakes if stats.tls_handshakes else 0.0,
        "tls_share": stats.tls_seconds / sum(latencies) if latencies else 0.0,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * sorted(latencies)[int(len(latencies) * 0.99) - 1],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--size", type=int, default=4096, help="message size in bytes")
    options = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as directory:
        cert, key = self_signed(Path(directory))
        # Fork the sinks before any event loop exists.
        plain = Sink()
        tls_sink = Sink(cert, key)
        try:
            results = []
            for tls in ("opportunistic", "required"):
                for reuse in (True, False):
                    sink = plain if tls == "opportunistic" else tls_sink
                    # "required" against the STARTTLS sink: every session is TLS.
                    results.append(asyncio.run(run(sink.port, reuse=reuse, tls=tls,
                                                   messages=options.messages,
                                                   concurrency=options.concurrency,
                                                   size=options.size)))
        finally:
            sink_reports = {"plain": plain.stop(), "starttls": tls_sink.stop()}

    print(f"delivery engine -> local sink: {options.messages} messages of {options.size} bytes, "
          f"concurrency {options.concurrency}, one recipient each, smart-host route")
    print(f"{'TLS':<10} {'reuse':<6} {'deliv/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'conns':>6} "
          f"{'handshakes':>10} {'hs ms':>7} {'TLS share':>9} {'failed':>6}")
    for r in results:
        print(f"{'STARTTLS' if r['tls'] == 'required' else 'none':<10} {'on' if r['reuse'] else 'off':<6} "
              f"{r['per_second']:>9.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['connections']:>6} "
              f"{r['handshakes']:>10} {r['handshake_ms']:>7.2f} {100 * r['tls_share']:>8.1f}% "
              f"{r['failures']:>6}")
        if r["first_failure"]:
            print(f"    first failure: {r['first_failure']}")
    print(f"sink saw: {sink_reports}")
    return 0 if not any(r["failures"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
