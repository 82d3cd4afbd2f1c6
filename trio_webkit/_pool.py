"""The client's keep-alive pool: idle connections, and slots for busy ones.

Theory of operation
-------------------
The pool stores only *idle, connected* connections. A connection in use
belongs to exactly one ``async with pool.connection(...)`` block, in the
task of the request that opened it; no task runs in the background, so a
connection is never owned by nobody (the root of httpcore's pool bugs under
cancellation). The block:

1. takes a slot of the origin's limiter, then one of the global limiter,
   both under ``Timeout.pool`` (per host first, so a request queued behind
   a busy host never sits on a global slot another host could use);
2. reuses the newest idle connection to the origin, dropping those that
   idled longer than ``keepalive_expiry`` or that the server closed (the
   socket is readable while idle), else connects under ``Timeout.connect``;
3. on a clean exit, gives the connection back only if its exchange ended
   cleanly (``reusable()``); on any exception, including cancellation,
   closes it. Either way the slots are released.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import trio

from ._client_connection import ClientConnection
from ._connect import open_http_stream
from ._errors import PoolTimeout
from ._timeouts import Timeout, phase_limit
from ._urls import URL

#: Idle connections older than this are closed at checkout instead of reused.
KEEPALIVE_EXPIRY = 5.0


@attrs.frozen
class PoolStatistics:
    """A snapshot of a client's connections (:meth:`Client.statistics`).

    Attributes:
        connections_idle: open connections waiting in the pool.
        connections_active: connections serving a request right now.
        connections_opened: connections opened since the client started.
        requests: requests started.
    """

    connections_idle: int
    connections_active: int
    connections_opened: int
    requests: int


class ConnectionPool:
    """Keep-alive connections by origin, with a global and a per-host limit."""

    def __init__(
        self,
        *,
        max_connections: int,
        max_connections_per_host: int,
        ssl_context: ssl.SSLContext | None,
        keepalive_expiry: float = KEEPALIVE_EXPIRY,
    ) -> None:
        self._slots = trio.CapacityLimiter(max_connections)
        self._per_host_limit = max_connections_per_host
        self._host_slots: dict[tuple[str, str, int], trio.CapacityLimiter] = {}
        self._idle: dict[tuple[str, str, int], list[ClientConnection]] = {}
        self._ssl_context = ssl_context
        self._keepalive_expiry = keepalive_expiry
        self._closed = False
        self._active = 0
        self._opened = 0
        self._requests = 0

    @asynccontextmanager
    async def connection(
        self, url: URL, method: str, limits: Timeout
    ) -> AsyncIterator[tuple[ClientConnection, bool]]:
        """A connection to ``url``'s origin for one exchange, and whether it was reused."""
        if self._closed:
            raise RuntimeError("the client is closed")
        host_slots = self._host_slots.setdefault(
            url.origin, trio.CapacityLimiter(self._per_host_limit)
        )
        token = object()  # slots are held by this block, whichever task exits it
        if not self._take_free_slots(host_slots, token):
            message = f"no connection slot for {url.host_header} within {limits.pool}s"
            context = {"method": method, "url": str(url), "phase": "pool"}
            with phase_limit(limits.pool, PoolTimeout, message, **context):
                await host_slots.acquire_on_behalf_of(token)
                try:
                    await self._slots.acquire_on_behalf_of(token)
                except BaseException:
                    host_slots.release_on_behalf_of(token)
                    raise
        try:
            connection, reused = await self._checkout(url, method, limits)
            self._active += 1
            self._requests += 1
            try:
                yield connection, reused
            except BaseException:
                await connection.aclose()  # failed or cancelled mid-exchange: never reused
                raise
            finally:
                self._active -= 1
            await self._checkin(connection)
        finally:
            self._slots.release_on_behalf_of(token)
            host_slots.release_on_behalf_of(token)

    def _take_free_slots(self, host_slots: trio.CapacityLimiter, token: object) -> bool:
        """Both slots at once if free (the request checkpoints soon enough anyway)."""
        try:
            host_slots.acquire_on_behalf_of_nowait(token)
        except trio.WouldBlock:
            return False
        try:
            self._slots.acquire_on_behalf_of_nowait(token)
        except trio.WouldBlock:
            host_slots.release_on_behalf_of(token)
            return False
        return True

    async def _checkout(
        self, url: URL, method: str, limits: Timeout
    ) -> tuple[ClientConnection, bool]:
        idle = self._idle.get(url.origin)
        while idle:
            connection = idle.pop()
            expired = trio.current_time() - connection.idle_since > self._keepalive_expiry
            if not expired and not connection.looks_closed():
                return connection, True
            await connection.aclose()
        stream = await open_http_stream(
            url, method=method, ssl_context=self._ssl_context, connect_timeout=limits.connect
        )
        self._opened += 1
        return ClientConnection(stream, url.origin), False

    async def _checkin(self, connection: ClientConnection) -> None:
        if self._closed or not connection.reusable():
            await connection.aclose()
            return
        self._idle.setdefault(connection.origin, []).append(connection)

    async def aclose(self) -> None:
        """Close every idle connection; connections in use close when their block ends."""
        self._closed = True
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                await connection.aclose()

    def statistics(self) -> PoolStatistics:
        """A snapshot of the pool."""
        return PoolStatistics(
            connections_idle=sum(len(c) for c in self._idle.values()),
            connections_active=self._active,
            connections_opened=self._opened,
            requests=self._requests,
        )
