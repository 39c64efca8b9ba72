"""Open SMTP connections per destination: reuse and the connection limit.

`ConnectionPool` keeps idle sessions keyed by everything that must match for
reuse (server address, port, source address, HELO, TLS requirement, AUTH
user) and counts open connections per shaping destination.  `acquire(key,
dest, limit, wait)` returns an idle session for the key, or permission to open
a new one when the destination is under its limit (closing an idle session of
another key of the same destination if that frees a slot), waiting at most
`wait` seconds; None means "busy, defer".  Idle sessions expire after
`idle_timeout`.

Holds sessions that may be authenticated to a smart host (credentials are not
kept here).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class Connection:
    smtp: Any                      # aiosmtplib.SMTP
    key: tuple
    dest_key: str
    host: str                      # the server's name (MX host or smart host)
    address: str                   # the server's IP
    source_address: str
    helo: str
    tls: dict[str, str] = field(default_factory=dict)
    messages: int = 0
    idle_since: float = 0.0
    reused: int = 0

    @property
    def alive(self) -> bool:
        return bool(self.smtp.is_connected)

    async def close(self, polite: bool = True) -> None:
        try:
            if polite and self.smtp.is_connected:
                await asyncio.wait_for(self.smtp.quit(), 2)
        except Exception:
            pass
        try:
            self.smtp.close()
        except Exception:
            pass


class Grant:
    """Permission to open one new connection to a destination (returned via `opened`/`release`)."""


class ConnectionPool:
    def __init__(self, idle_timeout: float = 10.0, clock=time.monotonic):
        self.idle_timeout = idle_timeout
        self.clock = clock
        self._idle: dict[tuple, list[Connection]] = {}
        self._open: dict[str, int] = {}
        self._changed: dict[str, asyncio.Condition] = {}

    def _condition(self, dest_key: str) -> asyncio.Condition:
        cond = self._changed.get(dest_key)
        if cond is None:
            cond = self._changed[dest_key] = asyncio.Condition()
        return cond

    def open_count(self, dest_key: str) -> int:
        return self._open.get(dest_key, 0)

    async def _expire(self) -> None:
        now = self.clock()
        for key, conns in list(self._idle.items()):
            for conn in list(conns):
                if now - conn.idle_since > self.idle_timeout or not conn.alive:
                    conns.remove(conn)
                    await self._closed(conn)
            if not conns:
                self._idle.pop(key, None)

    async def _closed(self, conn: Connection) -> None:
        await conn.close(polite=conn.alive)
        self._open[conn.dest_key] = max(0, self._open.get(conn.dest_key, 0) - 1)
        cond = self._condition(conn.dest_key)
        async with cond:
            cond.notify_all()

    async def acquire(self, key: tuple, dest_key: str, limit: int, wait: float
                      ) -> Connection | Grant | None:
        await self._expire()
        deadline = self.clock() + wait
        cond = self._condition(dest_key)
        while True:
            idle = self._idle.get(key)
            while idle:
                conn = idle.pop()
                if conn.alive:
                    conn.reused += 1
                    return conn
                await self._closed(conn)
            if self._open.get(dest_key, 0) < limit:
                self._open[dest_key] = self._open.get(dest_key, 0) + 1
                return Grant()
            # Free a slot held by an idle session of another key for the same destination.
            for other_key, conns in self._idle.items():
                if conns and conns[0].dest_key == dest_key:
                    await self._closed(conns.pop())
                    break
            else:
                remaining = deadline - self.clock()
                if remaining <= 0:
                    return None
                async with cond:
                    try:
                        await asyncio.wait_for(cond.wait(), remaining)
                    except asyncio.TimeoutError:
                        pass

    async def failed_to_open(self, dest_key: str) -> None:
        """A granted connection could not be opened: give its slot back."""
        self._open[dest_key] = max(0, self._open.get(dest_key, 0) - 1)
        cond = self._condition(dest_key)
        async with cond:
            cond.notify_all()

    async def release(self, conn: Connection, reusable: bool) -> None:
        if reusable and conn.alive:
            conn.idle_since = self.clock()
            self._idle.setdefault(conn.key, []).append(conn)
            cond = self._condition(conn.dest_key)
            async with cond:
                cond.notify_all()
        else:
            await self._closed(conn)

    async def close(self) -> None:
        for conns in list(self._idle.values()):
            for conn in conns:
                await self._closed(conn)
        self._idle.clear()
