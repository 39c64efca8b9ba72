"""Every piece of text in a message, sorted by where it was: headers, body, attachments.

`extract(content, limits)` parses the raw RFC 5322 bytes, decodes every MIME
part (base64, quoted-printable, any charset), decodes RFC 2047 header values,
reduces HTML to text, and opens attachments: text and CSV, PDF, DOCX/XLSX/PPTX,
ZIP archives (recursively) and forwarded messages (message/rfc822, .eml).
Limits on nesting depth, archive members, expanded bytes and wall time, counted
over the whole message, end in an `archive_limit` signal; encrypted or broken files in
an `unreadable_attachment` signal.  Neither stops the rest of the scan.

Reads: untrusted message bytes.  Never raises: if the parser itself gives up,
what was extracted so far is kept and the raw bytes are read as text.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.utils
import io
import quopri
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from email.message import Message
from email.policy import compat32

from agents.dlp import documents
from agents.dlp.text import decode_bytes, decode_header, html_to_text
from postwarden.config.dlp import DlpLimits

# Headers that carry transport machinery, not content an app wrote.
_SKIPPED_HEADERS = {
    "received", "dkim-signature", "domainkey-signature", "arc-seal", "arc-message-signature",
    "arc-authentication-results", "authentication-results", "received-spf", "message-id",
    "in-reply-to", "references", "content-type", "content-transfer-encoding",
    "content-disposition", "content-id", "mime-version", "return-path", "date",
    "list-unsubscribe", "list-unsubscribe-post", "x-google-dkim-signature",
}
MAX_MULTIPART_DEPTH = 64


@dataclass
class Extracted:
    """Decoded text by location, plus the limit and unreadable signals."""
    texts: dict[str, list[str]] = field(
        default_factory=lambda: {"headers": [], "body": [], "attachments": []})
    signals: Counter = field(default_factory=Counter)
    parts: int = 0

    def text(self, location: str) -> str:
        return "\n\n".join(self.texts[location])


class _Walker:
    def __init__(self, limits: DlpLimits):
        self.limits = limits
        self.out = Extracted()
        self.expanded = 0
        self.members = 0
        self.exhausted = False          # the expanded-bytes or member budget is spent
        self.deadline = time.monotonic() + limits.seconds
        self.late = False

    def out_of_time(self) -> bool:
        """True (with one archive_limit signal) once the message's time budget is spent."""
        if not self.late and time.monotonic() > self.deadline:
            self.late = True
            self.limit()
        return self.late

    def add(self, location: str, text: str) -> None:
        if text and text.strip():
            self.out.texts[location].append(text)

    def limit(self) -> None:
        self.out.signals["archive_limit"] += 1

    def unreadable(self) -> None:
        self.out.signals["unreadable_attachment"] += 1

    # -- messages ------------------------------------------------------------
    def message(self, msg: Message, depth: int, location: str | None) -> None:
        """A message's headers and parts; `location` None for the top-level message."""
        self.headers(msg, location or "headers")
        self.part(msg, depth, location, 0)

    def headers(self, msg: Message, location: str) -> None:
        lines = []
        try:
            items = msg.items()
        except Exception:
            return
        for name, value in items:
            if str(name).lower() in _SKIPPED_HEADERS:
                continue
            try:
                lines.append(f"{name}: {decode_header(value)}")
            except Exception:
                lines.append(f"{name}: {value!s}")
        self.add(location, "\n".join(lines))

    def part(self, part: Message, depth: int, location: str | None, nesting: int) -> None:
        if nesting > MAX_MULTIPART_DEPTH:
            self.limit()
            return
        content_type = _content_type(part)
        if part.is_multipart():
            payload = part.get_payload()
            if not isinstance(payload, list):
                return
            if content_type.startswith("message/"):
                encoding = str(part.get("Content-Transfer-Encoding") or "").strip().lower()
                if encoding in ("base64", "quoted-printable"):
                    # Not allowed by RFC 2046, but sent: the parser read the encoded
                    # text as a message; decode it and parse again.
                    self.attachment("", "message/rfc822", _decoded_container(payload, encoding),
                                    depth)
                    return
                for inner in payload:
                    if isinstance(inner, Message):
                        self.nested_message(inner, depth)
                return
            for child in payload:
                if isinstance(child, Message):
                    self.part(child, depth, location, nesting + 1)
            return
        self.out.parts += 1
        try:
            data = part.get_payload(decode=True) or b""
        except Exception:
            data = b""
        charset = _charset(part)
        name = _filename(part)
        disposition = (part.get("Content-Disposition") or "").split(";", 1)[0].strip().lower()
        inline_text = content_type.startswith("text/") and not name and disposition != "attachment"
        if location is None and inline_text:
            if content_type == "text/html":
                self.add("body", html_to_text(decode_bytes(data, charset)))
            else:
                self.add("body", decode_bytes(data, charset))
            return
        self.attachment(name, content_type, data, depth, charset)

    def nested_message(self, msg: Message, depth: int) -> None:
        if depth + 1 > self.limits.archive_depth:
            self.limit()
            return
        self.message(msg, depth + 1, "attachments")

    # -- attachments ----------------------------------------------------------
    def attachment(self, name: str, content_type: str, data: bytes, depth: int,
                   charset: str | None = None) -> None:
        if self.out_of_time():
            return
        if name:
            self.add("attachments", name)
        kind = documents.sniff(name, content_type, data)
        if kind == "text":
            text = decode_bytes(data, charset)
            if documents.extension(name) in ("csv", "tsv") or content_type in (
                    "text/csv", "text/tab-separated-values", "application/csv"):
                rows = documents.csv_rows(text)
                if rows is not None:
                    text = documents.table_text(rows)
            self.add("attachments", text)
        elif kind == "html":
            self.add("attachments", html_to_text(decode_bytes(data, charset)))
        elif kind == "rtf":
            self.add("attachments", documents.rtf_text(data))
        elif kind == "pdf":
            self.pdf(data)
        elif kind in ("zip", "ooxml"):
            self.archive(data, depth)
        elif kind == "message":
            if depth + 1 > self.limits.archive_depth:
                self.limit()
                return
            try:
                inner = email.message_from_bytes(data, policy=compat32)
            except Exception:
                self.unreadable()
                return
            self.message(inner, depth + 1, "attachments")

    def pdf(self, data: bytes) -> None:
        try:
            text, truncated = documents.pdf_text(data, self.limits.pdf_pages, self.deadline)
        except documents.Unreadable:
            self.unreadable()
            return
        if truncated:
            self.limit()
        if not self.spend(len(text.encode("utf-8", "replace"))):
            return
        self.add("attachments", text)

    def spend(self, size: int) -> bool:
        """Count `size` expanded bytes against the budget; False (and a signal) when over."""
        if self.exhausted:
            return False
        if self.expanded + size > self.limits.expanded_bytes:
            self.exhausted = True
            self.limit()
            return False
        self.expanded += size
        return True

    def read_member(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
        """A member's bytes within the budget; None (with a signal) if it cannot be had."""
        if self.exhausted:
            return None
        self.members += 1
        if self.members > self.limits.archive_members:
            self.exhausted = True
            self.limit()
            return None
        if info.flag_bits & 0x1:
            self.unreadable()
            return None
        remaining = self.limits.expanded_bytes - self.expanded
        try:
            with archive.open(info) as member:
                data = member.read(remaining + 1)   # never inflate past the budget
        except Exception:
            self.unreadable()
            return None
        if not self.spend(len(data)):
            return None
        return data

    def archive(self, data: bytes, depth: int) -> None:
        if depth + 1 > self.limits.archive_depth:
            self.limit()
            return
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            infos = archive.infolist()
        except Exception:
            self.unreadable()
            return
        names = [info.filename for info in infos]
        if documents.is_ooxml(names):
            self.ooxml(archive, names, depth)
            return
        for info in infos:
            if self.exhausted or self.out_of_time():
                return
            if info.is_dir():
                continue
            member = self.read_member(archive, info)
            if member is None:
                continue
            self.attachment(info.filename.rsplit("/", 1)[-1], "", member, depth + 1)

    def ooxml(self, archive: zipfile.ZipFile, names: list[str], depth: int) -> None:
        text_parts, embedded = documents.ooxml_members(names)
        pieces = []
        strings: list[str] | None = None
        for part_name in sorted(text_parts, key=_ooxml_order):
            if part_name.startswith("xl/worksheets/"):
                if strings is None:
                    strings = self.shared_strings(archive, names)
                xml = self.read_member(archive, archive.getinfo(part_name))
                if xml is not None:
                    pieces.append(documents.table_text(documents.sheet_rows(xml, strings)))
                continue
            if part_name == "xl/sharedStrings.xml":
                continue            # read with the sheets, cell by cell
            xml = self.read_member(archive, archive.getinfo(part_name))
            if xml is not None:
                pieces.append(documents.xml_text(xml, part_name))
        self.add("attachments", "\n".join(pieces))
        for part_name in embedded:
            data = self.read_member(archive, archive.getinfo(part_name))
            if data is not None:
                self.attachment(part_name.rsplit("/", 1)[-1], "", data, depth + 1)


    def shared_strings(self, archive: zipfile.ZipFile, names: list[str]) -> list[str]:
        if "xl/sharedStrings.xml" not in names:
            return []
        xml = self.read_member(archive, archive.getinfo("xl/sharedStrings.xml"))
        return documents.shared_strings(xml) if xml is not None else []


def _ooxml_order(name: str) -> tuple[str, int]:
    """Slides and sheets in number order (slide2 before slide10)."""
    stem = name.rsplit(".", 1)[0]
    digits = ""
    while stem and stem[-1].isdigit():
        digits = stem[-1] + digits
        stem = stem[:-1]
    return stem, int(digits or 0)


def _decoded_container(payload: list, encoding: str) -> bytes:
    text = "".join(m.as_string() if isinstance(m, Message) else str(m) for m in payload)
    raw = text.encode("ascii", "replace")
    try:
        if encoding == "base64":
            return base64.b64decode(b"".join(raw.split()) + b"==", validate=False)
        return quopri.decodestring(raw)
    except (binascii.Error, ValueError):
        return b""


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:
        return None


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
    if not name:
        try:
            name = part.get_param("name") or ""
            if isinstance(name, tuple):
                name = email.utils.collapse_rfc2231_value(name)
        except Exception:
            name = ""
    try:
        return decode_header(str(name)).strip()
    except Exception:
        return str(name)


def extract(content: bytes, limits: DlpLimits = DlpLimits()) -> Extracted:
    """The decoded text of a whole message by location; never raises."""
    walker = _Walker(limits)
    try:
        msg = email.message_from_bytes(content, policy=compat32)
        walker.message(msg, 0, None)
    except (Exception, RecursionError):
        # The parser gave up: keep what we have and read the raw bytes as text.
        walker.add("body", decode_bytes(content))
    return walker.out
