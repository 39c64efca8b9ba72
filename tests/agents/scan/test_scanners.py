"""The scanner clients against the real clamd and rspamd started by tests.fixtures.scanners."""

from __future__ import annotations

import asyncio
import time

import pytest

from agents.scan import ClamdClient, RspamdClient, ScannerUnavailable
from tests.agents.scan import mail
from tests.fixtures.scanners import free_port

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def hanging_server():
    """A TCP server that accepts connections, reads forever and never answers."""
    connections = []

    async def swallow(reader, writer):
        connections.append(writer)
        try:
            while await reader.read(65536):
                pass
            await asyncio.sleep(3600)
        except (asyncio.CancelledError, ConnectionError):
            pass

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield port
    for writer in connections:
        writer.close()
    server.close()


# -- clamd -------------------------------------------------------------------------
@pytest.mark.clamd
@pytest.mark.parametrize("build", [mail.eicar_plain, mail.eicar_zip, mail.eicar_base64_attachment,
                                   mail.eicar_forwarded], ids=["plain", "zip", "base64", "forwarded"])
async def test_clamd_finds_eicar(clamd_server, build):
    result = await ClamdClient(clamd_server.address, 10).scan(build())
    assert result.infected
    assert result.signature.startswith("Eicar-Test-Signature")


@pytest.mark.clamd
async def test_clamd_clean_invoice_passes(clamd_server):
    result = await ClamdClient(clamd_server.address, 10).scan(mail.clean_invoice())
    assert not result.infected and result.signature is None


@pytest.mark.clamd
async def test_clamd_reports_the_test_signatures(clamd_server):
    client = ClamdClient(clamd_server.address, 10)
    assert (await client.scan(mail.marker_attachment())).signature.startswith("Postwarden.Test.Marker")
    assert (await client.scan(mail.known_file_attachment())).signature.startswith("Postwarden.Test.File")


@pytest.mark.clamd
async def test_clamd_over_unix_socket(clamd_server):
    client = ClamdClient(clamd_server.socket_path, 10)
    assert (await client.scan(mail.eicar_zip())).infected
    assert not (await client.scan(mail.clean_invoice())).infected


@pytest.mark.clamd
async def test_clamd_streams_a_large_message_in_chunks(clamd_server):
    # 3 MB of filler with EICAR in the last chunk: the whole stream must reach clamd.
    filler = b"".join(b"line %07d of a very long report\r\n" % i for i in range(90000))
    content = mail.eicar_plain().replace(b"\r\n\r\n", b"\r\n\r\n" + filler, 1)
    client = ClamdClient(clamd_server.address, 30, chunk_size=8192)
    assert len(content) > 3_000_000
    assert (await client.scan(content)).infected


async def test_clamd_closed_port_is_unavailable():
    with pytest.raises(ScannerUnavailable) as caught:
        await ClamdClient(f"127.0.0.1:{free_port()}", 5).scan(b"Subject: x\r\n\r\nhello\r\n")
    assert caught.value.scanner == "clamd" and "connect" in caught.value.problem


async def test_clamd_missing_unix_socket_is_unavailable(tmp_path):
    with pytest.raises(ScannerUnavailable):
        await ClamdClient(str(tmp_path / "nope.sock"), 5).scan(b"x")


async def test_clamd_hanging_server_times_out(hanging_server):
    started = time.monotonic()
    with pytest.raises(ScannerUnavailable) as caught:
        await ClamdClient(f"127.0.0.1:{hanging_server}", 0.5).scan(mail.clean_invoice())
    assert time.monotonic() - started < 2
    assert "no answer within 0.5s" in caught.value.problem


# -- rspamd ------------------------------------------------------------------------
def envelope():
    return dict(envelope_sender="billing@acme.example", recipients=["customer@client.example"],
                client_ip="192.0.2.10", helo="app1.acme.example", auth_user="billing-app",
                queue_id="msg-1")


@pytest.mark.rspamd
async def test_rspamd_gtube_is_spam(rspamd_server):
    client = RspamdClient(rspamd_server.address, 10)
    try:
        result = await client.check(mail.gtube(), **envelope())
    finally:
        await client.close()
    assert result.action == "reject" and "GTUBE" in result.symbols
    assert result.score >= 15


@pytest.mark.rspamd
async def test_rspamd_clean_invoice_scores_low_and_sees_the_envelope(rspamd_server):
    client = RspamdClient(rspamd_server.address, 10)
    try:
        result = await client.check(mail.clean_invoice(), **envelope())
        anonymous = await client.check(mail.clean_invoice(), recipients=["customer@client.example"])
    finally:
        await client.close()
    assert result.score < 5 and result.action == "no action"
    assert result.symbols, "rspamd returned no symbols"
    # The envelope reached rspamd: the From header matches the envelope sender given.
    assert "FROM_EQ_ENVFROM" in result.symbols
    assert "FROM_EQ_ENVFROM" not in anonymous.symbols


@pytest.mark.rspamd
async def test_rspamd_gets_every_recipient(rspamd_server):
    # The To: recipient is given second: rspamd only matches it if it reads every Rcpt.
    client = RspamdClient(rspamd_server.address, 10)
    try:
        both = await client.check(mail.clean_invoice(), **{**envelope(), "recipients": [
            "other@elsewhere.example", "customer@client.example"]})
        other = await client.check(mail.clean_invoice(), **{**envelope(), "recipients": [
            "other@elsewhere.example"]})
    finally:
        await client.close()
    assert "TO_MATCH_ENVRCPT_ALL" in both.symbols and "FORGED_RECIPIENTS" not in both.symbols
    assert "FORGED_RECIPIENTS" in other.symbols


@pytest.mark.rspamd
async def test_rspamd_header_values_cannot_inject_headers(rspamd_server):
    client = RspamdClient(rspamd_server.address, 10)
    try:
        result = await client.check(mail.clean_invoice(), envelope_sender="a@acme.example",
                                    recipients=["b@client.example"],
                                    helo="evil\r\nUser: admin", client_ip="192.0.2.1")
    finally:
        await client.close()
    # The request went through (a raw CR LF would have been refused by the HTTP client).
    assert result.symbols


def test_envelope_header_values_lose_line_breaks():
    from agents.scan.scanners import _header_value
    assert _header_value("evil\r\nUser: admin\x00") == "evilUser: admin"


async def test_rspamd_closed_port_is_unavailable():
    client = RspamdClient(f"http://127.0.0.1:{free_port()}", 5)
    try:
        with pytest.raises(ScannerUnavailable) as caught:
            await client.check(b"Subject: x\r\n\r\nhi\r\n", **envelope())
    finally:
        await client.close()
    assert caught.value.scanner == "rspamd"


async def test_rspamd_hanging_server_times_out(hanging_server):
    client = RspamdClient(f"http://127.0.0.1:{hanging_server}", 0.5)
    started = time.monotonic()
    try:
        with pytest.raises(ScannerUnavailable) as caught:
            await client.check(mail.clean_invoice(), **envelope())
    finally:
        await client.close()
    assert time.monotonic() - started < 2
    assert "no answer" in caught.value.problem
