"""``Client.fetch`` and ``trio_webkit.fetch``: the classic consumer protocol over loopback.

A consumer has ``feed(data)`` and ``close()``, and optionally
``http_header(response)``; each may be plain or ``async``. ``http_header``
is called once, with the final response after redirects; ``close`` once,
after the last ``feed``. On a failure ``close`` is not called and the typed
error propagates.
"""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET
from typing import Any

import attrs
import pytest
import trio

import trio_webkit

from support.loopback import fail_after, running_server
from support.rawserver import RawConnection, raw_server, response_head

GUARD = 10
PIECES = [f"<item n='{index}'>{'x' * index}</item>".encode() for index in range(50)]
BODY = b"".join(PIECES)
XML_PIECES = [b"<?xml version='1.0'?>\n<feed>", *PIECES, b"</feed>"]


async def handler(request: trio_webkit.Request) -> trio_webkit.Response:
    path = request.path
    if path == "/body":

        async def producer(send: trio.MemorySendChannel[bytes]) -> None:
            for piece in PIECES:
                await send.send(piece)

        return trio_webkit.Response(200, [("Content-Type", "text/plain")], producer=producer)
    if path == "/start":
        return trio_webkit.Response(302, [("Location", "/middle")], body="go on")
    if path == "/middle":
        return trio_webkit.Response(301, [("Location", "/body")], body="once more")
    if path == "/xml":

        async def xml_producer(send: trio.MemorySendChannel[bytes]) -> None:
            for piece in XML_PIECES:
                await send.send(piece)

        return trio_webkit.Response(
            200, [("Content-Type", "application/xml")], producer=xml_producer
        )
    if path == "/xml.gz":
        compressed = gzip.compress(b"".join(XML_PIECES))
        headers = [("Content-Type", "application/xml"), ("Content-Encoding", "gzip")]
        return trio_webkit.Response(200, headers, compressed)
    if path == "/echo":
        return trio_webkit.Response(200, body=await request.read())
    if path == "/empty":
        return trio_webkit.Response(204)
    return trio_webkit.Response(404, body="nope")


@attrs.define
class Recorder:
    """A consumer with plain methods that records every call."""

    calls: list[tuple[Any, ...]] = attrs.Factory(list)

    def http_header(self, response: trio_webkit.Response) -> None:
        self.calls.append(("http_header", response.status, response.url))

    def feed(self, data: bytes) -> None:
        assert isinstance(data, bytes)
        assert data  # never an empty chunk
        self.calls.append(("feed", data))

    def close(self) -> None:
        self.calls.append(("close",))

    def names(self) -> list[str]:
        return [call[0] for call in self.calls]

    def fed(self) -> bytes:
        return b"".join(call[1] for call in self.calls if call[0] == "feed")


@attrs.define
class AsyncRecorder:
    """The same with ``async`` methods, which checkpoint (they really wait)."""

    calls: list[tuple[Any, ...]] = attrs.Factory(list)

    async def http_header(self, response: trio_webkit.Response) -> None:
        await trio.lowlevel.checkpoint()
        self.calls.append(("http_header", response.status, response.url))

    async def feed(self, data: bytes) -> None:
        await trio.lowlevel.checkpoint()
        self.calls.append(("feed", data))

    async def close(self) -> None:
        await trio.lowlevel.checkpoint()
        self.calls.append(("close",))


@attrs.define
class FeedAndClose:
    """No ``http_header`` at all: it is optional."""

    data: bytearray = attrs.Factory(bytearray)
    closed: int = 0

    def feed(self, data: bytes) -> None:
        assert not self.closed
        self.data += data

    def close(self) -> None:
        self.closed += 1


def check_order(names: list[str]) -> None:
    """``http_header`` once first, then feeds, then ``close`` once, last."""
    assert names.count("http_header") == 1
    assert names[0] == "http_header"
    assert names.count("close") == 1
    assert names[-1] == "close"
    assert set(names[1:-1]) == {"feed"}


@fail_after(GUARD)
async def test_plain_consumer_sees_header_feeds_and_close_in_order() -> None:
    consumer = Recorder()
    async with running_server(handler) as server, trio_webkit.Client() as client:
        response = await client.fetch(f"{server.url}/body", consumer)
    check_order(consumer.names())
    assert consumer.calls[0] == ("http_header", 200, f"{server.url}/body")
    assert consumer.fed() == BODY
    assert response.status == 200
    assert response.url == f"{server.url}/body"


@fail_after(GUARD)
async def test_async_consumer() -> None:
    consumer = AsyncRecorder()
    async with running_server(handler) as server, trio_webkit.Client() as client:
        await client.fetch(f"{server.url}/body", consumer)
    names = [call[0] for call in consumer.calls]
    check_order(names)
    assert b"".join(call[1] for call in consumer.calls if call[0] == "feed") == BODY


@fail_after(GUARD)
async def test_http_header_is_optional() -> None:
    consumer = FeedAndClose()
    async with running_server(handler) as server, trio_webkit.Client() as client:
        await client.fetch(f"{server.url}/body", consumer)
    assert bytes(consumer.data) == BODY
    assert consumer.closed == 1


@fail_after(GUARD)
async def test_http_header_is_called_once_with_the_final_response_after_redirects() -> None:
    consumer = Recorder()
    async with running_server(handler) as server, trio_webkit.Client() as client:
        response = await client.fetch(f"{server.url}/start", consumer)
    check_order(consumer.names())
    assert consumer.calls[0] == ("http_header", 200, f"{server.url}/body")
    assert consumer.fed() == BODY  # nothing of the redirects' own bodies
    assert [r.status for r in response.history] == [302, 301]


@fail_after(GUARD)
async def test_empty_body_closes_without_feeding() -> None:
    consumer = Recorder()
    async with running_server(handler) as server, trio_webkit.Client() as client:
        response = await client.fetch(f"{server.url}/empty", consumer)
    assert response.status == 204
    assert consumer.names() == ["http_header", "close"]


@fail_after(GUARD)
async def test_error_status_is_fed_like_any_body() -> None:
    # A 404 is a response, not a failure: raise_for_status is the caller's choice.
    consumer = Recorder()
    async with running_server(handler) as server, trio_webkit.Client() as client:
        response = await client.fetch(f"{server.url}/nothing-here", consumer)
    assert response.status == 404
    check_order(consumer.names())
    assert consumer.fed() == b"nope"


@fail_after(GUARD)
async def test_fetch_with_a_method_and_a_body() -> None:
    consumer = Recorder()
    async with running_server(handler) as server, trio_webkit.Client() as client:
        await client.fetch(f"{server.url}/echo", consumer, method="POST", body=b"posted bytes")
    assert consumer.fed() == b"posted bytes"


@fail_after(GUARD)
async def test_connection_reused_after_fetch() -> None:
    async with running_server(handler) as server, trio_webkit.Client() as client:
        await client.fetch(f"{server.url}/body", Recorder())
        await client.fetch(f"{server.url}/body", Recorder())
        stats = client.statistics()
    assert stats.connections_opened == 1


# -- failures ---------------------------------------------------------------------
async def short_body(connection: RawConnection) -> None:
    await connection.next_request()
    await connection.send(response_head(200, [("Content-Length", "1000")]) + b"only this much")


@fail_after(GUARD)
async def test_cut_short_body_raises_and_close_is_not_called() -> None:
    consumer = Recorder()
    async with raw_server(short_body) as server, trio_webkit.Client() as client:
        with pytest.raises(trio_webkit.IncompleteBody) as caught:
            await client.fetch(f"{server.url}/short", consumer)
    assert "close" not in consumer.names()
    assert consumer.names()[0] == "http_header"
    assert consumer.fed() == b"only this much"
    assert caught.value.method == "GET"
    assert caught.value.url == f"{server.url}/short"
    assert str(caught.value).startswith(f"GET {server.url}/short: ")


@fail_after(GUARD)
async def test_connection_refused_raises_connect_error_and_calls_nothing() -> None:
    consumer = Recorder()
    async with raw_server(short_body) as server:
        url = server.url
    # The listener is closed now: nothing accepts on that port.
    with pytest.raises(trio_webkit.ConnectError):
        await trio_webkit.fetch(f"{url}/gone", consumer)
    assert consumer.calls == []


@fail_after(GUARD)
async def test_consumer_errors_propagate_unchanged() -> None:
    class Broken(Recorder):
        def feed(self, data: bytes) -> None:
            super().feed(data)
            raise KeyError("consumer bug")

    consumer = Broken()
    async with running_server(handler) as server, trio_webkit.Client() as client:
        with pytest.raises(KeyError, match="consumer bug"):
            await client.fetch(f"{server.url}/body", consumer)
        after = await client.get(f"{server.url}/echo")  # the client still works
        stats = client.statistics()
    assert consumer.names() == ["http_header", "feed"]
    assert after.status == 200
    assert stats.connections_opened == 2  # the half-read connection was not reused


# -- XMLPullParser as it is -------------------------------------------------------
def events_of(parser: Any) -> list[tuple[str, str]]:  # typeshed's XMLPullParser is loose
    return [(event, element.tag) for event, element in parser.read_events()]


def expected_events() -> list[tuple[str, str]]:
    events = [("start", "feed")]
    for _ in PIECES:
        events += [("start", "item"), ("end", "item")]
    return [*events, ("end", "feed")]


@pytest.mark.parametrize("path", ["/xml", "/xml.gz"])
@fail_after(GUARD)
async def test_xml_pull_parser_is_a_consumer(path: str) -> None:
    parser: Any = ET.XMLPullParser(events=("start", "end"))
    async with running_server(handler) as server, trio_webkit.Client() as client:
        response = await client.fetch(f"{server.url}{path}", parser)
    assert response.status == 200
    events = events_of(parser)
    assert events == expected_events()


@fail_after(GUARD)
async def test_xml_pull_parser_events_come_out_while_streaming() -> None:
    # The document arrives in pieces: events are readable after each feed.
    parser: Any = ET.XMLPullParser(events=("end",))
    seen_while_streaming: list[int] = []

    class Watching:
        def feed(self, data: bytes) -> None:
            parser.feed(data)
            seen_while_streaming.append(len(list(parser.read_events())))

        def close(self) -> None:
            parser.close()

    async with running_server(handler) as server, trio_webkit.Client() as client:
        await client.fetch(f"{server.url}/xml", Watching())
    assert sum(seen_while_streaming) >= len(PIECES)  # every <item> ended before close()
    assert len(seen_while_streaming) > 1


@fail_after(GUARD)
async def test_module_level_fetch() -> None:
    consumer = Recorder()
    async with running_server(handler) as server:
        response = await trio_webkit.fetch(f"{server.url}/start", consumer)
        parser: Any = ET.XMLPullParser(events=("start", "end"))
        await trio_webkit.fetch(f"{server.url}/xml", parser)
    check_order(consumer.names())
    assert consumer.calls[0] == ("http_header", 200, f"{server.url}/body")
    assert consumer.fed() == BODY
    assert response.url == f"{server.url}/body"
    assert events_of(parser) == expected_events()
