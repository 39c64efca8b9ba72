"""MTA-STS (RFC 8461): discover, fetch, cache and apply a domain's TLS policy.

`MtaSts.policy_for(domain)` looks up the `_mta-sts.<domain>` TXT record
("v=STSv1; id=..."), fetches `https://mta-sts.<domain>/.well-known/mta-sts.txt`
with a verified certificate (no redirects) when the id is new, and caches the
policy for its `max_age`.  A cached policy outlives a failed lookup or fetch
(that is the point of the cache: an attacker who blocks DNS or HTTPS must not
downgrade delivery).  `Policy.allows(mx_host)` matches MX names against the
policy's `mx:` patterns.  In `enforce` mode the engine delivers only to
matching MX hosts over TLS with a certificate verified for the MX name.

The HTTPS fetch is a parameter (`fetch(domain) -> policy text`), so tests serve
it on loopback with a test CA; `HttpsPolicyFetcher` is the real one.

Parses untrusted input: TXT records, an HTTP response and the policy text
(size-capped, strictly parsed).  Holds no secrets.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable

MAX_POLICY_BYTES = 64 * 1024
MAX_AGE_LIMIT = 31557600          # RFC 8461 §3.2: at most one year

_TXT_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")


class PolicyError(Exception):
    """The policy could not be fetched or is malformed (a reason, never a crash)."""


@dataclass(frozen=True)
class Policy:
    mode: str                        # enforce | testing | none
    mx: tuple[str, ...]
    max_age: int
    id: str = ""
    fetched_at: float = 0.0

    def allows(self, mx_host: str) -> bool:
        host = mx_host.rstrip(".").lower()
        for pattern in self.mx:
            pattern = pattern.rstrip(".").lower()
            if pattern.startswith("*."):
                head, _, rest = host.partition(".")
                if head and rest == pattern[2:]:
                    return True
            elif host == pattern:
                return True
        return False

    def fresh(self, now: float) -> bool:
        return now < self.fetched_at + self.max_age


def parse_txt(texts: list[str]) -> str | None:
    """The policy id from the `_mta-sts` TXT strings, or None unless exactly one STSv1 record."""
    found = []
    for text in texts:
        fields = [f.strip() for f in text.split(";") if f.strip()]
        if not fields or fields[0].replace(" ", "") != "v=STSv1":
            continue
        ids = [f.split("=", 1)[1].strip() for f in fields[1:] if f.startswith("id=")]
        if len(ids) == 1 and _TXT_ID.match(ids[0]):
            found.append(ids[0])
        else:
            found.append(None)
    if len(found) != 1:
        return None
    return found[0]


def parse_policy(text: str, policy_id: str = "", now: float = 0.0) -> Policy:
    fields: dict[str, list[str]] = {}
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise PolicyError("a policy line without a colon")
        fields.setdefault(key.strip(), []).append(value.strip())
    if fields.get("version") != ["STSv1"]:
        raise PolicyError("version is not STSv1")
    mode = (fields.get("mode") or [""])[0]
    if mode not in ("enforce", "testing", "none"):
        raise PolicyError("mode is not enforce, testing or none")
    try:
        max_age = int((fields.get("max_age") or [""])[0])
    except ValueError:
        raise PolicyError("max_age is not a number") from None
    if not 0 <= max_age <= MAX_AGE_LIMIT:
        raise PolicyError("max_age out of range")
    mx = tuple(fields.get("mx", ()))
    if mode != "none" and not mx:
        raise PolicyError("no mx patterns")
    return Policy(mode, mx, max_age, policy_id, now)


Fetch = Callable[[str], Awaitable[str]]


class HttpsPolicyFetcher:
    """GET https://mta-sts.<domain>/.well-known/mta-sts.txt with a verified certificate."""

    def __init__(self, dns, ssl_context: ssl.SSLContext | None = None, port: int = 443,
                 timeout: float = 10.0):
        self.dns = dns
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.port = port
        self.timeout = timeout

    async def __call__(self, domain: str) -> str:
        host = f"mta-sts.{domain.rstrip('.').lower()}"
        addresses, _, error = await self.dns.addresses(host)
        if not addresses:
            raise PolicyError(f"no address for {host}" + (f" ({error})" if error else ""))
        last: Exception | None = None
        for address in addresses:
            try:
                return await asyncio.wait_for(self._get(address, host), self.timeout)
            except PolicyError:
                raise
            except (OSError, ssl.SSLError, asyncio.TimeoutError) as error:
                last = error
        raise PolicyError(f"cannot fetch the policy from {host}: {type(last).__name__}")

    async def _get(self, address: str, host: str) -> str:
        reader, writer = await asyncio.open_connection(address, self.port, ssl=self.ssl_context,
                                                       server_hostname=host)
        try:
            writer.write((f"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: {host}\r\n"
                          "User-Agent: postwarden\r\nAccept: text/plain\r\n"
                          "Connection: close\r\n\r\n").encode())
            await writer.drain()
            raw = await reader.read(MAX_POLICY_BYTES + 8192)
            while len(raw) <= MAX_POLICY_BYTES + 8192:
                chunk = await reader.read(8192)
                if not chunk:
                    break
                raw += chunk
        finally:
            writer.close()
        head, sep, body = raw.partition(b"\r\n\r\n")
        if not sep:
            raise PolicyError("malformed HTTP response")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) < 2 or parts[1] != "200":
            raise PolicyError(f"HTTP status {parts[1] if len(parts) > 1 else '?'} (redirects are not followed)")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if not headers.get("content-type", "").lower().startswith("text/plain"):
            raise PolicyError("the policy is not text/plain")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = _dechunk(body)
        elif "content-length" in headers and headers["content-length"].isdigit():
            body = body[:int(headers["content-length"])]
        if len(body) > MAX_POLICY_BYTES:
            raise PolicyError("the policy is too large")
        return body.decode("utf-8", "replace")


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            raise PolicyError("malformed chunked body") from None
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return out


@dataclass
class MtaSts:
    dns: object
    fetch: Fetch
    clock: Callable[[], float] = time.time
    cache: dict[str, Policy] = field(default_factory=dict)
    fetches: int = 0

    async def policy_for(self, domain: str) -> tuple[Policy | None, str]:
        """(the domain's policy or None, a short note for the audit trail)."""
        domain = domain.rstrip(".").lower()
        now = self.clock()
        cached = self.cache.get(domain)
        if cached and not cached.fresh(now):
            self.cache.pop(domain, None)
            cached = None
        txt = await self.dns.txt(f"_mta-sts.{domain}")
        if txt.failed or txt.nxdomain or not txt.records:
            return cached, ("cached" if cached else "none")
        texts = [b"".join(r.strings).decode("utf-8", "replace") for r in txt.records]
        policy_id = parse_txt(texts)
        if policy_id is None:
            return cached, ("cached" if cached else "invalid-txt")
        if cached and cached.id == policy_id:
            return cached, "cached"
        try:
            self.fetches += 1
            text = await self.fetch(domain)
            policy = parse_policy(text, policy_id, now)
        except PolicyError as error:
            return cached, ("cached" if cached else f"fetch-failed: {error}")
        except Exception as error:  # an injected fetcher's failure is a reason, not a crash
            return cached, ("cached" if cached else f"fetch-failed: {type(error).__name__}")
        self.cache[domain] = policy
        return policy, "fetched"
