"""The server's protocol side on memory streams: framing, keep-alive, errors, producers.

Rules checked here:
- every response is parsed by a real h11 client, so a framing mistake shows;
- a rejected request gets its status, ``Connection: close`` and an EOF;
- a response whose body fails after its head went out is cut short (no
  terminating chunk), never completed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing

import trio_webkit
from trio_webkit import Request, Response, ServerConfig

from support.loopback import parse_responses
from support.memory import H11Client, read_until_closed, start_connection, status_of


async def hello(request: Request) -> Response:
    return Response(200, [("Content-Type", "text/plain")], b"Hello, world!")


async def echo_body(request: Request) -> Response:
    return Response(200, body=await request.read())


async def test_simple_get_has_length_date_and_server(nursery: trio.Nursery) -> None:
    served = start_connection(nursery, hello)
    reply = await H11Client(served.client).request()
    assert reply.status == 200
    assert reply.body == b"Hello, world!"
    assert reply.headers["content-length"] == "13"
    assert reply.headers["server"].startswith("trio-webkit/")
    assert reply.headers["date"].endswith(" GMT")
    assert "connection" not in reply.headers


async def test_keep_alive_serves_many_requests_on_one_connection(nursery: trio.Nursery) -> None:
    seen: list[str] = []

    async def record(request: Request) -> Response:
        seen.append(request.path)
        return Response(200, body=request.path)

    client = H11Client(start_connection(nursery, record).client)
    for index in range(5):
        assert (await client.request("GET", f"/{index}")).body == f"/{index}".encode()
    assert seen == ["/0", "/1", "/2", "/3", "/4"]


async def test_pipelined_requests_are_answered_in_order(nursery: trio.Nursery) -> None:
    served = start_connection(nursery, echo_body)
    await served.client.send_all(
        b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
        b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nthree\r\n0\r\n\r\n"
        b"GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    replies = parse_responses(await read_until_closed(served.client))
    assert [reply.body for reply in replies] == [b"one", b"", b"three", b""]
    assert all(reply.complete and reply.status == 200 for reply in replies)


async def test_chunked_request_body_is_read(nursery: trio.Nursery) -> None:
    served = start_connection(nursery, echo_body)
    client = H11Client(served.client)
    reply = await client.request(
        "POST", "/", headers=[("Transfer-Encoding", "chunked")], body=b"x" * 10000
    )
    assert reply.body == b"x" * 10000
    assert reply.headers["content-length"] == "10000"


async def test_async_iterable_body_is_chunked(nursery: trio.Nursery) -> None:
    async def parts() -> AsyncIterator[bytes]:
        for part in (b"one ", b"", b"two ", b"three"):
            yield part

    async def handler(request: Request) -> Response:
        return Response(200, body=parts())

    reply = await H11Client(start_connection(nursery, handler).client).request()
    assert reply.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in reply.headers
    assert reply.body == b"one two three"


async def test_producer_body_is_chunked_and_ordered(nursery: trio.Nursery) -> None:
    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        for index in range(50):
            await send.send(b"%d," % index)

    async def handler(request: Request) -> Response:
        return Response(200, producer=producer)

    reply = await H11Client(start_connection(nursery, handler).client).request()
    assert reply.headers["transfer-encoding"] == "chunked"
    assert reply.body == b"".join(b"%d," % i for i in range(50))


async def test_streamed_body_with_content_length_is_not_chunked(nursery: trio.Nursery) -> None:
    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        await send.send(b"12345")
        await send.send(b"67890")

    async def handler(request: Request) -> Response:
        return Response(200, [("Content-Length", "10")], producer=producer)

    reply = await H11Client(start_connection(nursery, handler).client).request()
    assert reply.headers["content-length"] == "10"
    assert "transfer-encoding" not in reply.headers
    assert reply.body == b"1234567890"


async def test_streamed_body_shorter_than_its_content_length_aborts(nursery: trio.Nursery) -> None:
    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        await send.send(b"12345")

    async def handler(request: Request) -> Response:
        return Response(200, [("Content-Length", "10")], producer=producer)

    served = start_connection(nursery, handler)
    await served.client.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    raw = await read_until_closed(served.client)
    assert status_of(raw) == 200
    assert raw.endswith(b"\r\n\r\n12345")  # cut short: the client sees 5 of 10 bytes


async def test_head_gets_headers_without_body(nursery: trio.Nursery) -> None:
    served = start_connection(nursery, hello)
    client = H11Client(served.client)
    reply = await client.request("HEAD", "/")
    assert reply.headers["content-length"] == "13"
    assert reply.body == b""
    assert (await client.request("GET", "/")).body == b"Hello, world!"


async def test_head_with_producer_does_not_run_it(nursery: trio.Nursery) -> None:
    ran = False

    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        nonlocal ran
        ran = True

    async def handler(request: Request) -> Response:
        return Response(200, producer=producer)

    reply = await H11Client(start_connection(nursery, handler).client).request("HEAD", "/")
    assert reply.headers["transfer-encoding"] == "chunked"
    assert reply.body == b""
    assert not ran


@pytest.mark.parametrize("status", [204, 304])
async def test_no_body_statuses(nursery: trio.Nursery, status: int) -> None:
    async def handler(request: Request) -> Response:
        return Response(status)

    client = H11Client(start_connection(nursery, handler).client)
    reply = await client.request()
    assert reply.status == status
    assert reply.body == b""
    assert "content-length" not in reply.headers  # 0 would be a claim about the resource
    assert (await client.request()).status == status  # still in sync


async def test_304_keeps_the_representation_length(nursery: trio.Nursery) -> None:
    async def handler(request: Request) -> Response:
        return Response(304, [("Content-Length", "1234"), ("ETag", '"v1"')])

    client = H11Client(start_connection(nursery, handler).client)
    reply = await client.request()
    assert (reply.status, reply.body, reply.headers["content-length"]) == (304, b"", "1234")
    assert (await client.request()).status == 304


async def test_http_10_client_gets_close(nursery: trio.Nursery) -> None:
    served = start_connection(nursery, hello)
    await served.client.send_all(b"GET / HTTP/1.0\r\n\r\n")
    raw = await read_until_closed(served.client)
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nConnection: close\r\n" in raw
    assert raw.endswith(b"\r\n\r\nHello, world!")


async def test_http_10_streamed_body_is_close_delimited(nursery: trio.Nursery) -> None:
    async def handler(request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"a"
            yield b"b"

        return Response(200, body=body())

    served = start_connection(nursery, handler)
    await served.client.send_all(b"GET / HTTP/1.0\r\n\r\n")
    raw = await read_until_closed(served.client)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding" not in head and b"Content-Length" not in head
    assert b"Connection: close" in head
    assert body == b"ab"


async def test_connection_close_request_closes_after_response(nursery: trio.Nursery) -> None:
    served = start_connection(nursery, hello)
    await served.client.send_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    raw = await read_until_closed(served.client)
    assert b"\r\nConnection: close\r\n" in raw
    await served.finished.wait()


async def test_handler_connection_close_closes(nursery: trio.Nursery) -> None:
    async def handler(request: Request) -> Response:
        return Response(200, [("Connection", "close")], b"bye")

    served = start_connection(nursery, handler)
    await served.client.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    raw = await read_until_closed(served.client)
    assert raw.count(b"Connection: close") == 1
    assert raw.endswith(b"bye")


async def test_expect_100_continue_when_the_handler_reads(nursery: trio.Nursery) -> None:
    served = start_connection(nursery, echo_body)
    await served.client.send_all(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
    )
    interim = await served.client.receive_some()
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    await served.client.send_all(b"body")
    raw = await served.client.receive_some()
    assert raw.startswith(b"HTTP/1.1 200 ") and raw.endswith(b"body")


async def test_expect_100_continue_unread_body_closes(nursery: trio.Nursery) -> None:
    served = start_connection(nursery, hello)
    await served.client.send_all(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
    )
    raw = await read_until_closed(served.client)
    assert b"100 Continue" not in raw
    assert status_of(raw) == 200


async def test_small_unread_body_is_drained_and_connection_kept(nursery: trio.Nursery) -> None:
    client = H11Client(start_connection(nursery, hello).client)
    assert (await client.request("POST", "/", body=b"ignored" * 100)).status == 200
    assert (await client.request("GET", "/")).status == 200


async def test_large_unread_body_closes_the_connection(nursery: trio.Nursery) -> None:
    config = ServerConfig(access_log=False, max_body_bytes=None)
    served = start_connection(nursery, hello, config)
    await served.client.send_all(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 200_000
    )
    reply = await served.client.receive_some()
    assert status_of(reply) == 200
    with trio.fail_after(5):
        await served.finished.wait()


# -- bad input -----------------------------------------------------------------

BAD_REQUESTS = [
    ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
    ("no-host", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("space-before-colon", b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    (
        "cl-and-te",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    (
        "duplicate-equal-cl",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na",
        400,
    ),
    ("cl-list", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\na", 400),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400),
    ("bare-lf", b"GET / HTTP/1.1\nHost: x\n\n", 400),
    # RFC 9112 §6.3: chunked not the final coding is a MUST-400; an unknown
    # coding before a final chunked is "not implemented".
    ("te-gzip", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    (
        "te-gzip-chunked",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        501,
    ),
    ("http-2", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    ("http-3", b"GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505),
    ("bad-target", b"GET index.html HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("star-not-options", b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (
        "bad-chunk-size",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        400,
    ),
]


@pytest.mark.parametrize(
    ("request_bytes", "status"), [c[1:] for c in BAD_REQUESTS], ids=[c[0] for c in BAD_REQUESTS]
)
async def test_bad_requests_are_answered_and_closed(
    nursery: trio.Nursery, request_bytes: bytes, status: int
) -> None:
    seen: list[str] = []

    async def handler(request: Request) -> Response:
        seen.append(request.target)
        await request.read()
        return Response(200)

    served = start_connection(nursery, handler)
    await served.client.send_all(request_bytes + b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
    raw = await read_until_closed(served.client)
    assert status_of(raw) == status
    assert b"Connection: close" in raw
    assert raw.count(b"HTTP/1.1 ") == 1
    assert "/smuggled" not in seen


async def test_head_over_limit_is_431(nursery: trio.Nursery) -> None:
    served = start_connection(nursery, hello, ServerConfig(access_log=False, max_header_bytes=1024))
    await served.client.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 2000)
    assert status_of(await read_until_closed(served.client)) == 431


async def test_request_line_over_limit_is_414(nursery: trio.Nursery) -> None:
    served = start_connection(nursery, hello, ServerConfig(access_log=False, max_header_bytes=1024))
    await served.client.send_all(b"GET /" + b"a" * 2000)
    assert status_of(await read_until_closed(served.client)) == 414


async def test_announced_body_over_limit_is_413_before_reading(nursery: trio.Nursery) -> None:
    called = False

    async def handler(request: Request) -> Response:
        nonlocal called
        called = True
        return Response(200)

    served = start_connection(nursery, handler, ServerConfig(access_log=False, max_body_bytes=10))
    await served.client.send_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n")
    assert status_of(await read_until_closed(served.client)) == 413
    assert not called


async def test_chunked_body_over_limit_is_413_whatever_the_handler_does(
    nursery: trio.Nursery,
) -> None:
    errors: list[Exception] = []

    async def stubborn(request: Request) -> Response:
        try:
            await request.read()
        except trio_webkit.ProtocolError as error:
            errors.append(error)
        return Response(200, body="fine")

    served = start_connection(nursery, stubborn, ServerConfig(access_log=False, max_body_bytes=10))
    await served.client.send_all(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n"
        b"8\r\n12345678\r\n0\r\n\r\n"
    )
    assert status_of(await read_until_closed(served.client)) == 413
    assert len(errors) == 1


async def test_client_gone_mid_body_reaches_the_handler_as_incomplete_body(
    nursery: trio.Nursery,
) -> None:
    errors: list[Exception] = []

    async def handler(request: Request) -> Response:
        try:
            await request.read()
        except trio_webkit.IncompleteBody as error:
            errors.append(error)
            raise
        return Response(200)

    served = start_connection(nursery, handler)
    await served.client.send_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345")
    await served.client.send_eof()  # type: ignore[attr-defined]
    raw = await read_until_closed(served.client)
    assert status_of(raw) == 400
    assert len(errors) == 1


# -- failures in the application --------------------------------------------------


async def test_handler_exception_is_500_and_logged(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(request: Request) -> Response:
        raise KeyError("boom")

    served = start_connection(nursery, broken)
    with caplog.at_level(logging.ERROR, logger="trio_webkit.server"):
        reply = await H11Client(served.client).request()
    assert reply.status == 500
    assert b"boom" not in reply.body  # no internals leak to the client
    record = next(r for r in caplog.records if r.name == "trio_webkit.server")
    assert record.exc_info is not None and "KeyError" in caplog.text


async def test_handler_returning_garbage_is_500(nursery: trio.Nursery) -> None:
    async def wrong(request: Request) -> Response:
        return "not a response"  # type: ignore[return-value]

    reply = await H11Client(start_connection(nursery, wrong).client).request()
    assert reply.status == 500


async def test_invalid_handler_response_is_500(nursery: trio.Nursery) -> None:
    async def wrong(request: Request) -> Response:
        return Response(200, [("Content-Length", "3")], b"too long")

    served = start_connection(nursery, wrong)
    await served.client.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(await read_until_closed(served.client)) == 500


async def test_producer_failing_before_first_chunk_is_500(nursery: trio.Nursery) -> None:
    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        raise OSError("disk gone")

    async def handler(request: Request) -> Response:
        return Response(200, producer=producer)

    served = start_connection(nursery, handler)
    await served.client.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(await read_until_closed(served.client)) == 500


async def test_producer_failing_after_first_chunk_truncates(nursery: trio.Nursery) -> None:
    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        await send.send(b"first")
        await trio.testing.wait_all_tasks_blocked()
        raise OSError("disk gone")

    async def handler(request: Request) -> Response:
        return Response(200, producer=producer)

    served = start_connection(nursery, handler)
    await served.client.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    raw = await read_until_closed(served.client)
    assert status_of(raw) == 200
    assert raw.endswith(b"5\r\nfirst\r\n")  # no terminating 0-chunk: visibly truncated


# -- backpressure and vanishing clients ---------------------------------------


async def test_producer_is_parked_while_the_client_does_not_read(nursery: trio.Nursery) -> None:
    produced = 0

    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        nonlocal produced
        for _ in range(1000):
            await send.send(b"x" * 1000)
            produced += 1

    async def handler(request: Request) -> Response:
        return Response(200, producer=producer)

    served = start_connection(nursery, handler, lockstep=True)
    await served.client.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await trio.testing.wait_all_tasks_blocked()
    # One chunk being written, one in the channel, one waiting in send().
    assert produced <= 3
    await served.client.receive_some(100)
    await trio.testing.wait_all_tasks_blocked()
    assert produced <= 4


async def test_producer_is_cancelled_when_the_client_leaves(nursery: trio.Nursery) -> None:
    cancelled = trio.Event()

    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        try:
            while True:
                await send.send(b"x" * 1000)
        except trio.Cancelled:
            cancelled.set()
            raise

    async def handler(request: Request) -> Response:
        return Response(200, producer=producer)

    served = start_connection(nursery, handler, lockstep=True)
    await served.client.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await served.client.receive_some(10)
    await served.client.aclose()
    with trio.fail_after(5):
        await cancelled.wait()
        await served.finished.wait()
