"""Attachment formats: what kind a file is, and the text inside PDF and OOXML.

`sniff(name, content_type, data)` trusts magic bytes over the declared type
and file name (a PDF labelled image/png is still a PDF).  `pdf_text` uses
pypdf page by page up to a page limit; `ooxml_members` lists the XML parts of
a DOCX/XLSX/PPTX that hold text, and `xml_text` strips their markup (runs
joined, paragraphs kept apart) without building a tree, so an XML entity bomb
has nothing to expand.  Tables (CSV, and XLSX sheets through `sheet_rows`)
become text by `table_text`, which writes each cell under a header row as
`header: value` so a column named "DOB" or "個人番号" is context for every row.  Archives themselves are walked by
`extract.py`, which owns the limits.

Reads: untrusted attachment bytes.  `pdf_text` raises `Unreadable` for an
encrypted or broken PDF; nothing else here raises on bad input.
"""

from __future__ import annotations

import csv
import html
import io
import logging
import re
import time

OOXML_EXTENSIONS = {"docx", "docm", "dotx", "xlsx", "xlsm", "xltx", "pptx", "pptm", "potx",
                    "ppsx"}
ARCHIVE_EXTENSIONS = {"zip", "jar"}
TEXT_EXTENSIONS = {"txt", "csv", "tsv", "log", "json", "xml", "md", "ics", "vcf", "yaml",
                   "yml", "ini", "sql", "tab", "prn"}
TEXT_TYPES = {"application/json", "application/xml", "application/csv", "application/x-csv",
              "application/ics", "application/sql", "application/javascript",
              "application/x-yaml", "message/delivery-status", "message/disposition-notification"}

logging.getLogger("pypdf").setLevel(logging.CRITICAL)


class Unreadable(Exception):
    """The attachment cannot be read (encrypted, corrupt): a finding, not a crash."""


def extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def sniff(name: str, content_type: str, data: bytes) -> str:
    """One of pdf, ooxml, zip, message, html, rtf, text, binary."""
    ext = extension(name)
    head = data[:1024]
    if b"%PDF-" in head:
        return "pdf"
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        if ext in OOXML_EXTENSIONS or "openxmlformats" in content_type:
            return "ooxml"
        return "zip"          # the archive walker still spots OOXML inside
    if ext == "pdf" or content_type == "application/pdf":
        return "pdf"          # no magic: pypdf decides, and says unreadable
    if ext in OOXML_EXTENSIONS or ext in ARCHIVE_EXTENSIONS or content_type in (
            "application/zip", "application/x-zip-compressed"):
        return "zip"
    if content_type == "message/rfc822" or ext == "eml":
        return "message"
    if content_type == "text/html" or ext in ("html", "htm"):
        return "html"
    if data.startswith(b"{\\rtf"):
        return "rtf"
    if content_type.startswith("text/") or ext in TEXT_EXTENSIONS or content_type in TEXT_TYPES:
        return "text"
    if looks_like_text(data):
        return "text"
    return "binary"


def looks_like_text(data: bytes) -> bool:
    """True for bytes a person would read as text (so an octet-stream CSV is scanned)."""
    sample = data[:4096]
    if not sample or b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
        return True
    except UnicodeDecodeError as error:
        if error.start >= len(sample) - 4:       # a character cut by the sample's end
            return True
    if b"\x1b$B" in sample:
        return True
    printable = sum(1 for b in sample if 32 <= b < 127 or b in (9, 10, 13))
    return printable >= 0.95 * len(sample)


# -- PDF -----------------------------------------------------------------------
def pdf_text(data: bytes, max_pages: int, deadline: float = float("inf")) -> tuple[str, bool]:
    """(text, hit_a_limit): pages up to `max_pages` or the `time.monotonic()` deadline.

    Raises Unreadable if the PDF cannot be read.
    """
    try:
        from pypdf import PdfReader
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise Unreadable("encrypted PDF")
            except Unreadable:
                raise
            except Exception as error:
                raise Unreadable("encrypted PDF") from error
        pieces = []
        pages = reader.pages
        count = len(pages)
        for index in range(min(count, max_pages)):
            if time.monotonic() > deadline:
                return "\n".join(pieces), True
            try:
                pieces.append(pages[index].extract_text() or "")
            except Exception:
                continue
        return "\n".join(pieces), count > max_pages
    except Unreadable:
        raise
    except Exception as error:
        raise Unreadable(type(error).__name__) from error


# -- OOXML -----------------------------------------------------------------------
_OOXML_TEXT_PARTS = re.compile(
    r"^(?:word/(?:document|header\d*|footer\d*|footnotes|endnotes|comments)\.xml"
    r"|xl/sharedStrings\.xml|xl/worksheets/sheet\d+\.xml|xl/comments\d*\.xml"
    r"|ppt/slides/slide\d+\.xml|ppt/notesSlides/notesSlide\d+\.xml"
    r"|docProps/(?:core|app)\.xml)$")
_OOXML_EMBEDDED = re.compile(r"^(?:word|xl|ppt)/embeddings/[^/]+$")


def is_ooxml(names: list[str]) -> bool:
    return "[Content_Types].xml" in names and any(
        n.startswith(("word/", "xl/", "ppt/")) for n in names)


def ooxml_members(names: list[str]) -> tuple[list[str], list[str]]:
    """(XML parts that hold text, embedded files) of an OOXML package."""
    texts = [n for n in names if _OOXML_TEXT_PARTS.match(n)]
    embedded = [n for n in names if _OOXML_EMBEDDED.match(n)]
    return texts, embedded


_FORMULA = re.compile(r"<f\b[^>]*>.*?</f>|<f\b[^>]*/>", re.S)
_LINE_BREAKS = re.compile(r"</(?:w:p|a:p|row|si|w:tr)>|<(?:w:br|w:cr|a:br)\b[^>]*>")
_CELL_BREAKS = re.compile(r"</(?:c|w:tc)>|<w:tab\b[^>]*>")
_TAGS = re.compile(r"<[^>]*>")


def xml_text(xml: bytes, part_name: str = "") -> str:
    """The character data of an OOXML part: runs joined, paragraphs and cells apart."""
    text = xml.decode("utf-8", "replace")
    text = _LINE_BREAKS.sub("\n", text)
    text = _CELL_BREAKS.sub("\t", text)
    text = _TAGS.sub("", text)
    return html.unescape(text)


# -- tables ----------------------------------------------------------------------
MAX_TABLE_CELLS = 2_000_000
_DIGITS = re.compile(r"\d{5}")


def table_text(rows: list[list[str]]) -> str:
    """Rows as text; under a header row each cell is written `header: value`.

    A column header such as "DOB" or "個人番号" is then next to every value in
    its column, which is where the context-needing detectors look for it.
    """
    if not rows:
        return ""
    header = [cell.strip() for cell in rows[0]]
    named = len(rows) > 1 and any(header) and not any(_DIGITS.search(cell) for cell in header)
    lines = ["\t".join(rows[0])]
    for row in rows[1:]:
        if named:
            lines.append("\t".join(
                f"{header[i] if i < len(header) else ''}: {cell}" for i, cell in enumerate(row)))
        else:
            lines.append("\t".join(row))
    return "\n".join(lines)


def csv_rows(text: str) -> list[list[str]] | None:
    """The rows of CSV/TSV text, or None if it does not parse as a table."""
    sample = text[:8192]
    delimiter = max(",;\t|", key=sample.count)
    if not sample.count(delimiter):
        return None
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except (csv.Error, ValueError):
        return None
    if sum(len(row) for row in rows) > MAX_TABLE_CELLS:
        return None
    return rows


_ROW = re.compile(r"<row\b[^>]*>(.*?)</row>", re.S)
_CELL = re.compile(r"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_CELL_REF = re.compile(r'\br="([A-Z]+)\d+"')
_VALUE = re.compile(r"<v>(.*?)</v>", re.S)
_SHARED_STRING = re.compile(r"<si>(.*?)</si>", re.S)


def shared_strings(xml: bytes) -> list[str]:
    text = xml.decode("utf-8", "replace")
    return [html.unescape(_TAGS.sub("", m)) for m in _SHARED_STRING.findall(text)]


def sheet_rows(xml: bytes, strings: list[str]) -> list[list[str]]:
    """The cell texts of a worksheet, row by row, columns in place."""
    rows = []
    for row_xml in _ROW.findall(xml.decode("utf-8", "replace")):
        row: list[str] = []
        for attributes, inner in _CELL.findall(row_xml):
            ref = _CELL_REF.search(attributes)
            if ref:
                column = 0
                for letter in ref.group(1):
                    column = column * 26 + ord(letter) - 64
                while len(row) < column - 1 and len(row) < 16384:
                    row.append("")
            inner = _FORMULA.sub("", inner or "")
            if 't="s"' in attributes:
                value = _VALUE.search(inner)
                index = int(value.group(1)) if value and value.group(1).strip().isdigit() else -1
                row.append(strings[index] if 0 <= index < len(strings) else "")
            else:
                row.append(html.unescape(_TAGS.sub("", inner)))
        rows.append(row)
    return rows


_RTF_CONTROL = re.compile(r"\\[a-z]+-?\d* ?|\\'[0-9a-f]{2}|[{}]", re.I)


def rtf_text(data: bytes) -> str:
    """Rough text of an RTF document (control words dropped)."""
    return _RTF_CONTROL.sub(" ", data.decode("latin-1"))
