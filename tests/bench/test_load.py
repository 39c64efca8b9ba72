"""bench/load.py and bench/sink.py run against real SMTP servers on loopback.

The load generator is run as the command the lead will run (a subprocess), against
the aiosmtpd test sink (STARTTLS + AUTH, no PIPELINING) and against its own embedded
counting sink (PIPELINING, end-to-end figures).
"""

from __future__ import annotations

import json
import smtplib
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.load import make_body, percentiles
from tests.fixtures.sink import SmtpSink
from tests.fixtures.tls import make_ca, make_cert

REPO = Path(__file__).resolve().parents[2]
LOAD = [sys.executable, str(REPO / "bench" / "load.py")]
SINK = [sys.executable, str(REPO / "bench" / "sink.py")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_load(*args: str, timeout: float = 120) -> tuple[int, str, dict]:
    done = subprocess.run(LOAD + list(args), cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)
    lines = done.stdout.strip().splitlines()
    assert lines, f"no output; stderr: {done.stderr[-2000:]}"
    return done.returncode, done.stdout, json.loads(lines[-1])


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("bench-tls")
    ca = make_ca()
    ca.write(directory)
    make_cert(ca, ["localhost", "127.0.0.1"]).write(directory)
    return directory


def test_load_with_starttls_and_auth_against_the_test_sink(tls_dir: Path):
    with SmtpSink(tls_cert=tls_dir / "server.crt", tls_key=tls_dir / "server.key",
                  auth_users={"bench": "s3cret-pass"}) as sink:
        rc, out, result = run_load(
            "--port", str(sink.port), "--tls", "starttls", "--cafile", str(tls_dir / "ca.pem"),
            "--tls-name", "localhost", "--username", "bench", "--password", "s3cret-pass",
            "--from", "billing@example.com", "--to", "customer@dest.example",
            "--count", "200", "--sessions", "5", "--size", "2000", "--no-sink")
        messages = sink.wait_for_sync(200, timeout=5)

    assert rc == 0, out
    assert result["replies"] == {"2xx": 200, "4xx": 0, "5xx": 0, "error": 0}
    assert result["accepted"] == 200 and result["accept_msg_per_s"] > 0
    assert result["connections"] == 5 and result["connection_errors"] == 0
    assert result["tls_session"].startswith("TLSv1.")
    for key in ("data", "transaction"):
        stats = result["latency_ms"][key]
        assert stats["n"] == 200
        assert 0 < stats["p50"] <= stats["p90"] <= stats["p99"] <= stats["max"]
    assert "sink_messages" not in result
    # the human summary carries the percentile table
    assert "p50" in out and "p99" in out and "end of DATA" in out and "MAIL..250" in out

    assert len(messages) == 200
    assert all(m.tls and m.tls_version.startswith("TLSv1.") for m in messages)
    assert {m.auth_user for m in messages} == {"bench"}
    assert {m.envelope_sender for m in messages} == {"billing@example.com"}
    assert {m.recipients for m in messages} == {("customer@dest.example",)}
    assert {m.peer_ip for m in messages} == {"127.0.0.1"}
    message_ids = {m.header("Message-ID") for m in messages}
    assert len(message_ids) == 200
    sample = messages[0]
    assert sample.header("From") == "billing@example.com"
    body = sample.message.get_content()
    assert 1900 <= len(body.encode()) <= 2200
    assert sample.header("X-Bench-Run") == result["run_id"]


def test_wrong_password_is_counted_not_hidden(tls_dir: Path):
    with SmtpSink(tls_cert=tls_dir / "server.crt", tls_key=tls_dir / "server.key",
                  auth_users={"bench": "right"}) as sink:
        rc, out, result = run_load(
            "--port", str(sink.port), "--username", "bench", "--password", "wrong",
            "--count", "10", "--sessions", "2", "--no-sink", "--quiet")
        time.sleep(0.2)
        assert sink.messages == []
    assert rc == 1
    assert result["accepted"] == 0
    assert result["replies"]["error"] == 10
    assert result["connection_errors"] >= 2
    assert "AUTH" in result["last_error"]


@pytest.mark.parametrize("recipient, reply_class, refusal", [
    ("defer@dest.example", "4xx", "RCPT 450"),
    ("unknown@dest.example", "5xx", "RCPT 550"),
])
def test_scripted_refusals_are_counted_by_class(recipient, reply_class, refusal):
    with SmtpSink() as sink:
        sink.reply("ok@*", "250 2.1.5 fine")       # unrelated rule, must not interfere
        rc, out, result = run_load("--port", str(sink.port), "--no-tls", "--to", recipient,
                                   "--count", "30", "--sessions", "3", "--no-sink", "--quiet")
        assert sink.messages == []
        assert len(sink.refused) == 30
    assert rc == 1
    assert result["replies"][reply_class] == 30 and result["accepted"] == 0
    assert result["refusals"] == {refusal: 30}
    assert result["connections"] == 3              # a refusal does not cost the connection


def test_load_against_its_own_counting_sink_measures_end_to_end():
    port = free_port()
    rc, out, result = run_load("--port", str(port), "--sink-port", str(port), "--no-tls",
                               "--count", "500", "--sessions", "10", "--per-connection", "7")
    assert rc == 0, out
    assert result["accepted"] == 500
    assert result["sink_messages"] == 500 and result["sink_other_messages"] == 0
    assert result["sink_duplicates"] == 0
    assert result["sink_unsigned"] == 500 and result["sink_signed"] == 0
    assert result["connections"] >= 500 // 7
    assert result["e2e_msg_per_s"] > 0 and result["t_e2e_s"] > 0
    e2e = result["latency_ms"]["end_to_end"]
    assert e2e["n"] == 500 and 0 < e2e["p50"] <= e2e["max"]
    assert "end to end" in out and "delivered:" in out


def test_sink_port_in_use_is_reported():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(LOAD + ["--port", "1", "--sink-port", str(port), "--count", "1"],
                              cwd=REPO, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


def _message(headers: str, body: str = "hello\r\n") -> bytes:
    return (headers + "\r\n" + body).encode()


def test_standalone_sink_counts_signed_unsigned_and_other_runs(tls_dir: Path):
    port = free_port()
    sink = subprocess.Popen(SINK + ["--port", str(port), "--expect", "5", "--run-id", "runA",
                                    "--tls-cert", str(tls_dir / "server.crt"),
                                    "--tls-key", str(tls_dir / "server.key"), "--quiet"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "bench sink did not start"
                time.sleep(0.05)
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
            client.ehlo()
            assert client.has_extn("pipelining") and client.has_extn("starttls")
            signed = _message(
                "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; b=abc\r\n"
                "From: a@example.com\r\nMessage-ID: <one@example.com>\r\n"
                "X-Bench-Run: runA\r\nX-Bench-Sent: 1.500000\r\n")
            client.sendmail("a@example.com", ["b@dest.example"], signed)
            client.sendmail("a@example.com", ["b@dest.example"], _message(
                "From: a@example.com\r\nX-Bench-Run: runB\r\n",
                "a body line mentioning\r\nDKIM-Signature: in the body does not count\r\n"))
            client.sendmail("a@example.com", ["b@dest.example"], _message(
                "From: a@example.com\r\n", "..leading dot\r\n.\r\n"))
            client.starttls(context=ssl.create_default_context(cafile=str(tls_dir / "ca.pem")))
            client.ehlo()
            client.sendmail("a@example.com", ["b@dest.example"], _message(
                "From: a@example.com\r\nX-Bench-Run: runA\r\n"))
            client.sendmail("a@example.com", ["b@dest.example"], signed)    # delivered twice
        out, err = sink.communicate(timeout=10)
    finally:
        if sink.poll() is None:
            sink.kill()
            sink.wait()
    assert sink.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["messages"] == 5
    assert result["signed"] == 2 and result["unsigned"] == 3
    assert result["run_messages"] == 2 and result["other_messages"] == 2
    assert result["duplicates"] == 1
    # the readiness probe above is a session too
    assert result["sessions"] == 2 and result["tls_sessions"] == 1


def test_percentiles_nearest_rank():
    samples = [i / 1000 for i in range(1, 101)]      # 1..100 ms
    stats = percentiles(samples)
    assert stats == {"p50": 50.0, "p90": 90.0, "p99": 99.0, "max": 100.0, "n": 100}
    assert percentiles([]) is None
    assert percentiles([0.004]) == {"p50": 4.0, "p90": 4.0, "p99": 4.0, "max": 4.0, "n": 1}


def test_body_has_the_requested_size_and_nothing_a_filter_would_catch():
    body = make_body(2000)
    assert 2000 <= len(body) <= 2080
    assert not any(ch.isdigit() for ch in body.decode())
    assert all(line and not line.startswith(b".") and len(line) <= 78
               for line in body.split(b"\r\n")[:-1])


def test_load_with_implicit_tls(tls_dir: Path):
    with SmtpSink(tls_cert=tls_dir / "server.crt", tls_key=tls_dir / "server.key",
                  implicit_tls=True) as sink:
        rc, out, result = run_load("--port", str(sink.port), "--tls", "implicit",
                                   "--cafile", str(tls_dir / "ca.pem"), "--count", "20",
                                   "--sessions", "2", "--no-sink", "--quiet")
        messages = sink.wait_for_sync(20, timeout=5)
    assert rc == 0, out
    assert result["accepted"] == 20 and result["tls_session"].startswith("TLSv1.")
    assert all(m.tls for m in messages)


def test_unverifiable_server_certificate_is_refused_with_cafile(tls_dir: Path):
    other_ca = make_ca("Some Other CA")
    other_dir = tls_dir / "other"
    other_ca.write(other_dir)
    with SmtpSink(tls_cert=tls_dir / "server.crt", tls_key=tls_dir / "server.key") as sink:
        rc, out, result = run_load("--port", str(sink.port), "--cafile", str(other_dir / "ca.pem"),
                                   "--count", "3", "--sessions", "1", "--no-sink", "--quiet")
        assert sink.messages == []
    assert rc == 1 and result["accepted"] == 0
    assert "TLS handshake" in result["last_error"] and "CERTIFICATE_VERIFY_FAILED" in result["last_error"]
