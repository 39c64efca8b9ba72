"""SMTP smuggling (CVE-2023-51764 class): a bare-LF end of data must not start a second message.

An attacker who may send as one address tries to end DATA with `<LF>.<LF>` or
`<LF>.<CR><LF>` and smuggle a second transaction (forged sender) inside the
first message.  Ingress must treat it as one message whose From is checked,
never as two.
"""

import socket
import ssl
import base64

import pytest

from tests.fixtures.relay import PASSWORD

pytestmark = pytest.mark.broker


def _reader(stream):
    def read_reply() -> list[bytes]:
        lines = []
        while True:
            line = stream.readline()
            lines.append(line)
            if line[3:4] != b"-":
                return lines
    return read_reply


def _session(relay):
    raw = socket.create_connection(relay.submission, timeout=20)
    read = _reader(raw.makefile("rb"))
    read()
    raw.sendall(b"EHLO app.test\r\n"); read()
    raw.sendall(b"STARTTLS\r\n"); read()
    tls = ssl._create_unverified_context().wrap_socket(raw, server_hostname="relay.test")
    read = _reader(tls.makefile("rb"))
    tls.sendall(b"EHLO app.test\r\n"); read()
    token = base64.b64encode(b"\0billing@acme\0" + PASSWORD.encode())
    tls.sendall(b"AUTH PLAIN " + token + b"\r\n")
    assert read()[-1].startswith(b"235")
    return tls, read


@pytest.mark.parametrize("terminator", [b"\n.\n", b"\n.\r\n", b"\r\n.\n"])
def test_bare_lf_dot_does_not_end_data(relay, terminator):
    tls, read = _session(relay)
    try:
        tls.sendall(b"MAIL FROM:<invoices@acme.example>\r\n"); assert read()[-1].startswith(b"250")
        tls.sendall(b"RCPT TO:<alice@example.org>\r\n"); assert read()[-1].startswith(b"250")
        tls.sendall(b"DATA\r\n"); assert read()[-1].startswith(b"354")
        smuggled = (b"From: invoices@acme.example\r\nTo: alice@example.org\r\nSubject: first\r\n\r\n"
                    b"hello" + terminator +
                    b"MAIL FROM:<ceo@acme.example>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n"
                    b"From: ceo@acme.example\r\n\r\nsmuggled\r\n.\r\n")
        tls.sendall(smuggled)
        replies = read()
        # exactly one reply for one message: a 250 for the whole thing (its From is granted)
        assert replies[-1].startswith(b"250"), replies
        tls.sendall(b"NOOP\r\n")
        assert read()[-1].startswith(b"250")      # no pending replies from a smuggled transaction
    finally:
        tls.close()
