"""The client's keep-alive pool: idle connections, and slots for busy ones.

Theory of operation
-------------------
The pool stores only *idle, connected* connections. A connection in use
belongs to exactly one :class:`Lease`, taken by :meth:`ConnectionPool.acquire`
and given back by :meth:`ConnectionPool.release` in the task of the request
that took it (the client's ``stream()`` block guarantees the release, on
every way out); no task runs in the background, so a connection is never
owned by nobody (the root of httpcore's pool bugs under cancellation).

1. ``acquire`` takes a slot of the origin's semaphore, then one of the
   global semaphore, both under ``Timeout.pool`` (per host first, so a
   request queued behind a busy host never sits on a global slot another
   host could use). Slots are :class:`trio.Semaphore` values, handed to
   waiters in FIFO order; the lease, not a task, holds them;
2. it reuses the newest idle connection to the origin, dropping those that
   idled longer than ``keepalive_expiry`` or that the server closed (the
   socket is readable while idle), else connects under ``Timeout.connect``;
   if that fails or is cancelled, the slots are released before the error
   propagates;
3. ``release(lease, failed=False)`` gives the connection back only if its
   exchange ended cleanly (``reusable()``); ``failed=True`` (an exception,
   including cancellation) closes it. Either way the slots are released.

They are plain methods rather than an ``@asynccontextmanager``, which would
cost a generator and its frames on every request; the client's ``stream()``
block is where ``release`` is guaranteed.
"""

from __future__ import annotations

import ssl

import attrs
import trio

from ._client_connection import ClientConnection
from ._connect import open_http_stream
from ._errors import PoolTimeout
from ._response_cache import ResponseCache
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
        self._slots = trio.Semaphore(max_connections, max_value=max_connections)
        self._per_host_limit = max_connections_per_host
        self._host_slots: dict[tuple[str, str, int], trio.Semaphore] = {}
        self._idle: dict[tuple[str, str, int], list[ClientConnection]] = {}
        self._ssl_context = ssl_context
        self._keepalive_expiry = keepalive_expiry
        self._responses = ResponseCache()  # shared by this pool's connections
        self._closed = False
        self._active = 0
        self._opened = 0
        self._requests = 0

    async def acquire(self, url: URL, method: str, limits: Timeout) -> Lease:
        """Slots and a connection to ``url``'s origin for one exchange.

        The caller must hand the lease to :meth:`release` exactly once,
        whatever happens; until then the connection is the caller's alone.
        """
        if self._closed:
            raise RuntimeError("the client is closed")
        origin = url.origin
        host_slots = self._host_slots.get(origin)
        if host_slots is None:
            limit = self._per_host_limit
            host_slots = self._host_slots[origin] = trio.Semaphore(limit, max_value=limit)
        lease = Lease(host_slots)  # holds the slots, whichever task releases it
        if not self._take_free_slots(host_slots):
            message = f"no connection slot for {url.host_header} within {limits.pool}s"
            context = {"method": method, "url": str(url), "phase": "pool"}
            with phase_limit(limits.pool, PoolTimeout, message, **context):
                await host_slots.acquire()
                try:
                    await self._slots.acquire()
                except BaseException:
                    host_slots.release()
                    raise
        try:
            lease.connection, lease.reused = await self._checkout(url, origin, method, limits)
        except BaseException:
            self._slots.release()
            host_slots.release()
            raise
        self._active += 1
        self._requests += 1
        return lease

    async def release(self, lease: Lease, *, failed: bool) -> None:
        """End ``lease``: keep its connection if the exchange ended cleanly, else close it.

        Args:
            lease: from :meth:`acquire`, not released before.
            failed: the exchange raised (or was cancelled): close the
                connection whatever its state.
        """
        connection = lease.connection
        assert connection is not None
        lease.connection = None
        try:
            self._active -= 1
            if failed:
                await connection.aclose()  # failed or cancelled mid-exchange: never reused
            else:
                await self._checkin(connection)
        finally:
            self._slots.release()
            lease.host_slots.release()

    def _take_free_slots(self, host_slots: trio.Semaphore) -> bool:
        """Both slots at once if free (the request checkpoints soon enough anyway)."""
        if not host_slots.value:
            return False
        if not self._slots.value:
            return False
        host_slots.acquire_nowait()
        self._slots.acquire_nowait()
        return True

    async def _checkout(
        self, url: URL, origin: tuple[str, str, int], method: str, limits: Timeout
    ) -> tuple[ClientConnection, bool]:
        idle = self._idle.get(origin)
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
        return ClientConnection(stream, origin, self._responses), False

    async def _checkin(self, connection: ClientConnection) -> None:
        if self._closed or not connection.reusable():
            await connection.aclose()
            return
        idle = self._idle.get(connection.origin)
        if idle is None:
            self._idle[connection.origin] = [connection]
        else:
            idle.append(connection)

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


class Lease:
    """One exchange's hold on the pool: a slot of each semaphore, and the connection."""

    __slots__ = ("connection", "host_slots", "reused")

    def __init__(self, host_slots: trio.Semaphore) -> None:
        self.host_slots = host_slots
        self.connection: ClientConnection | None = None
        self.reused = False
