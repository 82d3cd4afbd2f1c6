"""Server: the accept loop, one task per connection, graceful shutdown.

Theory of operation
-------------------
``serve_listeners`` owns three scopes, one inside the other::

    timekeeping nursery          the Timekeeper task (connection deadlines)
    └── connections nursery      one task per connection (outlives accepting)
        └── accepting scope      one accept loop per listener

:meth:`Server.shutdown` marks the state as draining (idle connections and
connections that have not sent a request yet are cancelled at once; busy
ones answer their current request with ``Connection: close``), cancels only
the accepting scope, and sets a deadline of ``shutdown_timeout`` on the
connections nursery, which cancels whatever is still running then.
``serve_listeners`` returns when the last connection task has ended.

``max_connections`` is a semaphore token taken *before* ``accept()`` and
given back when the connection task ends, so at the limit the server stops
accepting and the kernel's backlog queues new clients. EMFILE and friends
(out of file descriptors or memory) pause the accept loop briefly instead of
crashing it, with one log line per burst.

Each connection task is a boundary: an exception escaping the protocol code
is logged with its traceback and ends that connection only.
"""

from __future__ import annotations

import errno
import logging
import math
import socket
import ssl
from collections.abc import Callable, Sequence
from typing import Any, final

import trio

from ._config import ServerConfig
from ._deadlines import Timekeeper
from ._server_connection import Handler, serve_connection
from ._server_state import ServerState, ServerStatistics

log = logging.getLogger("trio_webkit.server")

#: Errors of ``accept()`` that mean "out of resources for now": wait, retry.
_RESOURCE_ERRORS = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}
_RESOURCE_PAUSE = 0.1
#: A burst of resource errors (logged once) ends after this long without one:
#: while the backlog drains, accepts and errors can alternate.
_BURST_QUIET = 1.0


@final
class Server:
    """An HTTP/1.1 server that runs ``handler`` for every request.

    Args:
        handler: ``async def handler(request: Request) -> Response``.
        config: limits and timeouts (:class:`ServerConfig`).

    Example::

        async def hello(request):
            return trio_webkit.Response(200, body="hello\\n")

        server = trio_webkit.Server(hello)
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(server.serve_tcp, 0, "127.0.0.1")
            ...
            await server.shutdown()

    Resource handling: every connection is served by one task inside
    :meth:`serve_listeners` (or :meth:`serve_tcp`); none outlives it.
    """

    def __init__(self, handler: Handler, config: ServerConfig | None = None) -> None:
        self.handler = handler
        self.config = config or ServerConfig()
        self._state = ServerState(self.config.server_header)
        self._accepting: trio.CancelScope | None = None
        self._timekeeper = Timekeeper()
        self._stopped = trio.Event()
        self._slots = trio.Semaphore(self.config.max_connections)

    async def serve_tcp(
        self,
        port: int = 8000,
        host: str | None = "127.0.0.1",
        *,
        backlog: int | None = None,
        ssl_context: ssl.SSLContext | None = None,
        task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen on ``host:port`` and serve until shut down or cancelled.

        Use with ``nursery.start``, which returns the TCP listeners (so port 0
        works: read the port from ``listeners[0].socket.getsockname()``).
        ``host=None`` listens on every interface. With an ``ssl.SSLContext``
        the connections speak HTTPS (the reported listeners are still the
        TCP ones underneath, for their addresses).

        Args:
            port: the TCP port; 0 picks a free one.
            host: the address to listen on; ``None`` for every interface.
            backlog: the listen backlog (trio's default when ``None``).
            ssl_context: serve HTTPS with this server-side context.
            task_status: set by ``nursery.start``; reports the listeners.

        Raises:
            OSError: the address cannot be bound (in use, not local...).
        """
        tcp_listeners = await trio.open_tcp_listeners(port, host=host, backlog=backlog)
        listeners: list[trio.abc.Listener[Any]] = list(tcp_listeners)
        if ssl_context is not None:
            listeners = [
                trio.SSLListener(listener, ssl_context, https_compatible=True)
                for listener in tcp_listeners
            ]
        await self._serve(listeners, lambda: task_status.started(tcp_listeners))

    async def serve_listeners(
        self,
        listeners: Sequence[trio.abc.Listener[trio.abc.Stream]],
        *,
        task_status: trio.TaskStatus[Sequence[trio.abc.Listener[Any]]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve connections from ``listeners`` until shut down or cancelled.

        ``task_status.started`` reports the listeners. Returns after
        :meth:`shutdown` once every connection has ended. The listeners are
        closed when accepting stops, however it stops. A server serves once.

        Args:
            listeners: any :class:`trio.abc.Listener` s of streams (sockets,
                TLS, or in-memory ones in tests).
            task_status: set by ``nursery.start``.
        """
        await self._serve(listeners, lambda: task_status.started(listeners))

    async def _serve(
        self, listeners: Sequence[trio.abc.Listener[Any]], started: Callable[[], None]
    ) -> None:
        try:
            async with trio.open_nursery() as timekeeping:
                await timekeeping.start(self._timekeeper.run)
                await self._serve_until_drained(listeners, started)
                timekeeping.cancel_scope.cancel()  # the last connection has ended
        finally:
            self._stopped.set()

    async def _serve_until_drained(
        self,
        listeners: Sequence[trio.abc.Listener[Any]],
        started: Callable[[], None],
    ) -> None:
        async with trio.open_nursery() as connections:
            try:
                with trio.CancelScope() as self._accepting:
                    if self._state.draining:  # shutdown() came first
                        self._accepting.cancel()
                    async with trio.open_nursery() as accepters:
                        for listener in listeners:
                            accepters.start_soon(self._accept_loop, listener, connections)
                        started()
            finally:
                for listener in listeners:
                    await trio.aclose_forcefully(listener)
            limit = self.config.shutdown_timeout
            if limit is not None:
                connections.cancel_scope.deadline = trio.current_time() + limit

    async def shutdown(self) -> None:
        """Stop gracefully and wait until the server has stopped.

        Stops accepting, closes idle keep-alive connections and connections
        that have not sent a request yet, lets in-flight requests finish
        within ``shutdown_timeout`` (then cancels them), and returns when the
        last connection has closed. Safe to call more than once, from any
        task; called before the server started serving, it returns at once
        and the server stops as soon as it starts.

        Returns:
            ``None``, once :meth:`serve_tcp` (or :meth:`serve_listeners`)
            has returned or is about to: no connection task is left.
        """
        self._state.start_draining()
        if self._accepting is None:
            return  # never started serving
        self._accepting.cancel()
        await self._stopped.wait()

    def statistics(self) -> ServerStatistics:
        """A snapshot of connection and request counts.

        Returns:
            A frozen :class:`ServerStatistics`.
        """
        return self._state.statistics()

    async def _accept_loop(
        self, listener: trio.abc.Listener[Any], connections: trio.Nursery
    ) -> None:
        pausing = False  # in a burst of resource errors
        last_failure = -math.inf
        while True:
            try:  # accept() checkpoints anyway: wait here only when at the limit
                self._slots.acquire_nowait()
            except trio.WouldBlock:
                await self._slots.acquire()
            try:
                stream, client = await _accept(listener)
            except OSError as error:
                self._slots.release()
                if error.errno not in _RESOURCE_ERRORS:
                    raise
                if not pausing:
                    log.error("accept() failed (%s); pausing briefly", errno.errorcode[error.errno])
                pausing = True
                last_failure = trio.current_time()
                await trio.sleep(_RESOURCE_PAUSE)
                continue
            except BaseException:
                self._slots.release()
                raise
            if pausing and trio.current_time() - last_failure > _BURST_QUIET:
                pausing = False
            connections.start_soon(self._serve_connection, stream, client)

    async def _serve_connection(
        self, stream: trio.abc.Stream, client: tuple[str, int] | None
    ) -> None:
        state = self._state
        state.connections_open += 1
        state.connections_total += 1
        try:
            await serve_connection(
                stream,
                self.handler,
                self.config,
                state=state,
                timekeeper=self._timekeeper,
                client=client,
                scheme="https" if isinstance(stream, trio.SSLStream) else "http",
            )
        except Exception as error:  # incl. ExceptionGroup; Cancelled passes
            log.error("connection from %s failed", client, exc_info=error)
        finally:
            state.connections_open -= 1
            self._slots.release()
            await _close(stream)


#: accept() errors that concern one connection, not the listener (as trio's own list).
_CONNECTION_ACCEPT_ERRORS = frozenset(
    getattr(errno, name)
    for name in (
        "EPERM", "ECONNABORTED", "EPROTO", "ENETDOWN", "ENOPROTOOPT", "EHOSTDOWN",
        "ENONET", "EHOSTUNREACH", "EOPNOTSUPP", "ENETUNREACH",
    )
    if hasattr(errno, name)
)  # fmt: skip
_CLOSED_LISTENER_ERRORS = frozenset({errno.EBADF, errno.ENOTSOCK})


async def _accept(
    listener: trio.abc.Listener[Any],
) -> tuple[trio.abc.Stream, tuple[str, int] | None]:
    """The next connection and its peer's address.

    A plain TCP listener is accepted from directly, what
    :meth:`trio.SocketListener.accept` does, keeping the address that
    ``accept()`` returns anyway instead of asking for it again.
    """
    if type(listener) is not trio.SocketListener:
        stream = await listener.accept()
        return stream, peer_address(stream)
    while True:
        try:
            sock, address = await listener.socket.accept()
        except OSError as error:
            if error.errno in _CLOSED_LISTENER_ERRORS:
                raise trio.ClosedResourceError from None
            if error.errno not in _CONNECTION_ACCEPT_ERRORS:
                raise
        else:
            inet = sock.family in (socket.AF_INET, socket.AF_INET6)
            return trio.SocketStream(sock), (address[0], address[1]) if inet else None


async def _close(stream: trio.abc.Stream) -> None:
    """Close a finished connection at once, without waiting for the peer.

    A plain socket is closed directly: that is all its ``aclose`` does, and
    it spares the two cancel scopes of :func:`trio.aclose_forcefully` (and
    a checkpoint) on every connection, which a ``Connection: close`` load
    pays thousands of times a second.
    """
    if type(stream) is trio.SocketStream:
        stream.socket.close()
    else:
        await trio.aclose_forcefully(stream)


def peer_address(stream: trio.abc.Stream) -> tuple[str, int] | None:
    """``(host, port)`` of the peer of a socket stream (through TLS), else None."""
    while isinstance(stream, trio.SSLStream):
        stream = stream.transport_stream
    sock = getattr(stream, "socket", None)
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return None
    try:
        address = sock.getpeername()
    except OSError:
        return None
    return address[0], address[1]


async def serve(
    handler: Handler,
    port: int = 8000,
    host: str | None = "127.0.0.1",
    *,
    config: ServerConfig | None = None,
    ssl_context: ssl.SSLContext | None = None,
    task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``handler`` on ``host:port`` until cancelled: the one-line server.

    ``trio.run(trio_webkit.serve, handler)`` is a whole program, in the
    spirit of :func:`trio.serve_tcp`; with ``nursery.start`` it returns the
    listeners. For graceful shutdown, build a :class:`Server` instead.

    Args:
        handler: ``async def handler(request) -> Response``.
        port: the TCP port; 0 picks a free one.
        host: the address to listen on; ``None`` for every interface.
        config: limits and timeouts (:class:`ServerConfig`).
        ssl_context: serve HTTPS with this server-side context.
        task_status: set by ``nursery.start``; reports the listeners.

    Raises:
        OSError: the address cannot be bound (in use, not local...).
    """
    server = Server(handler, config)
    await server.serve_tcp(port, host, ssl_context=ssl_context, task_status=task_status)
