"""Avro single-object encoding of topic records, from the contracts in schemas/.

Every record on a topic is ``C3 01`` + the 8-byte little-endian CRC-64-AVRO
fingerprint of the writer schema's canonical form + the Avro binary body
(Avro 1.8+ specification, "Single object encoding"), so any Avro library can
read our topics with the .avsc files and no registry.

Reads: untrusted bytes from topics; `decode` refuses unknown markers and
fingerprints with `CodecError` rather than guessing.
"""

from __future__ import annotations

import io
import json
import os
import struct
from functools import lru_cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

MARKER = b"\xc3\x01"
SCHEMA_DIR = Path(os.environ.get("POSTWARDEN_SCHEMAS", Path(__file__).resolve().parent.parent / "schemas"))
# dependencies first: a schema may name types defined in an earlier one
SCHEMA_FILES = ["stage_result", "message", "audit_event", "config_record", "dead_letter"]


class CodecError(ValueError):
    """Bytes that are not a record we know how to read."""


class Schemas:
    def __init__(self, directory: Path = SCHEMA_DIR):
        self.named: dict[str, Any] = {}
        self.by_name: dict[str, Any] = {}
        self.by_fingerprint: dict[bytes, Any] = {}
        self.fingerprint_of: dict[str, bytes] = {}
        extra = sorted(p.stem for p in directory.glob("*.avsc") if p.stem not in SCHEMA_FILES)
        for stem in SCHEMA_FILES + extra:
            raw = json.loads((directory / f"{stem}.avsc").read_text())
            parsed = fastavro.parse_schema(raw, named_schemas=self.named)
            name = parsed["name"]
            canonical = to_parsing_canonical_form(parsed)
            digest = struct.pack("<Q", int(fingerprint(canonical, "CRC-64-AVRO"), 16))
            self.by_name[name] = parsed
            self.by_fingerprint[digest] = parsed
            self.fingerprint_of[name] = digest


@lru_cache(maxsize=1)
def schemas() -> Schemas:
    return Schemas()


def encode(schema_name: str, record: dict) -> bytes:
    """Encode `record` with the named schema ("postwarden.Message") as a single object."""
    registry = schemas()
    schema = registry.by_name[schema_name]
    out = io.BytesIO()
    out.write(MARKER)
    out.write(registry.fingerprint_of[schema_name])
    fastavro.schemaless_writer(out, schema, record)
    return out.getvalue()


def decode(data: bytes, expect: str | None = None) -> dict:
    """Decode a single-object record; with `expect`, refuse any other record type."""
    if not isinstance(data, (bytes, bytearray)) or len(data) < 10 or data[:2] != MARKER:
        raise CodecError("not an Avro single-object record (marker C3 01 missing)")
    registry = schemas()
    schema = registry.by_fingerprint.get(bytes(data[2:10]))
    if schema is None:
        raise CodecError("unknown writer schema fingerprint " + data[2:10].hex())
    if expect is not None and schema["name"] != expect:
        raise CodecError(f"expected a {expect} record, got {schema['name']}")
    try:
        return fastavro.schemaless_reader(io.BytesIO(data[10:]), schema, schema)
    except Exception as error:  # fastavro raises assorted errors on truncated input
        raise CodecError(f"corrupt {schema['name']} record: {type(error).__name__}") from None

