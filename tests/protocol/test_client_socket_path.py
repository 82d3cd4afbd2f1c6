"""The client's direct path on a plain TCP socket (``ClientConnection`` over its own socket).

A request is written straight to the socket and the response head awaited
with a readiness wait; these tests pin down that nothing a caller relies on
changed with it: limits of 0 still fail their phase at once, a cancelled
caller sends nothing, a body larger than the socket buffer still goes out
whole (the rest under the write limit), a server closing an idle
connection is still noticed, and closing the connection closes the socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import trio

import trio_webkit
from trio_webkit import _pool
from trio_webkit._client_connection import ClientConnection

from support.loopback import read_raw_request

URL = "http://test.invalid/"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def answer_ok(stream: trio.SocketStream, requests: list[bytes]) -> None:
    buffer = bytearray()
    async with stream:
        try:
            while (request := await read_raw_request(stream, buffer)) is not None:
                requests.append(request)
                await stream.send_all(OK)
        except trio.BrokenResourceError:
            pass


@asynccontextmanager
async def client_on_sockets(
    monkeypatch: pytest.MonkeyPatch,
    serve: Callable[[trio.SocketStream, list[bytes]], Awaitable[object]] = answer_ok,
    **options: object,
) -> AsyncIterator[tuple[trio_webkit.Client, list[bytes]]]:
    """A client whose connections are socket pairs served by ``serve``; what it received."""
    requests: list[bytes] = []
    async with trio.open_nursery() as nursery:

        async def open_stream(url: object, **_: object) -> trio.abc.Stream:
            client_socket, server_socket = trio.socket.socketpair()
            nursery.start_soon(serve, trio.SocketStream(server_socket), requests)
            return trio.SocketStream(client_socket)

        monkeypatch.setattr(_pool, "open_http_stream", open_stream)
        async with trio_webkit.Client(**options) as client:  # type: ignore[arg-type]
            yield client, requests
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    ("limits", "error", "phase"),
    [
        (trio_webkit.Timeout(5, write=0), trio_webkit.WriteTimeout, "write"),
        (trio_webkit.Timeout(5, read=0), trio_webkit.ReadTimeout, "read"),
    ],
    ids=["write", "read"],
)
async def test_a_zero_limit_still_fails_its_phase(
    monkeypatch: pytest.MonkeyPatch,
    limits: trio_webkit.Timeout,
    error: type[trio_webkit.HTTPError],
    phase: str,
) -> None:
    async with client_on_sockets(monkeypatch) as (client, _):
        with pytest.raises(error) as info:
            await client.get(URL, timeout=limits)
        assert info.value.phase == phase
        assert client.statistics().connections_active == 0
        assert (await client.get(URL)).content == b"ok"


async def test_a_cancelled_caller_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    async with client_on_sockets(monkeypatch) as (client, requests):
        await client.get(URL)  # a connection in the pool, so no connect step
        with trio.CancelScope() as scope:
            scope.cancel()
            await client.get(URL)
        assert scope.cancelled_caught
        await trio.testing.wait_all_tasks_blocked()
        assert len(requests) == 1
        assert client.statistics().connections_active == 0
        assert (await client.get(URL)).content == b"ok"


async def test_a_body_larger_than_the_socket_buffer_goes_out_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = bytes(range(256)) * (16 * 1024)  # 4 MiB: more than any socket buffer takes at once
    async with client_on_sockets(monkeypatch) as (client, requests):
        response = await client.post(URL, body=body)
    assert response.content == b"ok"
    assert requests[0].endswith(b"\r\n\r\n" + body)


async def test_a_server_closing_an_idle_connection_is_noticed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def one_answer(stream: trio.SocketStream, requests: list[bytes]) -> None:
        async with stream:
            requests.append(await read_raw_request(stream, bytearray()) or b"")
            await stream.send_all(OK)  # then closes, as if idle too long

    async with client_on_sockets(monkeypatch, one_answer) as (client, requests):
        for _ in range(3):
            assert (await client.post(URL, body=b"x")).content == b"ok"  # never retried
            await trio.testing.wait_all_tasks_blocked()
        assert client.statistics().connections_opened == 3
    assert len(requests) == 3


async def test_closing_the_connection_closes_its_socket() -> None:
    client_socket, server_socket = trio.socket.socketpair()
    given = trio.SocketStream(client_socket)
    connection = ClientConnection(given, ("http", "test.invalid", 80))
    assert connection.stream is not given  # the connection's own stream over the same socket
    assert given.socket.fileno() == -1  # the one given owns nothing any more
    own = connection.stream
    assert isinstance(own, trio.SocketStream)
    assert own.socket.fileno() >= 0
    await connection.aclose()
    assert own.socket.fileno() == -1
    with server_socket:
        assert await server_socket.recv(1) == b""  # the peer sees the end
