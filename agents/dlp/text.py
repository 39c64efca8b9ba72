"""Text as a reader sees it: charsets, RFC 2047 words, HTML, Unicode normalisation.

`decode_bytes(raw, charset)` turns a part's bytes into text under its declared
charset (with the supersets mail clients really use: cp932 for Shift_JIS,
ISO-2022-JP extensions, cp1252 for Latin-1) and guesses when the label is
missing or wrong.  `decode_header(value)` decodes RFC 2047 encoded words,
joining adjacent words before decoding so a multi-byte character split across
two of them survives.  `html_to_text` keeps what a reader sees plus the
attribute values that carry data (alt, title, value, mailto links).
`normalize` applies NFKC (full-width ０-９ become 0-9), drops zero-width
characters, makes every other decimal digit (٤, ४, ๔) ASCII and turns dash
look-alikes between digits into "-".

Reads: untrusted bytes and header values.  Never raises on malformed input.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import quopri
import re
import unicodedata
from html.parser import HTMLParser

_CHARSET_SUPERSETS = {
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932",
    "ms_kanji": "cp932", "windows-31j": "cp932", "csshiftjis": "cp932",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "utf-8",
    "ascii": "utf-8", "gb2312": "gb18030", "gbk": "gb18030", "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949", "iso-2022-jp": "iso2022_jp_ext", "csiso2022jp": "iso2022_jp_ext",
    "unicode-1-1-utf-7": "utf-7", "x-unknown": "", "unknown-8bit": "", "unknown": "",
}
# When a declared Japanese charset fails strictly, try its relatives before replacing.
_FALLBACKS = {
    "iso2022_jp_ext": ("iso2022_jp_2004", "iso2022_jp_2", "iso2022_jp_3"),
    "cp932": ("shift_jis_2004",),
    "euc_jp": ("euc_jis_2004", "cp932"),
}

_WESTERN = {"cp1252", "iso8859-1", "latin-1", "iso8859-15", "ascii"}


def _codec(charset: str | None) -> str | None:
    if not charset:
        return None
    name = charset.strip().strip('"').lower()
    name = _CHARSET_SUPERSETS.get(name, name)
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_bytes(raw: bytes, charset: str | None = None) -> str:
    """Text from bytes: the declared charset (or a superset), else a guess; never raises."""
    codec = _codec(charset)
    if codec in _WESTERN and not raw.isascii():
        # Valid multi-byte UTF-8 is almost never real Latin-1 text: a mislabel.
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if codec:
        for name in (codec,) + _FALLBACKS.get(codec, ()):
            try:
                return raw.decode(name)
            except (UnicodeDecodeError, LookupError, ValueError):
                continue
        # The label may be wrong (utf-8 labelled as iso-8859-1 is common): guess strictly
        # first, then fall back to the declared codec with replacement characters.
        guessed = _guess(raw, strict=True)
        if guessed is not None:
            return guessed
        try:
            return raw.decode(codec, "replace")
        except (LookupError, ValueError):
            pass
    return _guess(raw, strict=False) or ""


def _guess(raw: bytes, strict: bool) -> str | None:
    if b"\x1b$" in raw or b"\x1b(" in raw:      # ISO-2022-JP is 7-bit: test it first
        for name in ("iso2022_jp_ext", "iso2022_jp_2004", "iso2022_jp_2"):
            try:
                return raw.decode(name)
            except UnicodeDecodeError:
                continue
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for name in ("cp932", "euc_jp"):
        try:
            text = raw.decode(name)
        except UnicodeDecodeError:
            continue
        if _looks_japanese(text):
            return text
    if strict:
        return None
    return raw.decode("cp1252", "replace")


def _looks_japanese(text: str) -> bool:
    kana = sum(1 for c in text if "\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff")
    return kana * 4 >= sum(1 for c in text if ord(c) > 127)


# -- RFC 2047 ----------------------------------------------------------------
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")


def _word_bytes(encoding: str, payload: str) -> bytes:
    if encoding in "bB":
        payload = payload.strip()
        payload += "=" * (-len(payload) % 4)
        try:
            return base64.b64decode(payload, validate=False)
        except (binascii.Error, ValueError):
            return b""
    return quopri.decodestring(payload.replace("_", " ").encode("ascii", "replace"), header=True)


def decode_header(value: str) -> str:
    """Decode RFC 2047 encoded words; adjacent words of one charset decode together."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    value = str(value)
    if any("\udc80" <= c <= "\udcff" for c in value):   # raw 8-bit header bytes
        value = decode_bytes(value.encode("utf-8", "surrogateescape"))
    if "=?" not in value:
        return value
    out: list[str] = []
    pending: bytes = b""
    pending_charset: str | None = None
    pos = 0
    for m in _ENCODED_WORD.finditer(value):
        between = value[pos:m.start()]
        charset = m.group(1).split("*", 1)[0]          # RFC 2231 language suffix
        adjacent = bool(pending) and not between.strip()
        if not (adjacent and charset.lower() == (pending_charset or "").lower()):
            if pending:
                out.append(decode_bytes(pending, pending_charset))
                pending = b""
            if not adjacent:        # white space between adjacent words is dropped
                out.append(between)
        pending += _word_bytes(m.group(2), m.group(3))
        pending_charset = charset
        pos = m.end()
    if pending:
        out.append(decode_bytes(pending, pending_charset))
    out.append(value[pos:])
    return "".join(out)


# -- HTML ----------------------------------------------------------------------
_BLOCK_TAGS = {"p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4",
               "h5", "h6", "section", "article", "header", "footer", "blockquote", "pre",
               "hr", "dt", "dd", "title", "address"}
_CELL_TAGS = {"td", "th"}
_DATA_ATTRIBUTES = {"alt", "title", "value", "placeholder", "aria-label"}


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1
            return
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in _CELL_TAGS:
            self.parts.append("\t")
        for name, value in attrs:
            if not value:
                continue
            if name in _DATA_ATTRIBUTES:
                self.parts.append(f" {value} ")
            elif name == "href" and value.lower().startswith(("mailto:", "tel:")):
                self.parts.append(f" {value.split(':', 1)[1]} ")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in _CELL_TAGS:
            self.parts.append("\t")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


_TAG = re.compile(r"<[^>]*>")


def html_to_text(markup: str) -> str:
    """The text a reader of the HTML sees, plus data-bearing attribute values."""
    parser = _TextParser()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # HTMLParser is lenient, but never let markup stop the scan
        return html.unescape(_TAG.sub(" ", markup))
    return "".join(parser.parts)


# -- normalisation ----------------------------------------------------------------
_INVISIBLE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff\u180e]")
_DASH_BETWEEN_DIGITS = re.compile(r"(?<=\d)[\u2010-\u2015\u2212\u30fc\uff70\ufe63\u2043](?=\d)")


_OTHER_DIGIT = re.compile(r"(?![0-9])\d")      # Arabic-Indic, Devanagari, Thai, ... digits


def _ascii_digit(match: re.Match) -> str:
    return str(unicodedata.decimal(match.group(), 0))


def normalize(text: str) -> str:
    """NFKC, zero-width characters removed, every decimal digit made ASCII,
    dash look-alikes between digits made '-'."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = _OTHER_DIGIT.sub(_ascii_digit, text)
    return _DASH_BETWEEN_DIGITS.sub("-", text)
