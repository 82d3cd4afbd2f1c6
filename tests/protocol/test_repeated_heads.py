"""A head sent again byte for byte reuses the earlier parse (the server's HeadCache).

The reuse must be invisible: every request still gets its own Request
(headers a handler changed do not leak into the next one, each client its
own address), keep-alive and close decisions stay the head's, only bodyless
heads are kept, and whatever follows a repeated head is parsed as the next
request. The cache itself is bounded in entries and head size.
"""

from __future__ import annotations

import h11
import trio

from trio_webkit import Request, Response
from trio_webkit._head_cache import MAX_ENTRIES, MAX_HEAD_BYTES, HeadCache, KnownHead

from support.loopback import open_connection, parse_responses, read_until_eof, running_server
from support.memory import read_until_closed, start_connection

GET = b"GET /same?q=1 HTTP/1.1\r\nHost: x\r\nX-Token: abc\r\n\r\n"


async def test_repeated_heads_each_get_a_fresh_request(nursery: trio.Nursery) -> None:
    seen: list[tuple[str, str, str | None, int]] = []

    async def record(request: Request) -> Response:
        seen.append((request.path, request.query, request.headers.get("x-token"), id(request)))
        request.headers.add("X-Added", "by the handler")  # must not reach the next request
        assert request.headers.get_all("x-added") == ["by the handler"]
        return Response(200, body=request.target)

    served = start_connection(nursery, record)
    await served.client.send_all(
        GET * 3 + b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    replies = parse_responses(await read_until_closed(served.client))
    assert [reply.body for reply in replies] == [b"/same?q=1"] * 3 + [b"/last"]
    assert [entry[:3] for entry in seen] == [("/same", "q=1", "abc")] * 3 + [("/last", "", None)]


async def test_a_repeated_close_head_still_closes(nursery: trio.Nursery) -> None:
    close_head = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    served = start_connection(nursery, lambda request: _ok())
    await served.client.send_all(close_head + close_head)
    replies = parse_responses(await read_until_closed(served.client))
    assert len(replies) == 1  # the second request is never answered: the first closed
    assert replies[0].closes


async def test_repeated_head_split_across_reads_is_parsed_again(nursery: trio.Nursery) -> None:
    served = start_connection(nursery, lambda request: _ok())
    await served.client.send_all(GET)
    first = await served.client.receive_some()
    await served.client.send_all(GET[:10])  # the same head, arriving in two pieces
    await trio.testing.wait_all_tasks_blocked()
    await served.client.send_all(GET[10:] + b"GET / HTTP/1.0\r\n\r\n")
    replies = parse_responses(bytes(first) + await read_until_closed(served.client))
    assert [reply.status for reply in replies] == [200, 200, 200]


async def test_bodies_after_identical_heads_are_read_each_time(nursery: trio.Nursery) -> None:
    async def echo(request: Request) -> Response:
        return Response(200, body=await request.read())

    post = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n"
    served = start_connection(nursery, echo)
    await served.client.send_all(
        post + b"one" + post + b"two" + GET.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    )
    replies = parse_responses(await read_until_closed(served.client))
    assert [reply.body for reply in replies] == [b"one", b"two", b""]


async def test_a_bad_head_after_a_good_one_is_still_rejected(nursery: trio.Nursery) -> None:
    served = start_connection(nursery, lambda request: _ok())
    # The same bytes as GET up to its empty line, but with a bare LF inside.
    bad = GET.replace(b"X-Token: abc\r\n", b"X-Token: abc\n")
    await served.client.send_all(GET + bad + GET)
    replies = parse_responses(await read_until_closed(served.client))
    assert [reply.status for reply in replies] == [200, 400]


async def _ok() -> Response:
    return Response(200, body=b"ok")


async def test_clients_sharing_a_head_each_get_their_own_request() -> None:
    seen: list[tuple[str, int] | None] = []

    async def who(request: Request) -> Response:
        seen.append(request.client)
        return Response(200, body=f"{request.client}")

    closing = GET.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    async with running_server(who) as running:
        answers = []
        for _ in range(3):
            stream = await open_connection(running.port)
            await stream.send_all(closing)
            answers.append(parse_responses(await read_until_eof(stream)))
            await stream.aclose()
        assert len(running.server._state.heads) == 1  # one head, parsed once, used thrice
    ports = [client[1] for client in seen if client is not None]
    assert len(set(ports)) == 3
    assert [[reply.body for reply in replies] for replies in answers] == [
        [f"{client}".encode()] for client in seen
    ]


def _known(raw: bytes) -> KnownHead:
    event = h11.Request(method="GET", target="/", headers=[("Host", "x")], http_version="1.1")
    return KnownHead(raw, event, "1.1", True)


def test_the_cache_is_bounded_and_matches_whole_heads_only() -> None:
    cache = HeadCache()
    for index in range(MAX_ENTRIES + 10):
        cache.add(_known(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % index))
    assert 0 < len(cache) <= MAX_ENTRIES
    assert cache.find(b"GET /0 HTTP/1.1\r\nHost: x\r\n\r\n") is None  # emptied when full
    last = b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % (MAX_ENTRIES + 9)
    assert cache.find(last + b"GET /next") is not None
    assert cache.find(last[:-2]) is None  # not the whole head yet
    assert cache.find(last[:-4] + b"\r\nX: y\r\n\r\n") is None  # a longer head
    big = b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n"
    cache.add(_known(big))
    assert cache.find(big) is None
