"""Security regression: message content can never end the DATA phase early (SMTP smuggling).

Content that reaches egress was written by a tenant's app; a bare-LF or bare-CR
"end of data" inside it must not let a second, unauthenticated message be
injected into our session with the receiving server.
"""

from __future__ import annotations

import pytest

from egress.engine import DeliveryEngine
from tests.egress.helpers import ConfigHolder, document, message

SMUGGLED = (b"MAIL FROM:<ceo@victim.example>\r\nRCPT TO:<target@example.org>\r\nDATA\r\n"
            b"From: ceo@victim.example\r\n\r\nwire money\r\n.\r\n")


@pytest.mark.parametrize("ending", [b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n", b"\r\n.\r\n"])
async def test_embedded_end_of_data_is_stuffed(ending, smtp_server_factory):
    sink = smtp_server_factory()
    content = (b"From: invoices@acme.example\r\nSubject: hi\r\n\r\nfirst line" + ending + SMUGGLED)
    engine = DeliveryEngine(ConfigHolder(document(routes=[{"domains": ["*"],
                                                          "smarthost": sink.address}])))
    try:
        [outcome] = await engine.deliver(message(["a@example.org"]), content, ["a@example.org"])
    finally:
        await engine.close()
    assert outcome.status == "delivered"
    assert len(sink.messages) == 1
    assert sink.messages[0].rcpt_tos == ["a@example.org"]
    assert b"wire money" in sink.messages[0].data          # stayed inside the one message
    assert sink.sessions[0].commands.count("MAIL") == 1
    # No bare CR or LF on the wire, so even a lenient receiver sees no early end of data.
    data = sink.messages[0].data
    assert data.count(b"\n") == data.count(b"\r\n") == data.count(b"\r")
