"""SMTP load generator for benchmarking the relay (or any SMTP server) end to end.

What it does: opens N concurrent SMTP sessions (default 20, the load shape of the
Postfix baseline's smtp-source) to the submission port, each with STARTTLS or implicit
TLS and AUTH PLAIN, and sends COUNT messages of ~SIZE bytes of body, several per
connection.  It measures the replies (2xx/4xx/5xx, connection errors), the latency
from end of DATA to the reply and of the whole MAIL..250 transaction, the accepted
messages per second, and -- through its own counting sink (bench/sink.py, in a child
process) that the relay delivers to -- the end-to-end delivered messages per second
and per-message end-to-end latency (from the ``X-Bench-Sent`` stamp).
Output: a human summary on stdout, then one JSON line; a progress line on stderr.
What it reads/writes: sockets only.  Secrets: the AUTH password given on the command
line.  Untrusted input: the server's replies (only the status code is interpreted).

    python bench/load.py --host 127.0.0.1 --port 2587 --tls starttls \\
        --username app --password secret --count 20000 --sessions 20 --sink-port 2526

Each message: a unique Message-ID, From: = --from, To: = --to, a plain-text body of
ordinary words (no digit runs, nothing a DLP or AV rule would catch), and the headers
X-Bench-Run (run id) and X-Bench-Sent (CLOCK_MONOTONIC seconds at MAIL time).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import email.utils
import json
import math
import os
import resource
import secrets
import ssl
import sys
import time
from dataclasses import dataclass, field

if __package__ in (None, ""):            # run as `python bench/load.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.sink import RUN_MESSAGES, SinkProcess  # noqa: E402

_WORDS = ("the quarterly report for your account is ready and the team thanks you for "
          "choosing our service please review the attached summary at your convenience "
          "delivery of this notice confirms that your settings were saved as requested "
          "if you did not make this change contact the help desk through the usual portal").split()


# ------------------------------------------------------------------ options and results
@dataclass
class LoadOptions:
    host: str = "127.0.0.1"
    port: int = 2525
    tls: str = "starttls"                 # starttls | implicit | none
    cafile: str | None = None             # verify the server certificate against this CA
    tls_name: str | None = None           # name to verify (default: host)
    username: str | None = None
    password: str | None = None
    mail_from: str = "app@example.com"
    rcpt_to: str = "user@dest.example"
    count: int = 1000
    sessions: int = 20
    size: int = 2000                      # body bytes, like smtp-source -l
    per_connection: int = 0               # messages per connection; 0 = no limit
    pipelining: bool = True               # use PIPELINING when the server offers it
    sink: bool = True
    sink_host: str = "127.0.0.1"
    sink_port: int = 2526
    sink_tls_cert: str | None = None
    sink_tls_key: str | None = None
    timeout: float = 60.0                 # per reply, and delivery stall after the last accept
    helo: str = "bench.postwarden.test"
    quiet: bool = False
    run_id: str = field(default_factory=lambda: "pwb" + secrets.token_hex(4))


@dataclass
class Tally:
    """What the sessions observed; shared by all sessions of one run (one event loop)."""

    next_seq: int = 0
    done: int = 0
    replies: dict = field(default_factory=lambda: {"2xx": 0, "4xx": 0, "5xx": 0, "error": 0})
    refusals: dict = field(default_factory=dict)    # "stage code" -> count
    data_latency: list = field(default_factory=list)
    txn_latency: list = field(default_factory=list)
    connections: int = 0
    connection_errors: int = 0
    last_error: str | None = None
    tls: str | None = None                # "TLSv1.3 TLS_AES_256_GCM_SHA384"
    accepted_at: float = 0.0              # monotonic time of the last 2xx

    def outcome(self, stage: str, code: int) -> None:
        self.done += 1
        if 200 <= code < 300:
            self.replies["2xx"] += 1
            self.accepted_at = time.monotonic()
            return
        self.replies["4xx" if 400 <= code < 500 else "5xx"] += 1
        key = f"{stage} {code}"
        self.refusals[key] = self.refusals.get(key, 0) + 1

    def failed(self, error: str) -> None:
        self.done += 1
        self.replies["error"] += 1
        self.last_error = error


class SmtpReplyError(Exception):
    def __init__(self, stage: str, code: int, text: str):
        super().__init__(f"{stage}: {code} {text}")
        self.stage, self.code = stage, code


# ------------------------------------------------------------------ message content
def make_body(size: int) -> bytes:
    """~size bytes of plain text in 70-odd character lines (CRLF), no leading dots."""
    lines, line, total, i = [], [], 0, 0
    while total < size:
        word = _WORDS[i % len(_WORDS)]
        i += 1
        if sum(len(w) + 1 for w in line) + len(word) > 72:
            text = " ".join(line)
            lines.append(text)
            total += len(text) + 2
            line = []
        line.append(word)
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


class MessageFactory:
    def __init__(self, options: LoadOptions):
        domain = options.mail_from.rpartition("@")[2] or "bench.postwarden.test"
        self.run_id = options.run_id
        self.domain = domain
        self.head = (f"From: {options.mail_from}\r\nTo: {options.rcpt_to}\r\n"
                     f"Date: {email.utils.formatdate(localtime=False)}\r\n"
                     f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n"
                     f"Content-Transfer-Encoding: 7bit\r\nX-Bench-Run: {self.run_id}\r\n")
        self.body = make_body(options.size)

    def build(self, seq: int) -> bytes:
        """The message for seq, stamped now, ending with the end-of-data line."""
        return (f"{self.head}Subject: Postwarden benchmark message {seq}\r\n"
                f"Message-ID: <{self.run_id}.{seq}@{self.domain}>\r\n"
                f"X-Bench-Sent: {time.monotonic():.6f}\r\n\r\n").encode("ascii") + self.body + b".\r\n"


# ------------------------------------------------------------------ one SMTP session
class Session:
    """A client connection: greeting, EHLO, STARTTLS, AUTH, then transactions."""

    def __init__(self, options: LoadOptions, tally: Tally, tls_context: ssl.SSLContext | None):
        self.options = options
        self.tally = tally
        self.tls_context = tls_context
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.extensions: set[str] = set()
        self.stage = "connect"

    async def reply(self, stage: str) -> tuple[int, str]:
        lines = []
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError(f"connection closed by server during {stage}")
            lines.append(line)
            if line[3:4] != b"-":
                break
        code = int(lines[-1][:3])
        return code, b"".join(l[4:] for l in lines).decode("utf-8", "replace").strip()

    async def expect(self, stage: str, command: bytes | None, ok: int) -> str:
        self.stage = stage
        if command is not None:
            self.writer.write(command)
        code, text = await self.reply(stage)
        if code != ok:
            raise SmtpReplyError(stage, code, text)
        return text

    async def ehlo(self) -> None:
        text = await self.expect("EHLO", f"EHLO {self.options.helo}\r\n".encode(), 250)
        self.extensions = {line.split()[0].upper() for line in text.splitlines()[1:] if line.split()}

    async def connect(self) -> None:
        options = self.options
        implicit = options.tls == "implicit"
        async with asyncio.timeout(options.timeout):
            self.reader, self.writer = await asyncio.open_connection(
                options.host, options.port, limit=1 << 16,
                ssl=self.tls_context if implicit else None,
                server_hostname=(options.tls_name or options.host) if implicit else None)
            await self.expect("greeting", None, 220)
            await self.ehlo()
            if options.tls == "starttls":
                if "STARTTLS" not in self.extensions:
                    raise SmtpReplyError("STARTTLS", 0, "not offered by the server")
                await self.expect("STARTTLS", b"STARTTLS\r\n", 220)
                self.stage = "TLS handshake"
                await self.writer.start_tls(self.tls_context,
                                            server_hostname=options.tls_name or options.host)
                await self.ehlo()
            if options.username:
                token = base64.b64encode(
                    f"\0{options.username}\0{options.password or ''}".encode()).decode()
                await self.expect("AUTH", f"AUTH PLAIN {token}\r\n".encode(), 235)
        self.tally.connections += 1
        ssl_object = self.writer.get_extra_info("ssl_object")
        if ssl_object and self.tally.tls is None:
            self.tally.tls = f"{ssl_object.version()} {ssl_object.cipher()[0]}"

    async def send(self, message: bytes) -> None:
        """One transaction; records its outcome.  Raises only for connection trouble."""
        options, writer = self.options, self.writer
        mail = f"MAIL FROM:<{options.mail_from}>\r\n".encode()
        rcpt = f"RCPT TO:<{options.rcpt_to}>\r\n".encode()
        started = time.monotonic()
        async with asyncio.timeout(options.timeout):
            if options.pipelining and "PIPELINING" in self.extensions:
                writer.write(mail + rcpt + b"DATA\r\n")
                replies = [await self.reply("MAIL"), await self.reply("RCPT"), await self.reply("DATA")]
                for stage, (code, _text), ok in zip(("MAIL", "RCPT", "DATA"), replies, (250, 250, 354)):
                    if code != ok:
                        self.tally.outcome(stage, code)
                        if replies[2][0] == 354:      # cannot happen per RFC; end the data anyway
                            writer.write(b".\r\n")
                            await self.reply("DATA end")
                        await self._reset()
                        return
            else:
                for stage, command, ok in (("MAIL", mail, 250), ("RCPT", rcpt, 250), ("DATA", b"DATA\r\n", 354)):
                    writer.write(command)
                    code, _text = await self.reply(stage)
                    if code != ok:
                        self.tally.outcome(stage, code)
                        await self._reset()
                        return
            writer.write(message)
            data_sent = time.monotonic()
            code, text = await self.reply("end of data")
        now = time.monotonic()
        self.tally.data_latency.append(now - data_sent)
        self.tally.txn_latency.append(now - started)
        self.tally.outcome("end of data", code)
        if code == 421:
            raise SmtpReplyError("end of data", code, text)

    async def _reset(self) -> None:
        self.writer.write(b"RSET\r\n")
        code, text = await self.reply("RSET")
        if code == 421:
            raise SmtpReplyError("RSET", code, text)

    async def close(self) -> None:
        if self.writer is None:
            return
        try:
            async with asyncio.timeout(5):
                self.writer.write(b"QUIT\r\n")
                await self.reply("QUIT")
        except (OSError, ConnectionError, TimeoutError, SmtpReplyError, ValueError):
            pass
        self.writer.close()
        try:
            async with asyncio.timeout(5):
                await self.writer.wait_closed()
        except (OSError, ConnectionError, TimeoutError, ssl.SSLError):
            pass
        self.writer = None


async def session_worker(options: LoadOptions, tally: Tally, factory: MessageFactory,
                         tls_context: ssl.SSLContext | None) -> None:
    """Take message numbers from the shared counter until COUNT are handed out."""
    session: Session | None = None
    sent_here = 0
    consecutive_failures = 0
    while tally.next_seq < options.count:
        if session is None:
            session = Session(options, tally, tls_context)
            try:
                await session.connect()
                sent_here = 0
                consecutive_failures = 0
            except (OSError, ConnectionError, TimeoutError, SmtpReplyError, ssl.SSLError, ValueError) as error:
                tally.connection_errors += 1
                tally.last_error = f"{session.stage}: {error!r}"
                consecutive_failures += 1
                await session.close()
                session = None
                if consecutive_failures >= 5:   # the server is refusing us: give up this worker
                    return
                await asyncio.sleep(0.1 * consecutive_failures)
                continue
        if tally.next_seq >= options.count:     # others took the rest while we connected
            break
        seq = tally.next_seq
        tally.next_seq += 1
        outcomes_before = tally.done
        try:
            await session.send(factory.build(seq))
        except (OSError, ConnectionError, TimeoutError, SmtpReplyError, ssl.SSLError, ValueError) as error:
            if tally.done == outcomes_before:     # no reply was counted for this message
                tally.failed(f"send: {error!r}")
            tally.connection_errors += 1
            await session.close()
            session = None
            continue
        sent_here += 1
        if options.per_connection and sent_here >= options.per_connection:
            await session.close()
            session = None
    if session is not None:
        await session.close()


# ------------------------------------------------------------------ the run
def percentiles(samples_s: list[float]) -> dict | None:
    """p50/p90/p99/max in milliseconds (nearest rank), or None without samples."""
    if not samples_s:
        return None
    ordered = sorted(samples_s)
    n = len(ordered)

    def rank(p: float) -> float:
        return ordered[min(n - 1, max(0, math.ceil(p / 100 * n) - 1))]

    return {"p50": round(rank(50) * 1000, 2), "p90": round(rank(90) * 1000, 2),
            "p99": round(rank(99) * 1000, 2), "max": round(ordered[-1] * 1000, 2), "n": n}


def client_tls_context(options: LoadOptions) -> ssl.SSLContext | None:
    if options.tls == "none":
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if options.cafile:
        context.load_verify_locations(cafile=options.cafile)
    else:                                  # benchmark on loopback: certificate not checked
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class Progress:
    """A self-overwriting line on stderr (a plain line every 5 s when stderr is not a terminal)."""

    def __init__(self, options: LoadOptions):
        self.options = options
        self.enabled = not options.quiet
        self.terminal = sys.stderr.isatty()
        self.last_line_at = 0.0

    def show(self, tally: Tally, delivered: int | None, elapsed: float, final: bool = False) -> None:
        if not self.enabled:
            return
        if not self.terminal and not final and elapsed - self.last_line_at < 5.0:
            return
        self.last_line_at = elapsed
        count = self.options.count
        width = 30
        filled = int(width * tally.done / count) if count else width
        accepted = tally.replies["2xx"]
        sending = (tally.accepted_at or time.monotonic()) - (time.monotonic() - elapsed)
        line = (f"[{'#' * filled}{'.' * (width - filled)}] {tally.done}/{count} sent, "
                f"{accepted} accepted ({accepted / sending if sending > 0 else 0:.0f}/s)")
        if delivered is not None:
            line += f", {delivered} delivered ({delivered / elapsed if elapsed > 0 else 0:.0f}/s)"
        line += f", {elapsed:.1f} s"
        if self.terminal:
            sys.stderr.write("\r" + line + " " + ("\n" if final else ""))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


async def run_load(options: LoadOptions, sink: SinkProcess | None = None) -> dict:
    """Send the load; when sink is given, wait for delivery too.  Returns the result dict."""
    tally = Tally()
    factory = MessageFactory(options)
    tls_context = client_tls_context(options)
    progress = Progress(options)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    workers = [asyncio.create_task(session_worker(options, tally, factory, tls_context))
               for _ in range(min(options.sessions, options.count))]

    def delivered() -> int | None:
        return int(sink.counters.values[RUN_MESSAGES]) if sink else None

    pending = set(workers)
    while pending:
        _done, pending = await asyncio.wait(pending, timeout=0.25)
        progress.show(tally, delivered(), time.monotonic() - t0)
    for worker in workers:
        if worker.exception():
            raise worker.exception()
    t_sent = time.monotonic()
    accepted = tally.replies["2xx"]
    # messages never handed to a session because every worker gave up
    unsent = options.count - tally.done
    if unsent > 0:
        tally.replies["error"] += unsent
        tally.done += unsent

    t_e2e = None
    if sink:
        last, last_change = delivered(), time.monotonic()
        while delivered() < accepted and time.monotonic() - last_change < options.timeout:
            await asyncio.sleep(0.02)
            if delivered() != last:
                last, last_change = delivered(), time.monotonic()
            progress.show(tally, delivered(), time.monotonic() - t0)
    progress.show(tally, delivered(), time.monotonic() - t0, final=True)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)

    t_accept = (tally.accepted_at or t_sent) - t0
    result = {
        "label": "postwarden-load", "run_id": options.run_id,
        "target": f"{options.host}:{options.port}", "tls": options.tls,
        "tls_session": tally.tls, "auth": bool(options.username),
        "count": options.count, "sessions": options.sessions, "size": options.size,
        "per_connection": options.per_connection, "connections": tally.connections,
        "connection_errors": tally.connection_errors, "last_error": tally.last_error,
        "replies": tally.replies, "refusals": tally.refusals, "accepted": accepted,
        "t_accept_s": round(t_accept, 3),
        "accept_msg_per_s": round(accepted / t_accept, 1) if accepted and t_accept > 0 else 0.0,
        "latency_ms": {"data": percentiles(tally.data_latency),
                       "transaction": percentiles(tally.txn_latency)},
        "cpu_load_s": round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 2),
    }
    if sink:
        report = sink.report()
        got = report["run_messages"]
        if got:
            t_e2e = report["last_run_at"] - t0
        result.update({
            "sink_messages": got, "sink_other_messages": report["other_messages"],
            "sink_duplicates": report["duplicates"],
            "sink_signed": report["signed"], "sink_unsigned": report["unsigned"],
            "sink_sessions": report["sessions"], "sink_tls_sessions": report["tls_sessions"],
            "t_e2e_s": round(t_e2e, 3) if t_e2e else None,
            "e2e_msg_per_s": round(got / t_e2e, 1) if t_e2e else 0.0,
            "cpu_sink_s": round(report["cpu_s"], 2),
        })
        result["latency_ms"]["end_to_end"] = percentiles(report["latencies"])
    return result


def summary(result: dict) -> str:
    r = result
    lines = [
        f"load: {r['count']} messages, {r['sessions']} sessions, {r['size']}-byte body, "
        f"tls={r['tls']}{' +AUTH' if r['auth'] else ''} -> {r['target']}"
        + (f" ({r['tls_session']})" if r['tls_session'] else ""),
        f"replies:     2xx {r['replies']['2xx']}  4xx {r['replies']['4xx']}  "
        f"5xx {r['replies']['5xx']}  errors {r['replies']['error']}  "
        f"(connections {r['connections']}, connection errors {r['connection_errors']})",
    ]
    if r["refusals"]:
        lines.append("refusals:    " + ", ".join(f"{k}: {v}" for k, v in sorted(r["refusals"].items())))
    if r["last_error"]:
        lines.append(f"last error:  {r['last_error']}")
    lines.append(f"accepted:    {r['accepted']} in {r['t_accept_s']:.3f} s = "
                 f"{r['accept_msg_per_s']:.1f} msg/s  (load CPU {r['cpu_load_s']} s)")
    if "sink_messages" in r:
        e2e = (f"{r['t_e2e_s']:.3f} s = {r['e2e_msg_per_s']:.1f} msg/s" if r["t_e2e_s"]
               else "-")
        lines.append(f"delivered:   {r['sink_messages']} in {e2e}  (DKIM-signed {r['sink_signed']}, "
                     f"unsigned {r['sink_unsigned']}, other {r['sink_other_messages']}, "
                     f"duplicates {r['sink_duplicates']}, "
                     f"sink CPU {r['cpu_sink_s']} s)")
    lines.append(f"latency ms   {'p50':>9} {'p90':>9} {'p99':>9} {'max':>9}")
    names = {"data": "end of DATA", "transaction": "MAIL..250", "end_to_end": "end to end"}
    for key, name in names.items():
        stats = r["latency_ms"].get(key)
        if key in r["latency_ms"]:
            if stats:
                lines.append(f"  {name:<11}{stats['p50']:>9.2f} {stats['p90']:>9.2f} "
                             f"{stats['p99']:>9.2f} {stats['max']:>9.2f}")
            else:
                lines.append(f"  {name:<11}{'-':>9}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> LoadOptions:
    p = argparse.ArgumentParser(description="SMTP load generator with an end-to-end counting sink.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=2525)
    p.add_argument("--tls", choices=("starttls", "implicit", "none"), default="starttls")
    p.add_argument("--no-tls", dest="tls", action="store_const", const="none",
                   help="the same as --tls none")
    p.add_argument("--cafile", help="verify the server certificate with this CA (PEM); "
                                    "without it the certificate is not checked")
    p.add_argument("--tls-name", help="server name to verify (default: --host)")
    p.add_argument("--username")
    p.add_argument("--password", default=os.environ.get("BENCH_PASSWORD"),
                   help="AUTH password (default: $BENCH_PASSWORD)")
    p.add_argument("--from", dest="mail_from", default="app@example.com")
    p.add_argument("--to", dest="rcpt_to", default="user@dest.example")
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--size", type=int, default=2000, help="body bytes (smtp-source -l)")
    p.add_argument("--per-connection", type=int, default=0,
                   help="messages per connection before reconnecting (0: no limit; "
                        "1: like smtp-source without -d)")
    p.add_argument("--no-pipelining", dest="pipelining", action="store_false")
    p.add_argument("--sink-host", default="127.0.0.1")
    p.add_argument("--sink-port", type=int, default=2526)
    p.add_argument("--sink-tls-cert", help="let the sink offer STARTTLS with this certificate")
    p.add_argument("--sink-tls-key")
    p.add_argument("--no-sink", dest="sink", action="store_false",
                   help="do not run the counting sink (accept figures only)")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds to wait for a reply, and for the next delivery once all are sent")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    a = p.parse_args(argv)
    if a.count < 1 or a.sessions < 1 or a.size < 0:
        p.error("--count and --sessions must be positive, --size not negative")
    if a.username and a.password is None:
        p.error("--username needs --password (or $BENCH_PASSWORD)")
    return LoadOptions(**{k: v for k, v in vars(a).items()})


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    sink = None
    if options.sink:
        sink = SinkProcess(options.sink_host, options.sink_port, options.run_id,
                           options.sink_tls_cert, options.sink_tls_key)
    try:
        result = asyncio.run(run_load(options, sink))
    finally:
        if sink:
            sink.stop()
    print(summary(result))
    print(json.dumps(result), flush=True)
    complete = result["accepted"] == options.count
    if sink:
        complete = complete and result["sink_messages"] >= result["accepted"]
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
