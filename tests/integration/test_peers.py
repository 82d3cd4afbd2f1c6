"""The server against real HTTP peers over loopback.

Peers: stdlib ``http.client`` (in a thread), ``curl`` (a subprocess),
``httpx.AsyncClient`` (runs on Trio natively: httpcore picks its Trio
backend through sniffio), ``h11`` as a client, and raw bytes.

Rules: real sockets run on the real clock, so every test has a
``fail_after`` guard and generous bounds, and none asserts a duration.
Synchronisation uses events, not sleeps, wherever the server's behaviour
allows it (slowloris pacing is the exception: it is the point of the test).
"""

from __future__ import annotations

import http.client
import logging
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import h11
import httpx
import pytest
import trio

import trio_webkit

from support.loopback import (
    HOST,
    RunningServer,
    fail_after,
    get_status,
    open_connection,
    parse_responses,
    raw_exchange,
    read_until,
    read_until_eof,
    receive_response,
    running_server,
)

CONFIG = trio_webkit.ServerConfig(access_log=False)


@attrs.define
class App:
    """The handler every test here talks to, with what it saw."""

    seen: list[trio_webkit.Request] = attrs.Factory(list)
    bodies: list[bytes] = attrs.Factory(list)
    gate: trio.Event = attrs.Factory(trio.Event)  # lets /gated's producer go on
    slow_started: trio.Event = attrs.Factory(trio.Event)
    slow_release: trio.Event = attrs.Factory(trio.Event)

    async def handler(self, request: trio_webkit.Request) -> trio_webkit.Response:
        self.seen.append(request)
        path = request.path
        if path == "/echo":
            body = await request.read()
            self.bodies.append(body)
            return trio_webkit.Response(200, [("Content-Type", "application/octet-stream")], body)
        if path == "/boom":
            raise RuntimeError("the handler failed on purpose")
        if path == "/stream":
            return trio_webkit.Response(200, producer=_letters)
        if path == "/stream-fail":
            return trio_webkit.Response(200, producer=self._fail_once_first_chunk_is_out)
        if path == "/stream-fail-fast":
            return trio_webkit.Response(200, producer=_fail_after_first_chunk)
        if path == "/gated":
            return trio_webkit.Response(200, producer=self._gated)
        if path == "/slow":
            self.slow_started.set()
            await self.slow_release.wait()
            return trio_webkit.Response(200, body=b"slow done")
        return trio_webkit.Response(200, body=f"hello {path}")

    async def _fail_once_first_chunk_is_out(self, send: trio.MemorySendChannel[bytes]) -> None:
        await send.send(b"a")
        await self.gate.wait()  # the client has received the first chunk
        raise RuntimeError("the producer failed on purpose")

    async def _gated(self, send: trio.MemorySendChannel[bytes]) -> None:
        await send.send(b"first")
        await self.gate.wait()
        await send.send(b"second")


async def _letters(send: trio.MemorySendChannel[bytes]) -> None:
    for letter in (b"a", b"b", b"c"):
        await send.send(letter)


async def _fail_after_first_chunk(send: trio.MemorySendChannel[bytes]) -> None:
    await send.send(b"a")
    raise RuntimeError("the producer failed on purpose")


@attrs.define
class Served:
    app: App
    running: RunningServer

    @property
    def port(self) -> int:
        return self.running.port

    @property
    def url(self) -> str:
        return self.running.url

    def statistics(self) -> trio_webkit.ServerStatistics:
        return self.running.server.statistics()


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    app = App()
    async with running_server(app.handler, CONFIG) as running:
        yield Served(app, running)


# --- http.client --------------------------------------------------------------


@fail_after(10)
async def test_http_client_reuses_one_connection(served: Served) -> None:
    def client() -> list[tuple[int, bytes]]:
        connection = http.client.HTTPConnection(HOST, served.port, timeout=5)
        try:
            results = []
            for index in range(3):
                connection.request("GET", f"/n/{index}")
                response = connection.getresponse()
                results.append((response.status, response.read()))
            return results
        finally:
            connection.close()

    results = await trio.to_thread.run_sync(client)
    assert results == [(200, b"hello /n/0"), (200, b"hello /n/1"), (200, b"hello /n/2")]
    assert served.statistics().connections_total == 1


@fail_after(10)
async def test_http_client_post_with_body(served: Served) -> None:
    payload = os.urandom(50_000)

    def client() -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(HOST, served.port, timeout=5)
        try:
            connection.request("POST", "/echo", body=payload)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    assert await trio.to_thread.run_sync(client) == (200, payload)
    assert served.app.bodies == [payload]


@fail_after(10)
async def test_http_client_head_has_length_but_no_body(served: Served) -> None:
    def client() -> tuple[int, str | None, bytes, bytes]:
        connection = http.client.HTTPConnection(HOST, served.port, timeout=5)
        try:
            connection.request("HEAD", "/page")
            head = connection.getresponse()
            head_body = head.read()
            # The same connection again: a stray body would corrupt this response.
            connection.request("GET", "/page")
            get = connection.getresponse()
            return head.status, head.getheader("Content-Length"), head_body, get.read()
        finally:
            connection.close()

    status, length, head_body, get_body = await trio.to_thread.run_sync(client)
    assert status == 200
    assert length == str(len(b"hello /page"))
    assert head_body == b""
    assert get_body == b"hello /page"
    assert served.statistics().connections_total == 1


# --- curl ------------------------------------------------------------------------

CURL = shutil.which("curl")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed")


async def run_curl(*args: str) -> trio.CompletedProcess[bytes]:
    assert CURL is not None
    # -q first: ignore any ~/.curlrc; never go through a proxy from the environment.
    command = [CURL, "-q", "--noproxy", "*", "--silent", "--show-error", "--max-time", "5", *args]
    with trio.fail_after(8):
        return await trio.run_process(command, capture_stdout=True, capture_stderr=True)


@needs_curl
@fail_after(10)
async def test_curl_reuses_the_connection(served: Served) -> None:
    result = await run_curl("--verbose", f"{served.url}/a", f"{served.url}/b")
    assert result.stdout == b"hello /ahello /b"
    assert re.search(rb"Re-?using existing connection", result.stderr, re.IGNORECASE), result.stderr
    assert served.statistics().connections_total == 1


@needs_curl
@fail_after(10)
async def test_curl_chunked_upload_is_echoed(served: Served, tmp_path: Path) -> None:
    payload = os.urandom(200_000)
    upload = tmp_path / "upload.bin"
    upload.write_bytes(payload)
    result = await run_curl(
        "-H",
        "Transfer-Encoding: chunked",
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        f"@{upload}",
        f"{served.url}/echo",
    )
    assert result.stdout == payload
    (request,) = served.app.seen
    assert request.method == "POST"
    assert request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in request.headers


# --- httpx ------------------------------------------------------------------------


@pytest.fixture
async def httpx_client(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served.url, trust_env=False, timeout=5) as client:
        yield client


@fail_after(10)
async def test_httpx_get_and_post(served: Served, httpx_client: httpx.AsyncClient) -> None:
    response = await httpx_client.get("/x")
    assert (response.status_code, response.content) == (200, b"hello /x")
    assert response.headers["content-length"] == str(len(b"hello /x"))
    assert "date" in response.headers
    response = await httpx_client.post("/echo", content=b"posted body")
    assert (response.status_code, response.content) == (200, b"posted body")
    assert served.statistics().connections_total == 1  # httpx kept the connection


@fail_after(10)
async def test_httpx_streams_a_chunked_response_as_it_is_produced(
    served: Served, httpx_client: httpx.AsyncClient
) -> None:
    async with httpx_client.stream("GET", "/gated") as response:
        assert response.status_code == 200
        assert response.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in response.headers
        chunks = response.aiter_raw()
        received = b""
        # The producer is parked until the gate opens: "first" must arrive alone.
        while received != b"first":
            received += await chunks.__anext__()
            assert b"first".startswith(received)
        served.app.gate.set()
        async for chunk in chunks:
            received += chunk
    assert received == b"firstsecond"


# --- h11 client: pipelining --------------------------------------------------------


def h11_request_bytes(
    method: str, target: str, body: bytes = b"", headers: list[tuple[str, str]] | None = None
) -> bytes:
    """One request serialised by a real h11 client."""
    client = h11.Connection(h11.CLIENT)
    all_headers = [("Host", "test"), *(headers or [])]
    if body:
        all_headers.append(("Content-Length", str(len(body))))
    data = client.send(h11.Request(method=method, target=target, headers=all_headers)) or b""
    if body:
        data += client.send(h11.Data(data=body)) or b""
    data += client.send(h11.EndOfMessage()) or b""
    return data


@fail_after(10)
async def test_pipelined_requests_are_answered_in_order(served: Served) -> None:
    pipeline = (
        h11_request_bytes("GET", "/one")
        + h11_request_bytes("POST", "/echo", b"two")
        + h11_request_bytes("GET", "/three", headers=[("Connection", "close")])
    )
    data = await raw_exchange(served.port, pipeline)  # one write, read until EOF
    responses = parse_responses(data)
    assert [(response.status, response.body) for response in responses] == [
        (200, b"hello /one"),
        (200, b"two"),
        (200, b"hello /three"),
    ]
    assert all(response.complete for response in responses)
    assert [response.closes for response in responses] == [False, False, True]
    assert [request.path for request in served.app.seen] == ["/one", "/echo", "/three"]
    assert served.statistics().connections_total == 1


@fail_after(10)
async def test_pipelined_head_request_has_no_body(served: Served) -> None:
    pipeline = h11_request_bytes("HEAD", "/h") + h11_request_bytes(
        "GET", "/g", headers=[("Connection", "close")]
    )
    responses = parse_responses(await raw_exchange(served.port, pipeline), ["HEAD", "GET"])
    assert [(response.status, response.body) for response in responses] == [
        (200, b""),
        (200, b"hello /g"),
    ]
    assert responses[0].header(b"content-length") == b"%d" % len(b"hello /h")


# --- HTTP/1.0, Connection: close -------------------------------------------------


@fail_after(10)
async def test_http10_client_gets_response_then_close(served: Served) -> None:
    data = await raw_exchange(served.port, b"GET /old HTTP/1.0\r\n\r\n")  # no Host: fine in 1.0
    (response,) = parse_responses(data)
    assert (response.status, response.body) == (200, b"hello /old")
    assert response.header(b"content-length") == b"%d" % len(b"hello /old")
    assert response.closes
    assert served.app.seen[0].http_version == "1.0"


@fail_after(10)
async def test_http10_client_gets_a_streamed_body_close_delimited(served: Served) -> None:
    data = await raw_exchange(served.port, b"GET /stream HTTP/1.0\r\n\r\n")
    (response,) = parse_responses(data)
    assert response.header(b"transfer-encoding") is None  # HTTP/1.0 knows no chunked
    assert (response.status, response.body, response.complete) == (200, b"abc", True)
    assert response.closes


@fail_after(10)
async def test_connection_close_request(served: Served) -> None:
    request = b"GET /bye HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    data = await raw_exchange(served.port, request)  # returns only once the server closed
    (response,) = parse_responses(data)
    assert (response.status, response.body) == (200, b"hello /bye")
    assert response.closes


# --- Expect: 100-continue -------------------------------------------------------------


@fail_after(10)
async def test_100_continue_comes_before_the_final_response(served: Served) -> None:
    stream = await open_connection(served.port)
    async with stream:
        await stream.send_all(
            b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        interim = await read_until(stream, b"\r\n\r\n")
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        await stream.send_all(b"hello")
        (response,) = parse_responses(await read_until_eof(stream))
    assert (response.status, response.body) == (200, b"hello")


# --- failures ----------------------------------------------------------------------------


@fail_after(10)
async def test_handler_exception_is_a_500_and_others_are_unaffected(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    bystander = await open_connection(served.port)
    victim = await open_connection(served.port)
    async with bystander, victim:
        await bystander.send_all(h11_request_bytes("GET", "/before"))
        assert (await receive_response(bystander)).status == 200

        with caplog.at_level(logging.ERROR, logger="trio_webkit"):
            await victim.send_all(h11_request_bytes("GET", "/boom"))
            failed = await receive_response(victim)
        assert failed.status == 500
        assert failed.body.startswith(b"500 Internal Server Error")
        assert b"on purpose" not in failed.body  # no internals leak to the client
        assert any(
            record.exc_info and isinstance(record.exc_info[1], RuntimeError)
            for record in caplog.records
        ), "the handler's exception was not logged with its traceback"

        # The other connection, already open, is served as before.
        await bystander.send_all(h11_request_bytes("GET", "/after"))
        assert (await receive_response(bystander)).body == b"hello /after"
    assert await get_status(served.port) == 200


@fail_after(10)
async def test_producer_response_arrives_chunked(served: Served) -> None:
    request = b"GET /stream HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    data = await raw_exchange(served.port, request)
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"\r\nTransfer-Encoding: chunked" in head
    assert b"Content-Length" not in head
    assert body == b"1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n"
    (response,) = parse_responses(data)
    assert (response.status, response.body, response.complete) == (200, b"abc", True)


@fail_after(10)
async def test_producer_failure_truncates_the_chunked_body(served: Served) -> None:
    stream = await open_connection(served.port)
    async with stream:
        # Keep-alive request: only the server's abort can end this exchange.
        await stream.send_all(b"GET /stream-fail HTTP/1.1\r\nHost: test\r\n\r\n")
        data = await read_until(stream, b"\r\n\r\n1\r\na\r\n")
        served.app.gate.set()  # now the producer raises
        data += await read_until_eof(stream)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"\r\nTransfer-Encoding: chunked" in head
    assert body == b"1\r\na\r\n"  # the first chunk, then the connection closed
    (response,) = parse_responses(data)
    assert not response.complete
    assert await get_status(served.port) == 200


@fail_after(10)
async def test_producer_failure_is_never_a_short_success(served: Served) -> None:
    """The producer fails right after handing over its first chunk.

    Whether that chunk (and the head with it) went out first is up to the
    scheduler: the client sees a 500, or a truncated chunked body; never a
    complete 200.
    """
    request = b"GET /stream-fail-fast HTTP/1.1\r\nHost: test\r\n\r\n"
    (response,) = parse_responses(await raw_exchange(served.port, request))
    if response.status == 200:
        assert not response.complete
    else:
        assert (response.status, response.complete, response.closes) == (500, True, True)
    assert await get_status(served.port) == 200


# --- shutdown and slow clients ------------------------------------------------------------


async def _shut_down(server: trio_webkit.Server, *, task_status: trio.TaskStatus[None]) -> None:
    task_status.started()
    await server.shutdown()  # marks the server draining before its first checkpoint


@fail_after(10)
async def test_shutdown_lets_the_request_in_flight_finish() -> None:
    app = App()
    server = trio_webkit.Server(app.handler, CONFIG)
    stopped = trio.Event()

    async def serve(task_status: trio.TaskStatus[list[trio.SocketListener]]) -> None:
        await server.serve_tcp(0, HOST, task_status=task_status)
        stopped.set()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(serve)
        port = listeners[0].socket.getsockname()[1]
        idle = await open_connection(port)  # connected, never sends a request
        busy = await open_connection(port)
        async with idle, busy:
            await busy.send_all(b"GET /slow HTTP/1.1\r\nHost: test\r\n\r\n")
            await app.slow_started.wait()

            await nursery.start(_shut_down, server)
            assert server.statistics().draining
            # The idle connection is closed at once, without a response.
            assert await read_until_eof(idle) == b""
            assert not stopped.is_set()  # still serving the request in flight

            app.slow_release.set()
            (response,) = parse_responses(await read_until_eof(busy))
        assert (response.status, response.body) == (200, b"slow done")
        assert response.closes
        await stopped.wait()  # serve_tcp returned
    with pytest.raises(OSError):  # the listener is closed
        stream = await trio.open_tcp_stream(HOST, port)
        await stream.aclose()
    assert server.statistics().connections_open == 0


@fail_after(10)
async def test_slowloris_is_cut_off_while_others_are_served() -> None:
    app = App()
    config = trio_webkit.ServerConfig(access_log=False, header_timeout=1.0)
    async with running_server(app.handler, config) as running:
        head = b"GET /loris HTTP/1.1\r\nHost: t\r\n\r\n"  # 32 bytes: 6.4 s at 5 B/s
        loris = await open_connection(running.port)
        received = bytearray()
        answered = trio.Event()
        sent = 0
        normal_statuses: list[int] = []

        async def trickle(cancel_scope: trio.CancelScope) -> None:
            nonlocal sent
            for index in range(len(head)):
                if answered.is_set():
                    return  # the server answered: stop sending, read to EOF
                try:
                    await loris.send_all(head[index : index + 1])
                except trio.BrokenResourceError:
                    return  # the server is gone: it cut us off
                sent += 1
                await trio.sleep(0.2)
            cancel_scope.cancel()  # sent the whole head: the server never cut us off

        async def listen() -> None:
            with trio.fail_after(6):
                while True:
                    try:
                        data = await loris.receive_some(65536)
                    except trio.BrokenResourceError:
                        break
                    if not data:
                        break
                    received.extend(data)
                    answered.set()

        async def normal_client() -> None:
            stream = await open_connection(running.port)
            async with stream:
                while True:
                    await stream.send_all(h11_request_bytes("GET", "/normal"))
                    normal_statuses.append((await receive_response(stream)).status)
                    await trio.sleep(0.05)

        async with loris, trio.open_nursery() as nursery:
            nursery.start_soon(normal_client)
            async with trio.open_nursery() as loris_tasks:
                loris_tasks.start_soon(trickle, loris_tasks.cancel_scope)
                loris_tasks.start_soon(listen)
            nursery.cancel_scope.cancel()

    assert sent < len(head), "the slow head was accepted in full"
    assert bytes(received).startswith(b"HTTP/1.1 408 "), bytes(received)
    (response,) = parse_responses(bytes(received))
    assert response.closes
    assert normal_statuses, "the normal client got no response meanwhile"
    assert set(normal_statuses) == {200}
    assert [request.path for request in app.seen if request.path != "/normal"] == []
