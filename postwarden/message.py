"""A message on its way through the relay: envelope, sealed payload and results.

`Message` mirrors schemas/message.avsc.  Its payload is always sealed; a stage
that needs the content calls `open_content(keyring, blobs)` and gets the raw
RFC 5322 bytes, and `seal_content` puts changed content back.

Holds secrets: the clear content, only while a stage works on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from postwarden import codec
from postwarden.crypto import Keyring, Sealed
from postwarden.verdicts import StageResult, Verdict, strongest

SCHEMA = "postwarden.Message"


@dataclass(frozen=True)
class Message:
    id: str
    tenant_id: str
    app_id: str
    received_at: int
    client_address: str
    auth_user: str
    envelope_sender: str
    recipients: tuple[str, ...]
    size: int
    payload: Sealed
    blob_ref: str | None = None
    helo: str = ""
    header_from: tuple[str, ...] = ()
    results: tuple[StageResult, ...] = ()
    flags: dict[str, str] = field(default_factory=dict)
    attempt: int = 0
    not_before: int = 0
    is_dsn: bool = False

    # -- payload ------------------------------------------------------------
    @property
    def context(self) -> bytes:
        """Associated data binding a sealed payload to this message and tenant."""
        return f"{self.id}\0{self.tenant_id}".encode()

    def open_content(self, keyring: Keyring, blobs: Any = None) -> bytes:
        payload = self.payload
        if self.blob_ref:
            if blobs is None:
                raise ValueError(f"message {self.id} is in the blob store but none was given")
            payload = replace(payload, ciphertext=blobs.get(self.blob_ref))
        return keyring.open(payload, self.context)

    def seal_content(self, keyring: Keyring, content: bytes, blobs: Any = None,
                     inline_limit: int = 512 * 1024) -> "Message":
        sealed = keyring.seal(self.payload.key_id, self.payload.wrapped_key, content, self.context)
        blob_ref = None
        if len(sealed.ciphertext) > inline_limit and blobs is not None:
            blob_ref = blobs.put(self.id, sealed.ciphertext)
            sealed = replace(sealed, ciphertext=b"")
        return replace(self, payload=sealed, blob_ref=blob_ref, size=len(content))

    # -- results ------------------------------------------------------------
    def with_result(self, result: StageResult) -> "Message":
        return replace(self, results=self.results + (result,))

    def with_flag(self, name: str, value: str) -> "Message":
        return replace(self, flags={**self.flags, name: value})

    def verdict(self) -> Verdict:
        return strongest(self.results)

    def replace(self, **changes: Any) -> "Message":
        return replace(self, **changes)

    @classmethod
    def dsn_for(cls, original: "Message", from_domain: str, result: StageResult,
                new_id: str, at_ms: int) -> "Message":
        """A delivery status notification to `original`'s envelope sender (not yet sealed).

        Null envelope sender and `is_dsn`, so it is never bounced in turn; sealed under
        the same tenant data key as the original.
        """
        return cls(
            id=new_id, tenant_id=original.tenant_id, app_id=original.app_id, received_at=at_ms,
            client_address="", auth_user="", envelope_sender="",
            recipients=(original.envelope_sender,),
            header_from=(f"mailer-daemon@{from_domain.lower()}",), size=0,
            payload=Sealed(original.payload.key_id, original.payload.wrapped_key, b"", b""),
            is_dsn=True, results=(result,))

    # -- records ------------------------------------------------------------
    def to_record(self) -> dict:
        return {
            "id": self.id, "tenant_id": self.tenant_id, "app_id": self.app_id,
            "received_at": self.received_at, "client_address": self.client_address,
            "auth_user": self.auth_user, "helo": self.helo,
            "envelope_sender": self.envelope_sender, "recipients": list(self.recipients),
            "header_from": list(self.header_from), "size": self.size,
            "payload": {"key_id": self.payload.key_id, "wrapped_key": self.payload.wrapped_key,
                        "nonce": self.payload.nonce, "ciphertext": self.payload.ciphertext,
                        "blob_ref": self.blob_ref},
            "results": [r.to_record() for r in self.results],
            "flags": dict(self.flags), "attempt": self.attempt, "not_before": self.not_before,
            "is_dsn": self.is_dsn,
        }

    @classmethod
    def from_record(cls, r: dict) -> "Message":
        p = r["payload"]
        return cls(
            id=r["id"], tenant_id=r["tenant_id"], app_id=r["app_id"],
            received_at=r["received_at"], client_address=r["client_address"],
            auth_user=r["auth_user"], helo=r.get("helo", ""),
            envelope_sender=r["envelope_sender"], recipients=tuple(r["recipients"]),
            header_from=tuple(r.get("header_from", ())), size=r["size"],
            payload=Sealed(p["key_id"], p["wrapped_key"], p["nonce"], p["ciphertext"]),
            blob_ref=p.get("blob_ref"),
            results=tuple(StageResult.from_record(x) for x in r.get("results", ())),
            flags=dict(r.get("flags", {})), attempt=r.get("attempt", 0),
            not_before=r.get("not_before", 0), is_dsn=r.get("is_dsn", False),
        )

    def encode(self) -> bytes:
        return codec.encode(SCHEMA, self.to_record())

    @classmethod
    def decode(cls, data: bytes) -> "Message":
        return cls.from_record(codec.decode(data, expect=SCHEMA))
