"""Servers on loopback port 0 and raw-byte clients for integration tests.

* :func:`running_server` starts a :class:`trio_webkit.Server` on
  ``127.0.0.1:0`` in a nursery of its own and shuts it down on exit.
* :func:`raw_exchange` sends bytes over a real socket and reads until the
  server closes (EOF), under a ``trio.fail_after`` guard.
* :func:`parse_responses` splits what came back into responses with a real
  ``h11`` client, so framing mistakes (a desync, a truncated body) show up.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import ParamSpec, TypeVar

import attrs
import h11
import trio

import trio_webkit

HOST = "127.0.0.1"
#: Longest a raw exchange may take: generous, only a guard against hangs.
EXCHANGE_TIMEOUT = 5.0

_P = ParamSpec("_P")
_T = TypeVar("_T")


def fail_after(
    seconds: float,
) -> Callable[[Callable[_P, Awaitable[_T]]], Callable[_P, Awaitable[_T]]]:
    """Decorate an async test: it fails with ``trio.TooSlowError`` after ``seconds``.

    A guard against hangs (real sockets, real clock), never a duration check.
    """

    def decorator(test: Callable[_P, Awaitable[_T]]) -> Callable[_P, Awaitable[_T]]:
        @functools.wraps(test)
        async def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _T:
            with trio.fail_after(seconds):
                return await test(*args, **kwargs)

        return guarded

    return decorator


@attrs.define
class RunningServer:
    """A server listening on loopback: its :class:`Server` and its port."""

    server: trio_webkit.Server
    port: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


@asynccontextmanager
async def running_server(
    handler: trio_webkit.Handler, config: trio_webkit.ServerConfig | None = None
) -> AsyncIterator[RunningServer]:
    """Serve ``handler`` on ``127.0.0.1:0`` for the duration of the block.

    On exit the server is shut down gracefully (bounded by a guard), then its
    task is cancelled if it still runs.
    """
    config = config or trio_webkit.ServerConfig(access_log=False)
    server = trio_webkit.Server(handler, config)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve_tcp, 0, HOST)
        port = listeners[0].socket.getsockname()[1]
        try:
            yield RunningServer(server, port)
        finally:
            with trio.move_on_after(5) as cleanup:
                cleanup.shield = True
                await server.shutdown()
            nursery.cancel_scope.cancel()


async def open_connection(port: int) -> trio.SocketStream:
    """A TCP connection to the loopback server on ``port``."""
    return await trio.open_tcp_stream(HOST, port)


async def read_until_eof(stream: trio.SocketStream, *, within: float = EXCHANGE_TIMEOUT) -> bytes:
    """Everything the peer sends until it closes its side (a reset counts as EOF)."""
    received = bytearray()
    with trio.fail_after(within):
        while True:
            try:
                data = await stream.receive_some(65536)
            except trio.BrokenResourceError:  # ECONNRESET after the response
                break
            if not data:
                break
            received += data
    return bytes(received)


async def read_until(
    stream: trio.SocketStream, marker: bytes, *, within: float = EXCHANGE_TIMEOUT
) -> bytes:
    """Read until ``marker`` was received (or EOF); return all bytes read."""
    received = bytearray()
    with trio.fail_after(within):
        while marker not in received:
            data = await stream.receive_some(65536)
            if not data:
                break
            received += data
    return bytes(received)


async def raw_exchange(
    port: int,
    request: bytes | Iterable[bytes],
    *,
    half_close: bool = False,
    pause: float = 0.0,
    within: float = EXCHANGE_TIMEOUT,
) -> bytes:
    """Send ``request`` on a new connection and return every byte until EOF.

    ``request`` may be a sequence of pieces, each sent with its own write,
    ``pause`` seconds apart (so that the server reads them separately).
    ``half_close`` sends EOF (``SHUT_WR``) after the request, for cases where
    the server can only decide at end of input. A server that stops reading
    and closes while the request is still being sent is fine: what it
    answered is still read. The whole exchange runs under
    ``trio.fail_after(within)``: a server that never closes fails the test.
    """
    pieces = [request] if isinstance(request, bytes) else list(request)
    with trio.fail_after(within):
        stream = await open_connection(port)
        async with stream:
            try:
                for index, piece in enumerate(pieces):
                    if index and pause:
                        await trio.sleep(pause)
                    await stream.send_all(piece)
                if half_close:
                    await stream.send_eof()
            except trio.BrokenResourceError:
                pass  # the server closed early; read what it said
            return await read_until_eof(stream, within=within)


@attrs.define
class ParsedResponse:
    """One response as an h11 client parsed it."""

    status: int
    http_version: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    complete: bool  # False: the body was cut short (EOF mid-body)
    informational: list[int] = attrs.Factory(list)

    def header(self, name: bytes) -> bytes | None:
        """The first value of ``name`` (lower-case bytes), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def header_values(self, name: bytes) -> list[bytes]:
        return [value for key, value in self.headers if key == name]

    @property
    def closes(self) -> bool:
        """Whether the response announced ``Connection: close``."""
        return any(b"close" in value.lower() for value in self.header_values(b"connection"))


class ResponseParseError(AssertionError):
    """What the server sent is not a sequence of valid HTTP/1.1 responses."""


def parse_responses(
    data: bytes, methods: Sequence[str] | None = None, *, eof: bool = True
) -> list[ParsedResponse]:
    """Split ``data`` (everything a server sent) into responses, in order.

    ``methods`` gives the request method of each response (``HEAD``
    responses have no body); by default every request was a GET. With
    ``eof`` the data ended with the server closing the connection, which
    ends close-delimited bodies. A response cut short (EOF inside its body)
    is returned with ``complete=False`` and ends the list; bytes that are no
    response at all raise :class:`ResponseParseError`.
    """
    responses: list[ParsedResponse] = []
    rest = data
    index = 0
    while rest:
        method = methods[index] if methods is not None and index < len(methods) else "GET"
        response = _parse_one(rest, method, eof=eof)
        responses.append(response[0])
        rest = response[1]
        index += 1
        if not response[0].complete:
            break
    return responses


def _parse_one(data: bytes, method: str, *, eof: bool) -> tuple[ParsedResponse, bytes]:
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method=method, target="/", headers=[("Host", "test")]))
    client.send(h11.EndOfMessage())
    client.receive_data(data)
    if eof:
        client.receive_data(b"")
    informational: list[int] = []
    head: h11.Response | None = None
    body = bytearray()
    while True:
        try:
            event = client.next_event()
        except h11.RemoteProtocolError as error:
            if head is None:
                raise ResponseParseError(f"not an HTTP response: {error}; data={data!r}") from None
            return _parsed(head, body, informational, complete=False), b""
        if isinstance(event, h11.InformationalResponse):
            informational.append(event.status_code)
        elif isinstance(event, h11.Response):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            leftover = client.trailing_data[0]
            return _parsed(head, body, informational, complete=True), leftover
        elif event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
            if head is None:
                raise ResponseParseError(f"incomplete response head: {data!r}")
            return _parsed(head, body, informational, complete=False), b""
        else:  # pragma: no cover
            raise ResponseParseError(f"unexpected event {event!r}")


def _parsed(
    head: h11.Response, body: bytearray, informational: list[int], *, complete: bool
) -> ParsedResponse:
    return ParsedResponse(
        status=head.status_code,
        http_version=head.http_version,
        headers=[(name, value) for name, value in head.headers],
        body=bytes(body),
        complete=complete,
        informational=informational,
    )


async def get_status(port: int, target: str = "/health") -> int:
    """Status of a plain GET on a new connection (``Connection: close``)."""
    request = f"GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".encode()
    responses = parse_responses(await raw_exchange(port, request))
    assert len(responses) == 1, responses
    return responses[0].status


async def receive_response(
    stream: trio.SocketStream, method: str = "GET", *, within: float = EXCHANGE_TIMEOUT
) -> ParsedResponse:
    """Read exactly one complete response from a kept-alive connection.

    Fails if the server closes the connection before the response is
    complete or sends more than one response.
    """
    received = bytearray()
    with trio.fail_after(within):
        while True:
            data = await stream.receive_some(65536)
            received += data
            closed = not data
            try:
                responses = parse_responses(bytes(received), [method], eof=closed)
            except ResponseParseError:
                if closed:
                    raise
                continue  # the head is not complete yet
            if responses and (responses[0].complete or closed):
                assert len(responses) == 1, responses
                return responses[0]


async def read_raw_request(stream: trio.SocketStream, buffer: bytearray) -> bytes | None:
    """The next request's exact bytes (head, then a Content-Length body); None at EOF.

    ``buffer`` keeps what arrived past that request, for the next call.
    """
    while b"\r\n\r\n" not in buffer:
        data = await stream.receive_some()
        if not data:
            return None
        buffer += data
    end = buffer.index(b"\r\n\r\n") + 4
    length = 0
    for line in bytes(buffer[:end]).lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            length = int(line.partition(b":")[2])
    while len(buffer) < end + length:
        buffer += await stream.receive_some()
    request = bytes(buffer[: end + length])
    del buffer[: end + length]
    return request
