"""Text as a reader sees it: transfer encodings, charsets, headers, HTML, attachments."""

import base64
import json
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import pytest

from agents.dlp.extract import extract
from agents.dlp.text import decode_bytes, decode_header, html_to_text, normalize
from bench.dlp_corpus import docx_bytes, pdf_bytes, pptx_bytes, xlsx_bytes, zip_bytes
from tests.agents.dlp.helpers import found, text_message, with_attachment

CARD = "4111 1111 1111 1111"
GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "dlp"


@pytest.mark.parametrize("charset", ["utf-8", "iso-2022-jp", "shift_jis", "euc-jp", "cp932",
                                     "utf-16", "iso-8859-1", "utf-7"])
def test_body_in_any_charset(charset):
    body = f"カード番号 {CARD}" if "jp" in charset or "jis" in charset or charset in (
        "cp932", "utf-8", "utf-16", "utf-7") else f"Carte n° {CARD}"
    assert found(text_message(body, charset))[("credit_card", "body")] == 1


@pytest.mark.parametrize("cte", ["base64", "quoted-printable", "8bit", "7bit"])
def test_transfer_encodings(cte):
    raw = (f"From: a@acme.example\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: {cte}\r\n\r\n")
    body = f"card {CARD} ok".encode()
    if cte == "base64":
        body = base64.encodebytes(body)
    elif cte == "quoted-printable":
        body = b"card 4111 1111 =\r\n1111 1111 ok"           # soft line break mid-number
    assert found(raw.encode() + body)[("credit_card", "body")] == 1


def test_shift_jis_without_a_charset_label():
    raw = b"From: a@acme.example\r\nSubject: x\r\nContent-Type: text/plain\r\n\r\n" + \
        f"お客様のカード番号は {CARD} です".encode("cp932")
    assert found(raw)[("credit_card", "body")] == 1


def test_rfc2047_subject_split_across_words():
    subject = Header("個人番号 1234 5678 9018 のお知らせ", "iso-2022-jp", maxlinelen=30).encode()
    assert subject.count("=?") > 1
    assert "1234 5678 9018" in decode_header(subject)
    raw = text_message("本文", "utf-8", subject=subject)
    assert found(raw)[("jp_my_number", "headers")] == 1


def test_raw_8bit_header():
    raw = b"From: a@acme.example\r\nSubject: \xe3\x82\xab\xe3\x83\xbc\xe3\x83\x89 " + \
        CARD.encode() + b"\r\n\r\nbody\r\n"
    assert found(raw)[("credit_card", "headers")] == 1


def test_html_reduced_to_text():
    markup = ("<p>Card <b>4111</b>&nbsp;1111 <i>1111</i>&#32;1111</p>"
              "<style>.a{}</style><img alt='SSN 536-22-1234'>")
    text = html_to_text(markup)
    assert "4111\xa01111 1111 1111" in text and "SSN 536-22-1234" in text and ".a{}" not in text
    assert found(text_message(markup, subtype="html")) == {("credit_card", "body"): 1,
                                                            ("us_ssn", "body"): 1}


def test_nfkc_full_width_digits_and_dashes():
    assert normalize("４１１１－１１１１−１\u200b２") == "4111-1111-12"
    assert found(text_message("カード番号：４１１１ １１１１ １１１１ １１１１", "iso-2022-jp")) == \
        {("credit_card", "body"): 1}


@pytest.mark.parametrize("shown", ["4111-1111-1111-1111", "4111.1111.1111.1111",
                                   "4111 1111 1111 1111", "4111111111111111",
                                   "4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1", "4111-1111 1111.1111"])
def test_digits_split_by_separators_are_joined(shown):
    assert found(text_message(f"card {shown}"))[("credit_card", "body")] == 1


def test_alternative_parts_count_once():
    msg = MIMEMultipart("alternative")
    msg.attach(MIMEText(f"card {CARD}", "plain"))
    msg.attach(MIMEText(f"<p>card {CARD}</p>", "html"))
    assert found(msg.as_bytes()) == {("credit_card", "body"): 1}


ATTACHMENTS = {
    "csv": ("rows.csv", "text/csv", f"name,card\nA,{CARD}\n".encode()),
    "text": ("note.txt", "text/plain", f"card {CARD}".encode()),
    "octet-stream csv": ("rows.dat", "application/octet-stream", f"A;{CARD}\n".encode()),
    "pdf": ("s.pdf", "application/pdf", pdf_bytes([f"Card {CARD}"])),
    "pdf uncompressed": ("s.pdf", "application/pdf", pdf_bytes([f"Card {CARD}"], compress=False)),
    "pdf mislabelled": ("image.png", "image/png", pdf_bytes([f"Card {CARD}"])),
    "docx": ("l.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             docx_bytes([f"Card {CARD}"])),
    "xlsx": ("r.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             xlsx_bytes([["name", "card"], ["A", CARD]])),
    "pptx": ("p.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation",
             pptx_bytes([["Summary"], [f"Card {CARD}"]])),
    "zip": ("a.zip", "application/zip", zip_bytes({"dir/rows.csv": f"A,{CARD}".encode()})),
    "zip of docx": ("a.zip", "application/zip", zip_bytes({"l.docx": docx_bytes([f"Card {CARD}"])})),
    "zip in zip": ("a.zip", "application/zip",
                   zip_bytes({"b.zip": zip_bytes({"c.txt": f"card {CARD}".encode()})})),
    "eml": ("fwd.eml", "application/octet-stream", text_message(f"card {CARD}")),
    "html": ("page.html", "text/html", f"<td>{CARD}</td>".encode()),
    "rtf": ("d.rtf", "application/rtf", b"{\\rtf1\\ansi {\\b Card} " + CARD.encode() + b"\\par}"),
}


@pytest.mark.parametrize("kind", list(ATTACHMENTS))
def test_attachment_types(kind):
    filename, mime_type, data = ATTACHMENTS[kind]
    assert found(with_attachment(filename, data, mime_type)) == {("credit_card", "attachments"): 1}


def test_filename_is_scanned():
    assert found(with_attachment("ssn 536-22-1234.txt", b"hello", "text/plain")) == \
        {("us_ssn", "attachments"): 1}


def test_forwarded_message_rfc822():
    inner = text_message(f"card {CARD}").decode()
    raw = ("From: a@acme.example\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n"
           "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
           "see below\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "\r\n--b--\r\n")
    assert found(raw.encode()) == {("credit_card", "attachments"): 1}


def test_xlsx_shared_strings_not_read_as_numbers():
    text = extract(with_attachment("r.xlsx", xlsx_bytes([["a", "b"], ["c", "123"]]),
                                   "application/vnd.ms-excel")).text("attachments")
    assert "a" in text and "123" in text and "\t0\t" not in text


def test_docx_runs_are_joined():
    data = docx_bytes(["Card 4111 1111 1111 1111"], split_runs=True)
    assert "Card 4111 1111 1111 1111" in extract(with_attachment("l.docx", data)).text("attachments")


def test_decode_bytes_guesses_and_never_raises():
    assert decode_bytes("テスト".encode("iso2022_jp")) == "テスト"
    assert decode_bytes("テスト".encode("utf-8"), "iso-8859-1") == "テスト"   # mislabelled
    assert decode_bytes(b"\xff\xfe\x00garbage", "no-such-charset")
    assert decode_bytes(b"caf\xe9", "x-unknown") == "café"


def test_golden_messages_match_expected_findings():
    """The committed .eml files give exactly the committed findings (type, count, location)."""
    from agents.dlp import inspect, scan_everything
    expected = [json.loads(line) for line in (GOLDEN / "expected.jsonl").read_text().splitlines()]
    assert len(expected) >= 5
    for entry in expected:
        findings = inspect((GOLDEN / entry["file"]).read_bytes(), scan_everything())
        assert findings.to_records() == entry["findings"], entry["file"]


def test_csv_header_is_context_for_every_row():
    rows = "employee,dob,ssn\n" + "\n".join(
        f"E{i},0{i}/1{i}/198{i},53622{i}23{i}" for i in range(1, 8))
    result = found(with_attachment("people.csv", rows.encode(), "text/csv"))
    assert result[("date_of_birth", "attachments")] == 7
    assert result[("us_ssn", "attachments")] == 7


def test_xlsx_header_is_context_for_every_row():
    rows = [["氏名", "生年月日", "個人番号"]] + [[f"社員{i}", f"1980/0{i}/1{i}", number]
                                          for i, number in enumerate(
                                              ["123456789018", "111111111118"], 1)]
    text = extract(with_attachment("staff.xlsx", xlsx_bytes(rows))).text("attachments")
    assert "個人番号: 123456789018" in text
    result = found(with_attachment("staff.xlsx", xlsx_bytes(rows)))
    assert result[("jp_my_number", "attachments")] == 2
    assert result[("date_of_birth", "attachments")] == 2


def test_table_without_header_has_no_column_context():
    rows = "\n".join(f"E{i},0{i}/1{i}/198{i}" for i in range(1, 5))
    assert found(with_attachment("rows.csv", rows.encode(), "text/csv")) == {}
