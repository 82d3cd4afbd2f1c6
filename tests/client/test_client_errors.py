"""Client failures, each a typed error naming the method, the URL and the phase.

Misbehaving servers are driven by hand (``support.rawserver``): a body
shorter than announced, a chunked body without its last chunk, garbage
instead of a status line, keep-alive connections closed behind the
client's back. Compressed bodies come from our own server.
"""

from __future__ import annotations

import gzip
import zlib

import pytest
import trio

import trio_webkit

from support.loopback import fail_after, running_server
from support.rawserver import RawConnection, RawHandler, free_port, raw_server, response_head

GUARD = 10


# -- connecting and URLs --------------------------------------------------------------
@fail_after(GUARD)
async def test_connection_refused_is_a_connect_error() -> None:
    port = await free_port()
    url = f"http://127.0.0.1:{port}/nothing"
    async with trio_webkit.Client() as client:
        with pytest.raises(trio_webkit.ConnectError) as caught:
            await client.get(url)
        stats = client.statistics()
    error = caught.value
    assert error.method == "GET"
    assert error.url == url
    assert error.phase == "connect"
    assert str(error).startswith(f"GET {url}: ")
    assert "connect" in str(error).lower()
    assert not isinstance(error, TimeoutError)
    assert stats.connections_active == 0


@fail_after(GUARD)
async def test_connection_refused_module_level() -> None:
    port = await free_port()
    with pytest.raises(trio_webkit.ConnectError, match=f"127.0.0.1:{port}"):
        await trio_webkit.get(f"http://127.0.0.1:{port}/")


@pytest.mark.parametrize(
    "url",
    [
        "http://",
        "http://h:99999/",
        "http://h:-1/",
        "http://h:port/",
        "http://h/a b\r\nX: y",
        "http://h/\x00",
        "http:///path-only",
        "",
    ],
)
@fail_after(GUARD)
async def test_invalid_urls(url: str) -> None:
    async with trio_webkit.Client() as client:
        with pytest.raises(trio_webkit.InvalidURL) as caught:
            await client.get(url)
        stats = client.statistics()
    assert isinstance(caught.value, ValueError)
    assert stats.connections_opened == 0  # refused before any network activity
    assert stats.requests == 0


@pytest.mark.parametrize("url", ["ftp://x/", "file:///etc/passwd", "data:,hi", "gopher://x:70/"])
@fail_after(GUARD)
async def test_unsupported_schemes(url: str) -> None:
    async with trio_webkit.Client() as client:
        with pytest.raises(trio_webkit.UnsupportedScheme) as caught:
            await client.get(url)
    assert isinstance(caught.value, trio_webkit.InvalidURL)
    assert url.split(":")[0] in str(caught.value)


@fail_after(GUARD)
async def test_header_injection_through_a_header_value_is_refused() -> None:
    async def never(connection: RawConnection) -> None:
        raise AssertionError("nothing should be sent")

    async with raw_server(never) as server, trio_webkit.Client() as client:
        with pytest.raises(ValueError):  # Headers' own validation
            await client.get(server.url, headers={"X-Evil": "a\r\nInjected: yes"})
    assert server.connections == 0


# -- truncated and malformed responses ------------------------------------------------------
async def short_content_length(connection: RawConnection) -> None:
    await connection.next_request()
    await connection.send(response_head(200, [("Content-Length", "100")]) + b"0123456789")


async def chunked_without_last_chunk(connection: RawConnection) -> None:
    await connection.next_request()
    head = response_head(200, [("Transfer-Encoding", "chunked")])
    await connection.send(head + b"5\r\nhello\r\n6\r\n world\r\n")


@pytest.mark.parametrize("serve", [short_content_length, chunked_without_last_chunk])
@pytest.mark.parametrize("how", ["request", "read", "iter_bytes", "iter_raw"])
@fail_after(GUARD)
async def test_a_body_cut_short_is_incomplete_never_a_short_success(
    serve: RawHandler, how: str
) -> None:
    received = bytearray()
    async with raw_server(serve) as server, trio_webkit.Client() as client:
        url = f"{server.url}/cut"
        with pytest.raises(trio_webkit.IncompleteBody) as caught:
            if how == "request":
                await client.get(url)
            else:
                async with client.stream("GET", url) as response:
                    assert response.status == 200
                    if how == "read":
                        await response.read()
                    else:
                        async for chunk in getattr(response, how)():
                            received += chunk
        stats = client.statistics()
    error = caught.value
    assert isinstance(error, trio_webkit.ProtocolError)
    assert error.method == "GET"
    assert error.url == url
    assert str(error).startswith(f"GET {url}: ")
    if how.startswith("iter"):
        assert bytes(received) in (b"0123456789", b"hello world")  # what did arrive came out
    assert stats.connections_idle == 0
    assert stats.connections_active == 0


@fail_after(GUARD)
async def test_incomplete_body_says_how_much_arrived() -> None:
    async with raw_server(short_content_length) as server, trio_webkit.Client() as client:
        with pytest.raises(trio_webkit.IncompleteBody) as caught:
            await client.get(f"{server.url}/cut")
    assert caught.value.received == 10
    assert caught.value.expected == 100


async def garbage(connection: RawConnection) -> None:
    await connection.next_request()
    await connection.send(b"SSH-2.0-OpenSSH_9.0 not http at all\r\n\r\n")


async def bad_header(connection: RawConnection) -> None:
    await connection.next_request()
    await connection.send(b"HTTP/1.1 200 OK\r\nno colon in this header line\r\n\r\n")


async def two_lengths(connection: RawConnection) -> None:
    await connection.next_request()
    await connection.send(response_head(200, [("Content-Length", "5"), ("Content-Length", "7")]))


async def nothing_then_close(connection: RawConnection) -> None:
    await connection.next_request()


async def http2_status_line(connection: RawConnection) -> None:
    await connection.next_request()
    await connection.send(b"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok")


@pytest.mark.parametrize(
    "serve", [garbage, bad_header, two_lengths, nothing_then_close, http2_status_line]
)
@fail_after(GUARD)
async def test_broken_responses_are_protocol_errors(serve: RawHandler) -> None:
    async with raw_server(serve) as server, trio_webkit.Client() as client:
        url = f"{server.url}/x"
        with pytest.raises(trio_webkit.ProtocolError) as caught:
            await client.get(url)
        stats = client.statistics()
    error = caught.value
    assert not isinstance(error, trio_webkit.IncompleteBody)
    assert error.url == url
    assert str(error).startswith(f"GET {url}: ")
    assert server.connections == 1  # a fresh connection failing is not retried
    assert stats.connections_idle == 0


# -- stale keep-alive connections ------------------------------------------------------
OK = response_head(200, [("Content-Length", "2")]) + b"ok"


@fail_after(GUARD)
async def test_connections_closed_right_after_each_response_are_not_reused() -> None:
    # The server answers, then closes (no ``Connection: close`` announced).
    # Once the close has landed, the idle socket is readable: the client
    # opens a new connection at checkout, for GET and POST alike, and no
    # request is lost.
    send_closed, closed = trio.open_memory_channel[int](10)

    async def answer_then_close(connection: RawConnection) -> None:
        if await connection.next_request() is not None:
            await connection.send(OK)
        await connection.close()
        send_closed.send_nowait(connection.index)

    async with raw_server(answer_then_close) as server, trio_webkit.Client() as client:
        first = await client.get(f"{server.url}/1")
        assert await closed.receive() == 0
        second = await client.get(f"{server.url}/2")
        assert await closed.receive() == 1
        posted = await client.post(f"{server.url}/3", body=b"data")
        stats = client.statistics()
    assert [first.text, second.text, posted.text] == ["ok"] * 3
    assert stats.connections_opened == 3
    assert [index for index, _ in server.requests] == [0, 1, 2]


async def answer_first_drop_rest(connection: RawConnection) -> None:
    """Answers the first request of a connection; closes on the second without a word.

    That is the race a pool must survive: the server closed the idle
    connection just as the client sent a new request on it.
    """
    if await connection.next_request() is None:
        return
    await connection.send(OK)
    await connection.next_request()  # read it all (a clean FIN, no reset), then close


@fail_after(GUARD)
async def test_idempotent_request_on_a_stale_connection_is_retried_once() -> None:
    async with raw_server(answer_first_drop_rest) as server, trio_webkit.Client() as client:
        first = await client.get(f"{server.url}/1")
        second = await client.get(f"{server.url}/2")
        stats = client.statistics()
    assert first.text == "ok"
    assert second.text == "ok"  # transparently, on a new connection
    assert stats.connections_opened == 2
    assert [(index, request.target) for index, request in server.requests] == [
        (0, "/1"),
        (0, "/2"),  # sent, never answered
        (1, "/2"),  # the retry
    ]


@pytest.mark.parametrize("method", ["PUT", "DELETE", "HEAD"])
@fail_after(GUARD)
async def test_other_idempotent_methods_are_retried(method: str) -> None:
    async with raw_server(answer_first_drop_rest) as server, trio_webkit.Client() as client:
        await client.get(f"{server.url}/1")
        response = await client.request(method, f"{server.url}/2")
    assert response.status == 200
    assert [request.method for _, request in server.requests] == ["GET", method, method]


@pytest.mark.parametrize("method", ["POST", "PATCH"])
@fail_after(GUARD)
async def test_non_idempotent_request_on_a_stale_connection_is_not_retried(method: str) -> None:
    async with raw_server(answer_first_drop_rest) as server, trio_webkit.Client() as client:
        await client.get(f"{server.url}/1")
        url = f"{server.url}/2"
        with pytest.raises(trio_webkit.ProtocolError) as caught:
            await client.request(method, url, body=b"once only")
        after = await client.get(f"{server.url}/3")
        stats = client.statistics()
    error = caught.value
    assert error.method == method
    assert error.url == url
    assert str(error).startswith(f"{method} {url}: ")
    assert [request.method for _, request in server.requests] == ["GET", method, "GET"]
    assert after.text == "ok"
    assert stats.connections_opened == 2


async def answer_once_ever(connection: RawConnection) -> None:
    """The very first request gets an answer; every later one is dropped."""
    if await connection.next_request() is None:
        return
    if connection.index == 0:
        await connection.send(OK)
        await connection.next_request()


@fail_after(GUARD)
async def test_the_retry_happens_only_once() -> None:
    async with raw_server(answer_once_ever) as server, trio_webkit.Client() as client:
        await client.get(f"{server.url}/1")
        with pytest.raises(trio_webkit.ProtocolError):
            await client.get(f"{server.url}/2")
        stats = client.statistics()
    assert [index for index, _ in server.requests] == [0, 0, 1]  # one retry, then give up
    assert stats.connections_opened == 2
    assert stats.connections_idle == 0


# -- content encodings ------------------------------------------------------------------
TEXT = b"".join(b"line %05d: the quick brown fox\n" % index for index in range(20000))


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


ENCODED = {
    "gzip": gzip.compress(TEXT),
    "deflate": zlib.compress(TEXT),  # RFC 9110: the zlib format
    "raw-deflate": raw_deflate(TEXT),  # what many servers send as "deflate"
}


async def encoding_handler(request: trio_webkit.Request) -> trio_webkit.Response:
    kind = request.path.strip("/").split("/")[0]
    chunked = request.path.endswith("/chunked")
    if kind == "corrupt":
        body, coding = b"\x1f\x8b\x08\x00" + b"this is not gzip data at all" * 10, "gzip"
    else:
        body, coding = ENCODED[kind], "deflate" if "deflate" in kind else "gzip"
    headers = [("Content-Type", "text/plain"), ("Content-Encoding", coding)]
    if not chunked:
        return trio_webkit.Response(200, headers, body)

    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        for start in range(0, len(body), 1000):  # small pieces: decoding is incremental
            await send.send(body[start : start + 1000])

    return trio_webkit.Response(200, headers, producer=producer)


@pytest.mark.parametrize("kind", sorted(ENCODED))
@pytest.mark.parametrize("framing", ["", "/chunked"])
@fail_after(GUARD)
async def test_compressed_bodies_are_decoded(kind: str, framing: str) -> None:
    url_path = f"/{kind}{framing}"
    async with running_server(encoding_handler) as server, trio_webkit.Client() as client:
        response = await client.get(f"{server.url}{url_path}")
        async with client.stream("GET", f"{server.url}{url_path}") as streaming:
            pieces = [chunk async for chunk in streaming.iter_bytes()]
        async with client.stream("GET", f"{server.url}{url_path}") as raw:
            wire = b"".join([chunk async for chunk in raw.iter_raw()])
        stats = client.statistics()
    assert response.content == TEXT
    assert response.text == TEXT.decode()
    assert b"".join(pieces) == TEXT
    assert max(len(piece) for piece in pieces) <= 65536  # decoded in bounded pieces
    assert wire == ENCODED[kind]
    assert stats.connections_opened == 1


@pytest.mark.parametrize("kind", sorted(ENCODED))
@fail_after(GUARD)
async def test_decompress_false_gives_the_wire_bytes(kind: str) -> None:
    async with (
        running_server(encoding_handler) as server,
        trio_webkit.Client(decompress=False) as client,
    ):
        response = await client.get(f"{server.url}/{kind}")
        async with client.stream("GET", f"{server.url}/{kind}/chunked") as streaming:
            pieces = [chunk async for chunk in streaming.iter_bytes()]
    assert response.content == ENCODED[kind]
    assert response.headers["content-encoding"] in ("gzip", "deflate")
    assert b"".join(pieces) == ENCODED[kind]


@pytest.mark.parametrize("framing", ["", "/chunked"])
@pytest.mark.parametrize("how", ["request", "iter_bytes"])
@fail_after(GUARD)
async def test_corrupt_gzip_is_a_protocol_error(framing: str, how: str) -> None:
    async with running_server(encoding_handler) as server, trio_webkit.Client() as client:
        url = f"{server.url}/corrupt{framing}"
        with pytest.raises(trio_webkit.ProtocolError) as caught:
            if how == "request":
                await client.get(url)
            else:
                async with client.stream("GET", url) as response:
                    async for _ in response.iter_bytes():
                        pass
        after = await client.get(f"{server.url}/gzip")
    error = caught.value
    assert not isinstance(error, trio_webkit.IncompleteBody)
    assert "gzip" in str(error)
    assert error.method == "GET"
    assert error.url == url
    assert str(error).startswith(f"GET {url}: ")
    assert after.content == TEXT  # the client recovered


async def truncated_gzip(connection: RawConnection) -> None:
    await connection.next_request()
    body = ENCODED["gzip"][: len(ENCODED["gzip"]) // 2]
    head = response_head(200, [("Content-Encoding", "gzip"), ("Content-Length", str(len(body)))])
    await connection.send(head + body)  # complete HTTP framing, half a gzip stream


@fail_after(GUARD)
async def test_a_gzip_stream_cut_short_is_incomplete() -> None:
    async with raw_server(truncated_gzip) as server, trio_webkit.Client() as client:
        url = f"{server.url}/half.gz"
        with pytest.raises(trio_webkit.IncompleteBody) as caught:
            await client.get(url)
    assert caught.value.url == url
    assert str(caught.value).startswith(f"GET {url}: ")
