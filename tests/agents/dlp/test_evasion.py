"""Attempts to slip a card number past the scanner: each must still be found."""

import base64

import pytest

from tests.agents.dlp.helpers import found, text_message, with_attachment

HIDDEN = {
    "zero-width spaces": "4111\u200b1111\u200b1111\u200b1111",
    "soft hyphens": "4111\u00ad1111\u00ad1111\u00ad1111",
    "word joiner and BOM": "4111\u20601111\ufeff1111 1111",
    "no-break spaces": "4111\u00a01111\u00a01111\u00a01111",
    "ideographic spaces": "4111\u30001111\u30001111\u30001111",
    "full-width digits": "４１１１ １１１１ １１１１ １１１１",
    "mathematical digits": "𝟒𝟏𝟏𝟏 𝟏𝟏𝟏𝟏 𝟏𝟏𝟏𝟏 𝟏𝟏𝟏𝟏",
    "arabic-indic digits": "٤١١١ ١١١١ ١١١١ ١١١١",
    "devanagari digits": "४१११ ११११ ११११ ११११",
    "unicode hyphens": "4111\u20101111\u20111111\u20121111",
    "minus signs": "4111\u22121111\u22121111\u22121111",
    "katakana long vowel as dash": "4111ー1111ー1111ー1111",
    "one digit per space": "4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1",
}


@pytest.mark.parametrize("name", list(HIDDEN))
def test_unicode_tricks(name):
    assert found(text_message(f"card: {HIDDEN[name]}")) == {("credit_card", "body"): 1}, name


HTML_TRICKS = {
    "comment in the middle": "<p>card 4111<!-- nothing -->1111 1111 1111</p>",
    "character references": "<p>card &#52;111 &#x31;111 1111 1111</p>",
    "tags in the middle": "<p>card <span>4111</span><b> 1111</b> <i>1111</i> 1111</p>",
    "hidden element": "<div style='display:none'>card 4111 1111 1111 1111</div>",
    "attribute value": "<input type=hidden value='4111 1111 1111 1111'>",
    "white text": "<font color=white>4111 1111 1111 1111</font>",
}


@pytest.mark.parametrize("name", list(HTML_TRICKS))
def test_html_tricks(name):
    assert found(text_message(HTML_TRICKS[name], subtype="html")) == {("credit_card", "body"): 1}


def test_wrong_extension_and_type():
    from bench.dlp_corpus import docx_bytes, zip_bytes
    assert found(with_attachment("photo.jpg", docx_bytes(["card 4111 1111 1111 1111"]),
                                 "image/jpeg")) == {("credit_card", "attachments"): 1}
    assert found(with_attachment("data.bin", zip_bytes({"x": b"card 4111 1111 1111 1111"}),
                                 "application/octet-stream")) == {("credit_card", "attachments"): 1}


def test_base64_encoded_forward():
    inner = text_message("card 4111 1111 1111 1111")
    raw = (b"From: a@acme.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b"
           b"\r\n\r\n--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + base64.encodebytes(inner) + b"--b--\r\n")
    assert found(raw) == {("credit_card", "attachments"): 1}


def test_number_split_across_encoded_words_in_subject():
    subject = "=?utf-8?q?card_4111_11?= =?utf-8?b?MTEgMTExMSAxMTEx?="
    assert found(text_message("hello", subject=subject)) == {("credit_card", "headers"): 1}


def test_utf16_text_attachment():
    data = "card 4111 1111 1111 1111".encode("utf-16")
    assert found(with_attachment("note.txt", data, "text/plain; charset=utf-16")) == \
        {("credit_card", "attachments"): 1}
