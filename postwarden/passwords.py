"""Slow password hashes for app credentials (scrypt, RFC 7914).

Format: ``$scrypt$ln=15,r=8,p=1$<salt b64>$<hash b64>``.  Only hashes are ever
stored in config; `verify` runs in constant time.  A small in-memory cache of
successful verifications (keyed by an HMAC of hash and password under a
per-process random key, never the password) keeps high-volume senders that
open many sessions from paying the slow hash on every AUTH.

Holds secrets: clear passwords pass through `hash_password` and `verify` only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

_PATTERN = re.compile(r"^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$")
_CACHE_KEY = os.urandom(32)
_verified: dict[bytes, None] = {}
_CACHE_LIMIT = 10000


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str, *, log_n: int = 15, r: int = 8, p: int = 1) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=1 << log_n, r=r, p=p,
                            maxmem=256 * 1024 * 1024, dklen=32)
    return f"$scrypt$ln={log_n},r={r},p={p}${_b64(salt)}${_b64(digest)}"


def is_hash(text: str) -> bool:
    return bool(_PATTERN.match(text))


def verify(password: str, stored: str) -> bool:
    match = _PATTERN.match(stored)
    if not match:
        return False
    token = hmac.new(_CACHE_KEY, stored.encode() + b"\0" + password.encode(), "sha256").digest()
    if token in _verified:
        return True
    log_n, r, p = (int(x) for x in match.group(1, 2, 3))
    if log_n > 20 or r > 32 or p > 16:
        return False
    salt, expected = base64.b64decode(match.group(4)), base64.b64decode(match.group(5))
    digest = hashlib.scrypt(password.encode(), salt=salt, n=1 << log_n, r=r, p=p,
                            maxmem=256 * 1024 * 1024, dklen=len(expected))
    if not hmac.compare_digest(digest, expected):
        return False
    if len(_verified) >= _CACHE_LIMIT:
        _verified.clear()
    _verified[token] = None
    return True
