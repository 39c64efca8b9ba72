"""Helpers for the sign tests: a fake DNS zone for dkimpy's verifier and PEM export."""

from __future__ import annotations

import dkim as dkimpy
from cryptography.hazmat.primitives import serialization

from agents.sign import dkim as ours


class FakeDns:
    """A TXT zone for dkimpy's `dnsfunc=` parameter (the only thing mocked: there is no internet)."""

    def __init__(self):
        self.records: dict[bytes, bytes] = {}
        self.queries: list[bytes] = []

    def publish(self, selector: str, domain: str, private_key) -> None:
        name = f"{selector}._domainkey.{domain}.".encode()
        self.records[name] = ours.dns_txt_record(private_key)

    def __call__(self, name: bytes, timeout: int = 5) -> bytes | None:
        self.queries.append(name)
        return self.records.get(name)


def pem(private_key) -> bytes:
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())


BODY = b"\r\nYour code is 123456.\r\n"


def message_from(from_value: bytes, extra: bytes = b"") -> bytes:
    return (b"From: " + from_value + b"\r\nTo: bob@example.net\r\nSubject: code\r\n"
            b"Date: Fri, 04 Dec 2026 10:00:00 +0000\r\n" + extra + BODY)


def verify_all(signed: bytes, dns) -> list[bool]:
    verifier = dkimpy.DKIM(signed)
    return [verifier.verify(idx=i, dnsfunc=dns) for i in range(signed.count(b"DKIM-Signature:"))]
