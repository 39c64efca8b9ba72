"""Envelope encryption: message payloads and config secrets, never clear on a topic.

A master key (32 bytes, from ``POSTWARDEN_MASTER_KEY`` as base64 or from the
file named by ``POSTWARDEN_MASTER_KEY_FILE``) wraps per-tenant data keys with
AES-256-GCM.  Each tenant's data key seals that tenant's payloads with
AES-256-GCM, bound (as associated data) to the message id and tenant, so a
sealed payload cannot be replayed under another message.  Every sealed payload
carries its wrapped data key, so any component holding the master key can open
it without looking anything up; unwrapped keys are cached in memory.

Holds secrets: the master key and unwrapped data keys, only in memory.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MASTER_KEY_ENV = "POSTWARDEN_MASTER_KEY"
MASTER_KEY_FILE_ENV = "POSTWARDEN_MASTER_KEY_FILE"
_NONCE = 12


class MasterKeyError(Exception):
    """The master key is missing, malformed, or does not open this data."""




@dataclass(frozen=True)
class Sealed:
    key_id: str              # which data key: "<tenant>/<version>"
    wrapped_key: bytes       # the data key, sealed under the master key
    nonce: bytes
    ciphertext: bytes        # AES-256-GCM output, tag included


@dataclass(frozen=True)
class DataKey:
    key_id: str
    wrapped: bytes
    key: bytes = field(repr=False)


def load_master_key(env: dict | None = None) -> bytes:
    env = os.environ if env is None else env
    text = env.get(MASTER_KEY_ENV)
    if not text and env.get(MASTER_KEY_FILE_ENV):
        try:
            text = Path(env[MASTER_KEY_FILE_ENV]).read_text().strip()
        except OSError as error:
            raise MasterKeyError(f"cannot read the master key file named by {MASTER_KEY_FILE_ENV}: "
                                 f"{error.strerror}") from None
    if not text:
        raise MasterKeyError(f"no master key: set {MASTER_KEY_ENV} (base64 of 32 random bytes) "
                             f"or {MASTER_KEY_FILE_ENV}")
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise MasterKeyError("the master key must be base64 of exactly 32 bytes")
    return key


def new_master_key_text() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def ensure_master_key_file(path: Path) -> Path:
    """For the embedded setup: create a master key file (0600) if none exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(new_master_key_text() + "\n")
    return path


class Keyring:
    """Wraps, unwraps and uses data keys under one master key."""

    def __init__(self, master_key: bytes):
        self._master = AESGCM(master_key)
        self._unwrapped: dict[bytes, AESGCM] = {}

    # -- data keys ----------------------------------------------------------
    def new_data_key(self, key_id: str) -> DataKey:
        key = AESGCM.generate_key(256)
        return DataKey(key_id, self.wrap(key, key_id.encode()), key)

    def wrap(self, secret: bytes, context: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._master.encrypt(nonce, secret, b"postwarden/wrap\0" + context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        try:
            return self._master.decrypt(wrapped[:_NONCE], wrapped[_NONCE:],
                                        b"postwarden/wrap\0" + context)
        except Exception:
            raise MasterKeyError("the master key does not open this wrapped key") from None

    def _cipher(self, key_id: str, wrapped: bytes) -> AESGCM:
        cipher = self._unwrapped.get(wrapped)
        if cipher is None:
            cipher = AESGCM(self.unwrap(wrapped, key_id.encode()))
            self._unwrapped[wrapped] = cipher
        return cipher

    # -- payloads -----------------------------------------------------------
    def seal(self, key_id: str, wrapped: bytes, plaintext: bytes, context: bytes) -> Sealed:
        nonce = os.urandom(_NONCE)
        ciphertext = self._cipher(key_id, wrapped).encrypt(nonce, plaintext, context)
        return Sealed(key_id, wrapped, nonce, ciphertext)

    def open(self, sealed: Sealed, context: bytes) -> bytes:
        try:
            return self._cipher(sealed.key_id, sealed.wrapped_key).decrypt(
                sealed.nonce, sealed.ciphertext, context)
        except MasterKeyError:
            raise
        except Exception:
            raise MasterKeyError("sealed payload failed authentication") from None

    # -- small config secrets ----------------------------------------------
    def seal_secret(self, text: str, context: str) -> str:
        return base64.b64encode(self.wrap(text.encode(), b"secret\0" + context.encode())).decode()

    def open_secret(self, token: str, context: str) -> str:
        return self.unwrap(base64.b64decode(token), b"secret\0" + context.encode()).decode()
