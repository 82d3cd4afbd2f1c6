"""The client against our own server over loopback: methods, bodies, headers, pooling.

Every test has a ``fail_after`` guard (real sockets, real clock) and none
asserts a duration. Concurrency is shown with events (a handler that waits
until N requests are in flight), never with sleeps.
"""

from __future__ import annotations

import gc
import json
from collections.abc import AsyncIterator
from contextlib import aclosing

import attrs
import pytest
import trio

import trio_webkit

from support.loopback import fail_after, running_server

GUARD = 10


@attrs.define
class App:
    """Echoes each request as JSON and records what it saw."""

    seen: list[trio_webkit.Request] = attrs.Factory(list)

    async def handler(self, request: trio_webkit.Request) -> trio_webkit.Response:
        self.seen.append(request)
        path = request.path
        if path == "/missing":
            return trio_webkit.Response(404, body="no such thing\n")
        if path == "/boom":
            return trio_webkit.Response(500, body="broken\n")
        if path == "/big":
            return trio_webkit.Response(200, body=b"x" * (1024 * 1024))
        if path == "/latin1":
            body = "café crème".encode("latin-1")
            return trio_webkit.Response(
                200, [("Content-Type", "text/plain; charset=iso-8859-1")], body
            )
        if path == "/utf8":
            return trio_webkit.Response(200, body="naïve ☃")
        if path == "/json":
            payload = json.dumps({"a": [1, 2, 3], "b": "ü"}).encode()
            return trio_webkit.Response(200, [("Content-Type", "application/json")], payload)
        body = await request.read()
        echo = {
            "method": request.method,
            "target": request.target,
            "headers": [[name.lower(), value] for name, value in request.headers.items()],
            "body": body.decode("latin-1"),
        }
        return trio_webkit.Response(
            200, [("Content-Type", "application/json")], json.dumps(echo).encode()
        )


def header_values(echo: dict[str, object], name: str) -> list[str]:
    headers = echo["headers"]
    assert isinstance(headers, list)
    return [value for key, value in headers if key == name]


async def chunks_of(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        await trio.lowlevel.checkpoint()
        yield piece


# -- methods --------------------------------------------------------------------
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
@fail_after(GUARD)
async def test_each_method_arrives_as_sent(method: str) -> None:
    app = App()
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        shortcut = getattr(client, method.lower())
        response = await shortcut(f"{server.url}/things/1?x=y")
        via_request = await client.request(method.lower(), f"{server.url}/things/2")
    assert response.status == 200
    assert response.reason == "OK"
    assert response.http_version == "1.1"
    assert response.url == f"{server.url}/things/1?x=y"
    assert response.history == []
    echo = response.json()
    assert echo["method"] == method
    assert echo["target"] == "/things/1?x=y"
    assert echo["body"] == ""
    assert header_values(echo, "host") == [f"127.0.0.1:{server.port}"]
    assert via_request.json()["method"] == method  # request() upper-cases the method


@fail_after(GUARD)
async def test_head_has_headers_but_no_body() -> None:
    app = App()
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        head = await client.head(f"{server.url}/big")
        get = await client.get(f"{server.url}/big")  # the connection is still in sync
        stats = client.statistics()
    assert head.status == 200
    assert head.headers["content-length"] == str(1024 * 1024)
    assert head.content == b""
    assert len(get.content) == 1024 * 1024
    assert [request.method for request in app.seen] == ["HEAD", "GET"]
    assert stats.connections_opened == 1


# -- request bodies -------------------------------------------------------------
@fail_after(GUARD)
async def test_bytes_body_is_sent_with_content_length() -> None:
    app = App()
    body = bytes(range(256)) * 1000
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        response = await client.post(f"{server.url}/echo", body=body)
    echo = response.json()
    assert echo["body"].encode("latin-1") == body
    assert header_values(echo, "content-length") == [str(len(body))]
    assert header_values(echo, "transfer-encoding") == []


@fail_after(GUARD)
async def test_empty_bytes_body_is_sent_with_content_length_zero() -> None:
    app = App()
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        response = await client.put(f"{server.url}/echo", body=b"")
    echo = response.json()
    assert echo["body"] == ""
    assert header_values(echo, "content-length") == ["0"]


@fail_after(GUARD)
async def test_str_body_is_utf8_with_a_default_content_type() -> None:
    app = App()
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        plain = await client.post(f"{server.url}/echo", body="grüße ☃")
        typed = await client.post(
            f"{server.url}/echo", body="<a/>", headers={"Content-Type": "application/xml"}
        )
    echo = plain.json()
    assert echo["body"].encode("latin-1") == "grüße ☃".encode()
    assert header_values(echo, "content-type") == ["text/plain; charset=utf-8"]
    assert header_values(echo, "content-length") == [str(len("grüße ☃".encode()))]
    assert header_values(typed.json(), "content-type") == ["application/xml"]


@fail_after(GUARD)
async def test_async_iterable_body_is_sent_chunked() -> None:
    app = App()
    pieces = [b"first,", b"", b"second,", b"third" * 10000]
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        response = await client.post(f"{server.url}/echo", body=chunks_of(*pieces))
    echo = response.json()
    assert echo["body"].encode("latin-1") == b"".join(pieces)
    assert header_values(echo, "transfer-encoding") == ["chunked"]
    assert header_values(echo, "content-length") == []


@fail_after(GUARD)
async def test_producer_body_is_sent_chunked() -> None:
    app = App()

    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        for index in range(20):
            await send.send(f"chunk {index};".encode() * 500)

    expected = b"".join(f"chunk {index};".encode() * 500 for index in range(20))
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        response = await client.put(f"{server.url}/echo", body=producer)
    echo = response.json()
    assert echo["method"] == "PUT"
    assert echo["body"].encode("latin-1") == expected
    assert header_values(echo, "transfer-encoding") == ["chunked"]


@fail_after(GUARD)
async def test_a_failing_producer_fails_the_request() -> None:
    app = App()

    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        await send.send(b"some data")
        raise ValueError("the producer broke")

    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        with pytest.raises(ValueError, match="the producer broke"):
            await client.post(f"{server.url}/echo", body=producer)
        after = await client.get(f"{server.url}/after")  # the client still works
    assert after.status == 200


# -- headers -------------------------------------------------------------------
@fail_after(GUARD)
async def test_default_headers() -> None:
    app = App()
    async with running_server(app.handler) as server:
        async with trio_webkit.Client() as client:
            decompressing = (await client.get(f"{server.url}/h")).json()
        async with trio_webkit.Client(decompress=False) as client:
            raw = (await client.get(f"{server.url}/h")).json()
    [agent] = header_values(decompressing, "user-agent")
    assert agent == f"trio-webkit/{trio_webkit.__version__}"
    [accept_encoding] = header_values(decompressing, "accept-encoding")
    assert {coding.strip() for coding in accept_encoding.split(",")} >= {"gzip", "deflate"}
    assert header_values(raw, "accept-encoding") == []  # it could not decode them
    assert header_values(raw, "user-agent") == [agent]


@fail_after(GUARD)
async def test_client_headers_merge_with_request_headers_and_the_request_wins() -> None:
    app = App()
    client_headers = {"X-Client": "c", "X-Both": "from-client", "User-Agent": "client-agent/1"}
    async with (
        running_server(app.handler) as server,
        trio_webkit.Client(headers=client_headers) as client,
    ):
        plain = (await client.get(f"{server.url}/h")).json()
        merged = (
            await client.get(
                f"{server.url}/h",
                headers=[("x-both", "from-request"), ("X-Request", "r"), ("X-Request", "r2")],
            )
        ).json()
        agent = (await client.get(f"{server.url}/h", headers={"user-agent": "mine/2"})).json()
    assert header_values(plain, "x-client") == ["c"]
    assert header_values(plain, "x-both") == ["from-client"]
    assert header_values(plain, "user-agent") == ["client-agent/1"]
    assert header_values(merged, "x-client") == ["c"]
    assert header_values(merged, "x-both") == ["from-request"]  # replaced, not added
    assert header_values(merged, "x-request") == ["r", "r2"]  # multi-valued kept
    assert header_values(agent, "user-agent") == ["mine/2"]


# -- keep-alive and the pool ------------------------------------------------------
@fail_after(GUARD)
async def test_sequential_requests_reuse_one_connection() -> None:
    app = App()
    async with running_server(app.handler) as server:
        async with trio_webkit.Client() as client:
            for index in range(3):
                response = await client.get(f"{server.url}/n/{index}")
                assert response.status == 200
            stats = client.statistics()
        server_stats = server.server.statistics()
    assert stats.connections_opened == 1
    assert stats.requests == 3
    assert stats.connections_idle == 1
    assert stats.connections_active == 0
    assert server_stats.connections_total == 1


@fail_after(GUARD)
async def test_leaving_the_client_closes_its_connections() -> None:
    app = App()
    async with running_server(app.handler) as server:
        async with trio_webkit.Client() as client:
            await client.get(f"{server.url}/one")
            assert server.server.statistics().connections_open == 1
        # The server notices the close; it has no event to wait on, so poll
        # (bounded by the test's guard).
        while server.server.statistics().connections_open:  # noqa: ASYNC110
            await trio.sleep(0.01)
        stats = client.statistics()
    assert stats.connections_idle == 0
    assert stats.connections_active == 0


@pytest.mark.parametrize("how", ["not-read", "one-chunk"])
@fail_after(GUARD)
async def test_a_body_not_read_to_the_end_closes_its_connection(how: str) -> None:
    app = App()
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        async with client.stream("GET", f"{server.url}/big") as response:
            assert response.status == 200
            if how == "one-chunk":
                async with aclosing(response.iter_bytes()) as chunks:  # type: ignore[type-var]
                    async for chunk in chunks:
                        assert chunk
                        break
        assert client.statistics().connections_idle == 0  # not given back
        after = await client.get(f"{server.url}/after")
        stats = client.statistics()
    assert after.status == 200
    assert stats.connections_opened == 2
    assert stats.connections_active == 0


@fail_after(GUARD)
async def test_breaking_out_of_iter_bytes_leaves_no_generator_behind() -> None:
    # The everyday pattern: stop iterating early, no ``aclosing``. Leaving the
    # ``stream()`` block must finish the body's iterators (and close the
    # connection), not leave them to the garbage collector, which makes Trio
    # warn "Async generator ... was garbage collected before it had been
    # exhausted" (an error under this suite's filterwarnings).
    app = App()
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        async with client.stream("GET", f"{server.url}/big") as response:
            async for chunk in response.iter_bytes():
                assert chunk
                break
        del response, chunk
        gc.collect()
        after = await client.get(f"{server.url}/after")
        stats = client.statistics()
    assert after.status == 200
    assert stats.connections_opened == 2


@fail_after(GUARD)
async def test_a_body_read_to_the_end_in_stream_keeps_the_connection() -> None:
    app = App()
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        async with client.stream("GET", f"{server.url}/big") as response:
            received = 0
            async for chunk in response.iter_bytes():
                received += len(chunk)
        await client.get(f"{server.url}/after")
        stats = client.statistics()
    assert received == 1024 * 1024
    assert stats.connections_opened == 1


@fail_after(GUARD)
async def test_stream_yields_chunks_as_they_arrive() -> None:
    # The producer sends one chunk, then waits until the client has seen it:
    # a client that buffered the body would wait forever (the guard fails it).
    seen_by_client: list[trio.Event] = [trio.Event() for _ in range(4)]

    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        for index, event in enumerate(seen_by_client):
            await send.send(f"part {index};".encode())
            await event.wait()

    async def handler(request: trio_webkit.Request) -> trio_webkit.Response:
        return trio_webkit.Response(200, producer=producer)

    received: list[bytes] = []
    async with (
        running_server(handler) as server,
        trio_webkit.Client() as client,
        client.stream("GET", f"{server.url}/") as response,
    ):
        assert response.headers["transfer-encoding"] == "chunked"
        with pytest.raises(RuntimeError):
            response.content  # noqa: B018 -- not read yet
        async for chunk in response.iter_bytes():
            received.append(chunk)
            seen_by_client[len(received) - 1].set()
    assert received == [f"part {index};".encode() for index in range(4)]


@fail_after(GUARD)
async def test_read_inside_stream_then_content() -> None:
    app = App()
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        async with client.stream("GET", f"{server.url}/big") as response:
            body = await response.read()
            assert await response.read() == body  # a second read returns the same
        assert response.content == body
    assert len(body) == 1024 * 1024


# -- response helpers -------------------------------------------------------------
@fail_after(GUARD)
async def test_text_uses_the_charset() -> None:
    app = App()
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        latin1 = await client.get(f"{server.url}/latin1")
        utf8 = await client.get(f"{server.url}/utf8")
    assert latin1.content == "café crème".encode("latin-1")
    assert latin1.text == "café crème"
    assert utf8.text == "naïve ☃"


@fail_after(GUARD)
async def test_json() -> None:
    app = App()
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        response = await client.get(f"{server.url}/json")
    assert response.json() == {"a": [1, 2, 3], "b": "ü"}


@pytest.mark.parametrize(("path", "status"), [("/missing", 404), ("/boom", 500)])
@fail_after(GUARD)
async def test_raise_for_status(path: str, status: int) -> None:
    app = App()
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        response = await client.get(f"{server.url}{path}")
        ok = await client.get(f"{server.url}/fine")
    assert response.status == status
    with pytest.raises(trio_webkit.HTTPStatusError) as caught:
        response.raise_for_status()
    error = caught.value
    assert error.response is response
    assert error.method == "GET"
    assert error.url == f"{server.url}{path}"
    assert str(error).startswith(f"GET {server.url}{path}: ")
    assert str(status) in str(error)
    assert isinstance(error, trio_webkit.HTTPError)
    assert ok.raise_for_status() is ok


# -- limits -----------------------------------------------------------------------
@attrs.define
class Gate:
    """A handler that holds every request until ``wanted`` are in flight at once."""

    wanted: int
    in_flight: int = 0
    most: int = 0
    served: int = 0
    full: trio.Event = attrs.Factory(trio.Event)

    async def handler(self, request: trio_webkit.Request) -> trio_webkit.Response:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        if self.in_flight >= self.wanted:
            self.full.set()
        try:
            await self.full.wait()
            for _ in range(3):  # let other requests interleave, if they can
                await trio.lowlevel.checkpoint()
        finally:
            self.in_flight -= 1
        self.served += 1
        return trio_webkit.Response(200, body=f"served {request.path}")


@fail_after(GUARD)
async def test_fifty_concurrent_gets_share_at_most_max_connections() -> None:
    gate = Gate(wanted=10)
    results: dict[int, trio_webkit.Response] = {}
    async with running_server(gate.handler) as server:
        async with trio_webkit.Client(max_connections=10) as client:

            async def one(index: int) -> None:
                results[index] = await client.get(f"{server.url}/r/{index}")

            async with trio.open_nursery() as nursery:
                for index in range(50):
                    nursery.start_soon(one, index)
            stats = client.statistics()
        server_stats = server.server.statistics()
    assert sorted(results) == list(range(50))
    assert all(results[i].text == f"served /r/{i}" for i in range(50))
    assert gate.most == 10  # all ten slots were used, never more
    assert stats.connections_opened <= 10
    assert stats.requests == 50
    assert stats.connections_idle <= 10
    assert server_stats.connections_total <= 10


@fail_after(GUARD)
async def test_max_connections_per_host_limits_each_origin() -> None:
    first, second = Gate(wanted=2), Gate(wanted=2)
    statuses: list[int] = []
    async with (
        running_server(first.handler) as server_a,
        running_server(second.handler) as server_b,
        trio_webkit.Client(max_connections=10, max_connections_per_host=2) as client,
    ):

        async def one(url: str) -> None:
            statuses.append((await client.get(url)).status)

        async with trio.open_nursery() as nursery:
            for index in range(8):
                nursery.start_soon(one, f"{server_a.url}/a/{index}")
                nursery.start_soon(one, f"{server_b.url}/b/{index}")
        stats = client.statistics()
        totals = (
            server_a.server.statistics().connections_total,
            server_b.server.statistics().connections_total,
        )
    assert statuses == [200] * 16
    assert (first.most, second.most) == (2, 2)
    assert totals[0] <= 2
    assert totals[1] <= 2
    assert stats.connections_opened <= 4
