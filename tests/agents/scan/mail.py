"""Test messages for the scan stage, built with the standard library (no fixtures on disk).

Each builder returns the raw RFC 5322 bytes a submitting app would send.  EICAR is
assembled at run time so no file in the tree is itself a virus test string.
"""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage
from email.utils import formataddr

from tests.fixtures.scanners import EICAR, GTUBE, MARKER, TEST_FILE


def message(*, sender: str = "billing@acme.example", display_name: str = "Acme Billing",
            to: str = "customer@client.example", subject: str = "Your invoice INV-1042",
            text: str | None = None, html: str | None = None, reply_to: str | None = None,
            headers: dict[str, str] | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = formataddr((display_name, sender)) if display_name else sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Fri, 04 Dec 2026 10:00:00 +0000"
    msg["Message-ID"] = "<inv-1042@acme.example>"
    if reply_to:
        msg["Reply-To"] = reply_to
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text if text is not None else
                    "Dear customer,\n\nplease find your invoice INV-1042 for December attached.\n"
                    "Amount due: EUR 120.00, payable within 30 days.\n\nKind regards,\nAcme Billing\n")
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg


def clean_invoice() -> bytes:
    msg = message()
    msg.add_attachment(b"%PDF-1.4\n% fake invoice\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n",
                       maintype="application", subtype="pdf", filename="INV-1042.pdf")
    return msg.as_bytes()


def eicar_plain() -> bytes:
    """EICAR as the whole text body (7bit, not encoded)."""
    return (b"From: billing@acme.example\r\nTo: customer@client.example\r\n"
            b"Subject: test\r\nMessage-ID: <e1@acme.example>\r\n\r\n" + EICAR + b"\r\n")


def eicar_base64_attachment() -> bytes:
    msg = message()
    msg.add_attachment(EICAR, maintype="application", subtype="octet-stream", filename="readme.com")
    return msg.as_bytes()


def eicar_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("docs/invoice.txt", "nothing to see")
        archive.writestr("docs/eicar.com", EICAR)
    msg = message()
    msg.add_attachment(buffer.getvalue(), maintype="application", subtype="zip", filename="invoice.zip")
    return msg.as_bytes()


def eicar_forwarded() -> bytes:
    """EICAR attached to a message that is itself attached (message/rfc822)."""
    inner = message(sender="someone@elsewhere.example", display_name="Someone",
                    subject="original message")
    inner.add_attachment(EICAR, maintype="application", subtype="octet-stream", filename="tool.com")
    outer = message(subject="Fwd: original message", text="Forwarding the message below.\n")
    outer.add_attachment(inner)
    return outer.as_bytes()


def marker_attachment() -> bytes:
    msg = message()
    msg.add_attachment(b"header\n" + MARKER + b"\ntrailer\n", maintype="application",
                       subtype="octet-stream", filename="data.bin")
    return msg.as_bytes()


def known_file_attachment() -> bytes:
    msg = message()
    msg.add_attachment(TEST_FILE, maintype="text", subtype="plain", filename="dropper.txt")
    return msg.as_bytes()


def gtube(kind: str = "X") -> bytes:
    """GTUBE: X = rspamd reject (score 15), Z = rewrite subject, Y = add header."""
    return message(subject="Cheap watches", text=f"Buy now!\n{kind}{GTUBE[1:]}\n").as_bytes()


def with_raw_header(content: bytes, name: str, value: str) -> bytes:
    """`content` with header `name` replaced by `value` written as raw UTF-8 (RFC 6532)."""
    lines = content.split(b"\n")
    kept = [line for line in lines[:lines.index(b"")] if not line.lower().startswith(name.lower().encode() + b":")]
    return f"{name}: {value}".encode() + b"\n" + b"\n".join(kept + lines[lines.index(b""):])
