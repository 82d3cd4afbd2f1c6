"""A hand-driven HTTP server on loopback, for client tests that need a misbehaving peer.

:func:`raw_server` listens on ``127.0.0.1:0`` and runs ``handle(connection)``
for each accepted connection, in a nursery of its own; the test decides
byte by byte what the "server" sends (a short body, garbage, a close at the
worst moment). :class:`RawConnection` reads requests with a real ``h11``
server parser, so the test can wait for a whole request before answering.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

import attrs
import h11
import trio

HOST = "127.0.0.1"


@attrs.define
class ReceivedRequest:
    """One request as the raw server received it."""

    method: str
    target: str
    headers: list[tuple[str, str]]  # names lower-cased
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of ``name`` (case-insensitive), or None."""
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None


class RawConnection:
    """One accepted connection: read requests with h11, write raw bytes."""

    def __init__(self, stream: trio.SocketStream, index: int) -> None:
        self.stream = stream
        #: 0 for the first connection the server accepted, 1 for the next...
        self.index = index
        self._buffer = b""
        self._eof = False

    async def next_request(self) -> ReceivedRequest | None:
        """The next whole request (head and body), or None if the client closed first."""
        parser = h11.Connection(h11.SERVER)
        if self._buffer:  # (receive_data(b"") would mean EOF)
            parser.receive_data(self._buffer)
        if self._eof:
            parser.receive_data(b"")
        head: h11.Request | None = None
        body = bytearray()
        while True:
            event = parser.next_event()
            if event is h11.NEED_DATA:
                try:
                    data = await self.stream.receive_some(65536)
                except trio.BrokenResourceError:
                    data = b""
                if not data:
                    self._eof = True
                parser.receive_data(data)
            elif isinstance(event, h11.ConnectionClosed):
                return None
            elif isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                self._buffer = parser.trailing_data[0]
                return ReceivedRequest(
                    method=head.method.decode("ascii"),
                    target=head.target.decode("ascii"),
                    headers=[
                        (name.decode("latin-1"), value.decode("latin-1"))
                        for name, value in head.headers
                    ],
                    body=bytes(body),
                )

    async def send(self, data: bytes) -> None:
        """Send raw bytes."""
        await self.stream.send_all(data)

    async def close(self) -> None:
        """Close the connection (a FIN: everything sent so far still arrives)."""
        await self.stream.aclose()


@attrs.define
class RawServer:
    """A raw server listening on loopback: its port and what it saw."""

    port: int
    #: Connections accepted so far.
    connections: int = 0
    #: Every request read through :meth:`RawConnection.next_request`, in order,
    #: with the index of the connection it arrived on.
    requests: list[tuple[int, ReceivedRequest]] = attrs.Factory(list)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


RawHandler = Callable[[RawConnection], Awaitable[None]]


@asynccontextmanager
async def raw_server(handle: RawHandler) -> AsyncIterator[RawServer]:
    """Run ``handle`` for every connection to ``127.0.0.1:<port>`` during the block.

    The connection is closed when ``handle`` returns; a client that goes away
    (``BrokenResourceError``) is not an error. Leaving the block cancels
    every connection task.
    """
    listeners = await trio.open_tcp_listeners(0, host=HOST)
    server = RawServer(listeners[0].socket.getsockname()[1])

    async def serve_one(stream: trio.SocketStream) -> None:
        connection = _RecordingConnection(stream, server.connections, server)
        server.connections += 1
        async with stream:
            with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await handle(connection)

    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, serve_one, listeners)
        try:
            yield server
        finally:
            nursery.cancel_scope.cancel()


class _RecordingConnection(RawConnection):
    def __init__(self, stream: trio.SocketStream, index: int, server: RawServer) -> None:
        super().__init__(stream, index)
        self._server = server

    async def next_request(self) -> ReceivedRequest | None:
        request = await super().next_request()
        if request is not None:
            self._server.requests.append((self.index, request))
        return request


def response_head(status: int = 200, headers: list[tuple[str, str]] | None = None) -> bytes:
    """``HTTP/1.1 <status> X`` plus ``headers`` and the blank line, as bytes."""
    lines = [f"HTTP/1.1 {status} X"] + [f"{name}: {value}" for name, value in headers or []]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def free_port() -> int:
    """A loopback port that nothing listens on (bound, then closed)."""
    sock = trio.socket.socket()
    with sock:
        await sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
    return port
