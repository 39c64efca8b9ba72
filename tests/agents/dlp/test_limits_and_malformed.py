"""Hostile input: archive bombs, deep nesting, encrypted files, malformed MIME.

A limit ends in a finding of its own (`archive_limit`, `unreadable_attachment`)
and never in an exception; what could be read is still scanned.
"""

import io
import random
import time

import pytest

from agents.dlp import inspect
from bench.dlp_corpus import pdf_bytes, zip_bomb, zip_bytes
from postwarden.config.dlp import DlpLimits, scan_everything
from tests.agents.dlp.helpers import found, text_message, with_attachment

CARD = b"card 4111 1111 1111 1111"


def test_zip_bomb_is_a_finding_not_a_crash():
    bomb = zip_bomb(200 * 1024 * 1024)            # 200 MiB of zeros in ~200 KiB
    assert len(bomb) < 1024 * 1024
    archive = zip_bytes({"a-card.txt": CARD, "bomb.bin": bomb})
    started = time.monotonic()
    result = found(with_attachment("bomb.zip", archive, "application/zip"),
                   DlpLimits(expanded_bytes=8 * 1024 * 1024))
    assert time.monotonic() - started < 10
    assert result[("archive_limit", "attachments")] == 1
    assert result[("credit_card", "attachments")] == 1          # read before the bomb


def test_default_limits_stop_a_large_bomb():
    bomb = zip_bomb(100 * 1024 * 1024)
    result = found(with_attachment("bomb.zip", bomb, "application/zip"))
    assert result == {("archive_limit", "attachments"): 1}


def test_nesting_deeper_than_the_limit():
    archive = CARD
    for level in range(6):
        archive = zip_bytes({f"level{level}.zip" if level else "card.txt": archive})
    result = found(with_attachment("deep.zip", archive, "application/zip"),
                   DlpLimits(archive_depth=3))
    assert result == {("archive_limit", "attachments"): 1}
    shallow = found(with_attachment("deep.zip", archive, "application/zip"),
                    DlpLimits(archive_depth=10))
    assert shallow == {("credit_card", "attachments"): 1}


def test_too_many_members():
    archive = zip_bytes({f"f{i}.txt": b"x" for i in range(50)} | {"z-card.txt": CARD})
    result = found(with_attachment("many.zip", archive, "application/zip"),
                   DlpLimits(archive_members=20))
    assert result == {("archive_limit", "attachments"): 1}


def test_nested_forwards_beyond_depth():
    message = text_message("card 4111 1111 1111 1111")
    for _ in range(5):
        message = with_attachment("fwd.eml", message, "message/rfc822")
    result = found(message, DlpLimits(archive_depth=2))
    assert result.get(("archive_limit", "attachments")) == 1
    assert ("credit_card", "attachments") not in result


def _encrypted_zip() -> bytes:
    data = bytearray(zip_bytes({"secret.csv": CARD}))
    # Set the "encrypted" flag in the local and central headers, as a real
    # ZipCrypto archive would have (zipfile cannot write one).
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    data[local + 6] |= 1
    data[central + 8] |= 1
    return bytes(data)


def test_encrypted_zip_member_is_unreadable():
    result = found(with_attachment("secret.zip", _encrypted_zip(), "application/zip"))
    assert result == {("unreadable_attachment", "attachments"): 1}


def test_encrypted_pdf_is_unreadable():
    from pypdf import PdfReader, PdfWriter
    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(pdf_bytes(["Card 4111 1111 1111 1111"]))).pages:
        writer.add_page(page)
    writer.encrypt(user_password="secret", owner_password="owner")
    buffer = io.BytesIO()
    writer.write(buffer)
    result = found(with_attachment("locked.pdf", buffer.getvalue(), "application/pdf"))
    assert result == {("unreadable_attachment", "attachments"): 1}


def test_pdf_page_limit():
    from pypdf import PdfReader, PdfWriter
    writer = PdfWriter()
    for _ in range(5):
        writer.add_page(PdfReader(io.BytesIO(pdf_bytes(["nothing here"]))).pages[0])
    writer.add_page(PdfReader(io.BytesIO(pdf_bytes(["Card 4111 1111 1111 1111"]))).pages[0])
    buffer = io.BytesIO()
    writer.write(buffer)
    result = found(with_attachment("long.pdf", buffer.getvalue(), "application/pdf"),
                   DlpLimits(pdf_pages=3))
    assert result == {("archive_limit", "attachments"): 1}


@pytest.mark.parametrize("data", [
    b"%PDF-1.4 garbage that is not a pdf",
    b"PK\x03\x04 truncated zip",
    b"PK\x03\x04" + bytes(range(256)) * 4,
])
def test_broken_files_are_unreadable(data):
    result = found(with_attachment("broken.pdf" if data.startswith(b"%") else "broken.zip", data))
    assert result == {("unreadable_attachment", "attachments"): 1}


MALFORMED = [
    b"",
    b"\x00\xff" * 1000,
    b"Subject: no body",
    b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\n"
    b"card 4111 1111 1111 1111",                                    # no closing boundary
    b"Content-Type: multipart/mixed\r\n\r\nno boundary parameter",
    b"Content-Type: text/plain; charset=\"\xff\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"!!!not base64!!!",
    b"Content-Type: text/plain; charset=bogus-charset\r\n\r\ncard 4111 1111 1111 1111",
    b"Subject: =?utf-8?B?broken?= =?nope?Q?x?= =?utf-8?X?y?=\r\n\r\nx",
    b"Content-Type: message/rfc822\r\n\r\nnot really a message",
    b"Content-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\nUEsDBA==",
    b"Content-Type: multipart/mixed; boundary=a\r\n\r\n" + b"--a\r\nContent-Type: multipart/mixed; "
    b"boundary=a\r\n\r\n" * 200,
]


@pytest.mark.parametrize("raw", MALFORMED)
def test_malformed_messages_never_raise(raw):
    findings = inspect(raw, scan_everything())
    for finding in findings:
        assert finding.count >= 1


def test_malformed_still_scanned_where_possible():
    raw = MALFORMED[3]
    assert found(raw)[("credit_card", "body")] == 1
    assert found(MALFORMED[6])[("credit_card", "body")] == 1


def test_random_bytes_never_raise():
    rng = random.Random(7)
    base = text_message("card 4111 1111 1111 1111\nSSN 536-22-1234")
    for _ in range(200):
        mutated = bytearray(base)
        for _ in range(rng.randint(1, 20)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        inspect(bytes(mutated), scan_everything())


def test_findings_never_hold_the_value():
    findings = inspect(text_message("card 4111 1111 1111 1111, SSN 536-22-1234"), scan_everything())
    text = repr(findings) + repr(findings.to_records())
    assert "4111 1111 1111 1111" not in text and "4111111111111111" not in text
    assert "536-22-1234" not in text and "536221234" not in text
    samples = {f.type: f.samples for f in findings}
    assert samples["credit_card"] == ("**** **** **** 1111",)
    assert samples["us_ssn"] == ("***-**-1234",)


def test_time_budget_is_a_finding():
    message = with_attachment("a.zip", zip_bytes({"card.txt": CARD}), "application/zip")
    assert found(message, DlpLimits(seconds=0)) == {("archive_limit", "attachments"): 1}
    assert found(message, DlpLimits(seconds=30)) == {("credit_card", "attachments"): 1}
