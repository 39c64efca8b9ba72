"""Contracts: Avro single-object encoding readable with only the .avsc files; sealed payloads."""

import io
import json
import struct

import fastavro
import pytest
from fastavro.schema import fingerprint, to_parsing_canonical_form

from postwarden import codec, crypto, passwords
from postwarden.crypto import Keyring, MasterKeyError


def test_single_object_encoding_is_readable_by_a_plain_avro_reader():
    record = {"at": 5, "stage": "sign", "source_topic": "x", "error": "boom", "record": b"\x00\x01"}
    data = codec.encode("postwarden.DeadLetter", record)
    assert data[:2] == b"\xc3\x01"
    # an outside reader: parse the .avsc itself, check the fingerprint, read the body
    schema = fastavro.parse_schema(json.loads((codec.SCHEMA_DIR / "dead_letter.avsc").read_text()))
    expected = struct.pack("<Q", int(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"), 16))
    assert data[2:10] == expected
    decoded = fastavro.schemaless_reader(io.BytesIO(data[10:]), schema, schema)
    assert decoded["error"] == "boom" and decoded["record"] == b"\x00\x01"


def test_decode_refuses_foreign_and_wrong_records():
    with pytest.raises(codec.CodecError):
        codec.decode(b"not avro at all")
    with pytest.raises(codec.CodecError):
        codec.decode(b"\xc3\x01" + b"\x00" * 8 + b"x")
    data = codec.encode("postwarden.DeadLetter", {"at": 1, "stage": "s", "source_topic": "t",
                                                  "error": "e", "record": b""})
    with pytest.raises(codec.CodecError):
        codec.decode(data, expect="postwarden.Message")


def test_sealed_payload_is_bound_to_its_message_and_master_key():
    ring = Keyring(crypto.load_master_key({crypto.MASTER_KEY_ENV: crypto.new_master_key_text()}))
    key = ring.new_data_key("acme/1")
    sealed = ring.seal(key.key_id, key.wrapped, b"secret body", b"msg1\0acme")
    assert b"secret body" not in sealed.ciphertext + sealed.wrapped_key
    assert ring.open(sealed, b"msg1\0acme") == b"secret body"
    with pytest.raises(MasterKeyError):
        ring.open(sealed, b"msg2\0acme")            # replayed under another message
    other = Keyring(crypto.load_master_key({crypto.MASTER_KEY_ENV: crypto.new_master_key_text()}))
    with pytest.raises(MasterKeyError):
        other.open(sealed, b"msg1\0acme")           # a different master key


def test_master_key_must_be_32_bytes():
    with pytest.raises(MasterKeyError):
        crypto.load_master_key({crypto.MASTER_KEY_ENV: "c2hvcnQ="})
    with pytest.raises(MasterKeyError):
        crypto.load_master_key({})


def test_password_hashes_are_slow_salted_and_verified():
    stored = passwords.hash_password("a long enough password", log_n=12)
    assert stored.startswith("$scrypt$") and "a long enough password" not in stored
    assert passwords.verify("a long enough password", stored)
    assert not passwords.verify("a long enough passworD", stored)
    assert passwords.hash_password("x", log_n=12) != passwords.hash_password("x", log_n=12)
