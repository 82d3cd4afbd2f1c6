"""A response the client parsed before is replayed, invisibly (``_response_cache`` in use).

Every scenario runs twice over real sockets, with the client's response
cache and without it, against the same scripted server: what the caller
sees (statuses, headers, bodies, history, errors), what the server
receives and how many connections are opened must be the same. The
scenarios cover what must never be replayed (a response split over
receives, ``Connection: close``, HTTP/1.0, bytes after the response) next
to what should be (repeated identical exchanges), and a replayed body left
unread must close its connection as a parsed one does.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import trio

import trio_webkit
from trio_webkit import _pool
from trio_webkit._response_cache import ResponseCache

from support.loopback import read_raw_request

URL = "http://test.invalid/"
LENGTH = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!"
GZIPPED = gzip.compress(b"compressed hello")
#: One server answer: the byte pieces it sends (a pause between two), then whether it closes.
Answer = tuple[Sequence[bytes], bool]


def length(head: bytes) -> Answer:
    return [LENGTH], False


def chunked(head: bytes) -> Answer:
    return [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"], False


def gzipped(head: bytes) -> Answer:
    response = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s"
    return [response % (len(GZIPPED), GZIPPED)], False


def no_content(head: bytes) -> Answer:
    return [b"HTTP/1.1 204 No Content\r\n\r\n"], False


def not_modified(head: bytes) -> Answer:
    return [b'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n'], False


def interim(head: bytes) -> Answer:
    hints = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
    return [hints + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"], False


def closing(head: bytes) -> Answer:
    return [b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"], True


def http10(head: bytes) -> Answer:
    return [b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"], True


def trailing(head: bytes) -> Answer:
    return [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokJUNK"], False


def split(head: bytes) -> Answer:
    return [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", b"ok"], False


def truncated(head: bytes) -> Answer:
    return [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok"], True


def redirecting(head: bytes) -> Answer:
    if head.startswith(b"GET / "):
        return [b"HTTP/1.1 302 Found\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n"], False
    return [LENGTH], False


def head_only(head: bytes) -> Answer:
    return [b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n"], False


class Alternating:
    """Two different responses, one after the other."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, head: bytes) -> Answer:
        self.count += 1
        return ([LENGTH], False) if self.count % 2 else chunked(head)


SCENARIOS: dict[str, tuple[Callable[[], Callable[[bytes], Answer]], str]] = {
    "length": (lambda: length, "GET"),
    "chunked": (lambda: chunked, "GET"),
    "gzip": (lambda: gzipped, "GET"),
    "no-content": (lambda: no_content, "GET"),
    "not-modified": (lambda: not_modified, "GET"),
    "interim": (lambda: interim, "GET"),
    "close": (lambda: closing, "GET"),
    "http10": (lambda: http10, "GET"),
    "trailing": (lambda: trailing, "GET"),
    "split": (lambda: split, "GET"),
    "truncated": (lambda: truncated, "GET"),
    "redirect": (lambda: redirecting, "GET"),
    "head": (lambda: head_only, "HEAD"),
    "post": (lambda: length, "POST"),
    "alternating": (Alternating, "GET"),
}
#: Scenarios whose repeats are replayed (the others must all be parsed).
REPLAYED = {"length", "chunked", "gzip", "no-content", "not-modified", "interim", "redirect"}
REPLAYED |= {"head", "post", "alternating"}


async def serve(
    stream: trio.SocketStream, answer: Callable[[bytes], Answer], received: list[bytes]
) -> None:
    buffer = bytearray()
    async with stream:
        try:
            while (request := await read_raw_request(stream, buffer)) is not None:
                received.append(request)
                pieces, close = answer(request)
                for number, piece in enumerate(pieces):
                    if number:
                        await trio.sleep(0.02)  # a separate receive for the client
                    await stream.send_all(piece)
                if close:
                    return
        except trio.BrokenResourceError:
            pass


def connect_to_serve(
    nursery: trio.Nursery,
    monkeypatch: pytest.MonkeyPatch,
    answer: Callable[[bytes], Answer],
    received: list[bytes],
) -> None:
    """Make every connection the client opens a socket pair served by :func:`serve`."""

    async def open_stream(url: object, **_: object) -> trio.abc.Stream:
        client_socket, server_socket = trio.socket.socketpair()
        nursery.start_soon(serve, trio.SocketStream(server_socket), answer, received)
        return trio.SocketStream(client_socket)

    monkeypatch.setattr(_pool, "open_http_stream", open_stream)


async def run(
    monkeypatch: pytest.MonkeyPatch, scenario: str, *, cache: bool, repeats: int = 4
) -> tuple[list[Any], list[bytes], int, int]:
    """The scenario's requests: what each gave, what the server got, connections, replays."""
    make_answer, method = SCENARIOS[scenario]
    answer = make_answer()
    received: list[bytes] = []
    replays = 0
    find = ResponseCache.find

    def counting_find(self: ResponseCache, sent: bytes, data: bytes) -> Any:
        nonlocal replays
        events = find(self, sent, data)
        replays += events is not None
        return events

    monkeypatch.setattr(ResponseCache, "find", counting_find)
    async with trio.open_nursery() as nursery:
        connect_to_serve(nursery, monkeypatch, answer, received)
        async with trio_webkit.Client(timeout=trio_webkit.Timeout(5)) as client:
            if not cache:
                client._pool._responses = None  # type: ignore[assignment]
            seen: list[Any] = []
            for _ in range(repeats):
                body = b"data" if method == "POST" else None
                try:
                    response = await client.request(method, URL, body=body)
                except trio_webkit.HTTPError as error:
                    seen.append((type(error).__name__, str(error)))
                    continue
                seen.append(
                    (
                        response.status,
                        response.reason,
                        response.http_version,
                        response.headers.items(),
                        response.content,
                        response.url,
                        [(old.status, old.url, old.content) for old in response.history],
                    )
                )
            opened = client.statistics().connections_opened
        nursery.cancel_scope.cancel()
    return seen, received, opened, replays


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_a_replayed_response_is_what_parsing_it_gives(
    monkeypatch: pytest.MonkeyPatch, scenario: str
) -> None:
    with_cache = await run(monkeypatch, scenario, cache=True)
    without = await run(monkeypatch, scenario, cache=False)
    assert with_cache[:3] == without[:3]
    assert without[3] == 0
    if scenario in REPLAYED:
        assert with_cache[3] >= 2, "repeats should be replayed"
    else:
        assert with_cache[3] == 0, "must be parsed every time"


async def test_repeats_are_replayed_on_one_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    seen, received, opened, replays = await run(monkeypatch, "length", cache=True, repeats=5)
    assert [entry[4] for entry in seen] == [b"Hello, world!"] * 5
    assert len(received) == 5
    assert opened == 1
    assert replays == 4  # the first one is parsed


async def test_a_replayed_body_left_unread_closes_the_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    received: list[bytes] = []
    async with trio.open_nursery() as nursery:
        connect_to_serve(nursery, monkeypatch, length, received)
        async with trio_webkit.Client() as client:
            await client.get(URL)
            async with client.stream("GET", URL) as response:  # replayed, body not read
                assert response.status == 200
            assert client.statistics().connections_idle == 0
            assert (await client.get(URL)).content == b"Hello, world!"
            async with client.stream("GET", URL) as response:  # replayed, body read
                assert [chunk async for chunk in response.iter_bytes()] == [b"Hello, world!"]
            stats = client.statistics()
        nursery.cancel_scope.cancel()
    assert stats.connections_opened == 2
    assert stats.connections_idle == 1
