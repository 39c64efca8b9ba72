"""Small builders shared by the DLP tests: messages with given parts."""

from __future__ import annotations

from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

from agents.dlp import inspect
from postwarden.config.dlp import DlpLimits, scan_everything


def text_message(body: str, charset: str = "utf-8", subtype: str = "plain",
                 subject: str = "Notice") -> bytes:
    msg = MIMEText(body, subtype, charset)
    msg["From"] = "app@acme.example"
    msg["To"] = "customer@example.net"
    msg["Subject"] = subject
    return msg.as_bytes()


def with_attachment(filename: str, data: bytes, mime_type: str = "application/octet-stream",
                    body: str = "See attached.") -> bytes:
    msg = MIMEMultipart("mixed")
    msg["From"] = "app@acme.example"
    msg["To"] = "customer@example.net"
    msg["Subject"] = "Attachment"
    msg.attach(MIMEText(body, "plain", "utf-8"))
    part = MIMEApplication(data)
    part.replace_header("Content-Type", mime_type)
    part.add_header("Content-Disposition", "attachment", filename=filename)
    msg.attach(part)
    return msg.as_bytes()


def found(content: bytes, limits: DlpLimits = DlpLimits()) -> dict[tuple[str, str], int]:
    """{(type, location): count} for a message under a policy with every detector."""
    findings = inspect(content, scan_everything(limits))
    return {(f.type, f.location): f.count for f in findings}
