"""Sans-IO helpers: a server connection on memory streams and an h11 client for it."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import h11
import trio
import trio.testing

import trio_webkit
from trio_webkit._deadlines import Timekeeper
from trio_webkit._server_connection import serve_connection


async def _serve_then_close(
    stream: trio.abc.Stream,
    handler: trio_webkit.Handler,
    config: trio_webkit.ServerConfig,
    done: trio.Event,
    timekeeper: Timekeeper | None,
) -> None:
    try:
        await serve_connection(stream, handler, config, timekeeper=timekeeper)
    finally:
        await trio.aclose_forcefully(stream)
        done.set()


@attrs.define
class Served:
    """The client end of a served memory connection, and a flag set when the server task ends."""

    client: trio.abc.Stream
    finished: trio.Event


def start_connection(
    nursery: trio.Nursery,
    handler: trio_webkit.Handler,
    config: trio_webkit.ServerConfig | None = None,
    *,
    lockstep: bool = False,
    timekeeper: Timekeeper | None = None,
) -> Served:
    """Serve ``handler`` on one end of a memory stream pair; return the other end.

    ``lockstep=True`` uses :func:`trio.testing.lockstep_stream_pair`, which has
    no buffer at all: a client that does not read blocks the server's writes.
    """
    pair = trio.testing.lockstep_stream_pair if lockstep else trio.testing.memory_stream_pair
    client, server = pair()
    finished = trio.Event()
    config = config or trio_webkit.ServerConfig(access_log=False)
    nursery.start_soon(_serve_then_close, server, handler, config, finished, timekeeper)
    return Served(client, finished)


async def read_until_closed(stream: trio.abc.Stream) -> bytes:
    """Everything the peer sends until it closes."""
    chunks = []
    while data := await stream.receive_some():
        chunks.append(bytes(data))
    return b"".join(chunks)


@attrs.define
class Reply:
    """One parsed response."""

    status: int
    headers: dict[str, str]
    body: bytes
    http_version: str
    raw_headers: list[tuple[bytes, bytes]]


class H11Client:
    """A real h11 client driving a stream: sends requests, parses responses."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.conn = h11.Connection(h11.CLIENT)

    async def send_request(
        self,
        method: str = "GET",
        target: str = "/",
        headers: Sequence[tuple[str, str]] = (),
        body: bytes | None = None,
    ) -> None:
        all_headers = [("Host", "test"), *headers]
        framed = any(n.lower() in ("content-length", "transfer-encoding") for n, _ in headers)
        if body is not None and not framed:
            all_headers.append(("Content-Length", str(len(body))))
        data = self.conn.send(h11.Request(method=method, target=target, headers=all_headers))
        if body:
            data += self.conn.send(h11.Data(data=body))
        data += self.conn.send(h11.EndOfMessage())
        await self.stream.send_all(data)

    async def next_event(self) -> object:
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            self.conn.receive_data(bytes(await self.stream.receive_some()))

    async def read_response(self) -> Reply:
        event = await self.next_event()
        while isinstance(event, h11.InformationalResponse):
            event = await self.next_event()
        assert isinstance(event, h11.Response), event
        body = []
        while not isinstance(part := await self.next_event(), h11.EndOfMessage):
            assert isinstance(part, h11.Data), part
            body.append(bytes(part.data))
        reply = Reply(
            event.status_code,
            {k.decode().lower(): v.decode() for k, v in event.headers.raw_items()},
            b"".join(body),
            event.http_version.decode(),
            list(event.headers.raw_items()),
        )
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        return reply

    async def request(self, method: str = "GET", target: str = "/", **kwargs: object) -> Reply:
        await self.send_request(method, target, **kwargs)  # type: ignore[arg-type]
        return await self.read_response()


def status_of(raw: bytes) -> int:
    """The status code of the first response in ``raw``."""
    assert raw.startswith(b"HTTP/1.1 "), raw[:80]
    return int(raw[9:12])


class MemoryListener(trio.abc.Listener[trio.abc.Stream]):
    """A listener whose connections are memory stream pairs (trio's test idiom)."""

    def __init__(self) -> None:
        self._send, self._receive = trio.open_memory_channel[trio.abc.Stream](100)
        self.closed = False

    async def connect(self) -> trio.abc.Stream:
        """Open a connection; return the client end."""
        client, server = trio.testing.memory_stream_pair()
        await self._send.send(server)
        return client

    async def accept(self) -> trio.abc.Stream:
        return await self._receive.receive()

    async def aclose(self) -> None:
        self.closed = True
        await trio.lowlevel.checkpoint()
