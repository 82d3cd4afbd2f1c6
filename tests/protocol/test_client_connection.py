"""The client's protocol side on memory streams: framing, truncation, chunking, decoding, consumers.

The server end is scripted byte by byte, so each test shows exactly what the
client makes of a given answer. A body cut short is always an error, never
a short success.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing

import trio_webkit
from trio_webkit import Client, _pool

URL = "http://test.invalid/doc"
Script = Callable[[trio.abc.Stream], Awaitable[None]]


def scripted(monkeypatch: pytest.MonkeyPatch, nursery: trio.Nursery, script: Script) -> None:
    """Every client connection is a memory stream whose server end runs ``script``."""

    async def open_stream(url: object, **_: object) -> trio.abc.Stream:
        client_end, server_end = trio.testing.memory_stream_pair()
        nursery.start_soon(_run, script, server_end)
        return client_end

    monkeypatch.setattr(_pool, "open_http_stream", open_stream)


async def _run(script: Script, stream: trio.abc.Stream) -> None:
    async with stream:
        await read_head(stream)
        await script(stream)


async def read_head(stream: trio.abc.Stream) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += await stream.receive_some()
    return data


def answer(*parts: bytes) -> Script:
    async def script(stream: trio.abc.Stream) -> None:
        for part in parts:
            await stream.send_all(part)
            await trio.testing.wait_all_tasks_blocked()

    return script


HEAD_200 = b"HTTP/1.1 200 OK\r\n"


@pytest.mark.parametrize(
    ("raw", "body"),
    [
        (HEAD_200 + b"Content-Length: 5\r\n\r\nhello", b"hello"),
        (
            HEAD_200 + b"Transfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n",
            b"hello",
        ),
        (b"HTTP/1.0 200 OK\r\n\r\nuntil close", b"until close"),
        (b"HTTP/1.1 100 Continue\r\n\r\n" + HEAD_200 + b"Content-Length: 2\r\n\r\nok", b"ok"),
    ],
    ids=["content-length", "chunked", "close-delimited", "after-100-continue"],
)
async def test_framings(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch, raw: bytes, body: bytes
) -> None:
    scripted(monkeypatch, nursery, answer(raw))
    async with Client() as client:
        response = await client.get(URL)
    assert (response.status, response.content) == (200, body)


@pytest.mark.parametrize(
    "raw",
    [
        HEAD_200 + b"Content-Length: 10\r\n\r\nhello",
        HEAD_200 + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        HEAD_200 + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhel",
    ],
    ids=["short-content-length", "no-final-chunk", "mid-chunk"],
)
async def test_truncated_bodies_are_errors(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch, raw: bytes
) -> None:
    scripted(monkeypatch, nursery, answer(raw))
    async with Client() as client:
        with pytest.raises(trio_webkit.IncompleteBody) as info:
            await client.get(URL)
    assert str(info.value).startswith(f"GET {URL}: ")


async def test_truncated_body_counts_what_arrived(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted(monkeypatch, nursery, answer(HEAD_200 + b"Content-Length: 10\r\n\r\nhello"))
    async with Client() as client:
        with pytest.raises(trio_webkit.IncompleteBody) as info:
            await client.get(URL)
    assert (info.value.received, info.value.expected) == (5, 10)


@pytest.mark.parametrize(
    "raw",
    [b"garbage\r\n\r\n", b"HTTP/1.1 abc OK\r\n\r\n", HEAD_200 + b"Bad Header\r\n\r\n"],
    ids=["garbage", "bad-status", "bad-header"],
)
async def test_malformed_responses_are_protocol_errors(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch, raw: bytes
) -> None:
    scripted(monkeypatch, nursery, answer(raw))
    async with Client() as client:
        with pytest.raises(trio_webkit.ProtocolError) as info:
            await client.get(URL)
    assert info.value.url == URL


@pytest.mark.parametrize(
    ("coding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send
    ],
    ids=["gzip", "deflate-zlib", "deflate-raw"],
)
async def test_decompression_in_pieces(
    nursery: trio.Nursery,
    monkeypatch: pytest.MonkeyPatch,
    coding: str,
    compress: Callable[[bytes], bytes],
) -> None:
    document = b"<feed>" + b"<item>x</item>" * 1000 + b"</feed>"
    packed = compress(document)
    head = (
        HEAD_200 + f"Content-Encoding: {coding}\r\nContent-Length: {len(packed)}\r\n\r\n".encode()
    )
    scripted(
        monkeypatch, nursery, answer(head, *[packed[i : i + 7] for i in range(0, len(packed), 7)])
    )
    async with Client() as client, client.stream("GET", URL) as response:
        pieces = [piece async for piece in response.iter_bytes()]
    assert b"".join(pieces) == document


async def test_consumer_call_order(nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch) -> None:
    scripted(
        monkeypatch,
        nursery,
        answer(
            HEAD_200 + b"Transfer-Encoding: chunked\r\n\r\n", b"2\r\nab\r\n", b"1\r\nc\r\n0\r\n\r\n"
        ),
    )
    calls: list[object] = []

    class Recorder:
        def http_header(self, response: trio_webkit.Response) -> None:
            calls.append(("header", response.status))

        async def feed(self, data: bytes) -> None:
            calls.append(data)

        def close(self) -> None:
            calls.append("close")

    async with Client() as client:
        await client.fetch(URL, Recorder())
    assert calls[0] == ("header", 200)
    assert b"".join(c for c in calls if isinstance(c, bytes)) == b"abc"
    assert calls[-1] == "close" and calls.count("close") == 1
