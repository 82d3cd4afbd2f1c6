"""Our client against hostile servers on loopback (issue 8, point 6).

Each hostile server is a raw socket server (:mod:`support.rawserver`) that
reads the request and then misbehaves. Every case must end in a typed
:class:`trio_webkit.HTTPError` within the client's timeout (a ``fail_after``
a little longer than it is the guard), and leave the pool consistent: the
client has a single connection slot (``max_connections=1``), so a slot
leaked by the failure would turn the next request, to a good server, into a
:class:`PoolTimeout`; and ``statistics()`` must show no active connection.

Not here because the design answers them otherwise: a server that trickles
a byte of head or body every so often never trips the ``read`` timeout
(inactivity, not a total, as in urllib3 and httpx); the caller's
``trio.fail_after`` bounds the total and leaves the pool clean
(``timeouts/test_client_timeouts.py``). Gzip bombs are in
``test_decompression_limit.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import attrs
import pytest
import trio

import trio_webkit

from support.loopback import RunningServer, running_server
from support.rawserver import RawConnection, raw_server, response_head

READ_TIMEOUT = 1.0
#: The guard around one hostile request: its timeout plus generous slack.
GUARD = READ_TIMEOUT + 4.0
#: Bound on what a hostile server sends, so that no test can run away.
MAX_HOSTILE_BYTES = 64 * 1024 * 1024


async def hello(request: trio_webkit.Request) -> trio_webkit.Response:
    return trio_webkit.Response(200, body=b"good")


@attrs.define
class Setup:
    client: trio_webkit.Client
    good: RunningServer


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    timeout = trio_webkit.Timeout(READ_TIMEOUT, pool=READ_TIMEOUT)
    client = trio_webkit.Client(timeout=timeout, max_connections=1)
    async with running_server(hello) as good, client:
        yield Setup(client, good)


async def assert_pool_consistent(setup: Setup) -> None:
    client = setup.client
    assert client.statistics().connections_active == 0
    with trio.fail_after(GUARD):
        response = await client.get(setup.good.url + "/")  # needs the one slot
    assert (response.status, response.content) == (200, b"good")
    stats = client.statistics()
    assert stats.connections_active == 0 and stats.connections_idle >= 1


async def send_for_a_while(connection: RawConnection, data: bytes) -> None:
    """Send ``data`` again and again, up to MAX_HOSTILE_BYTES (the client gives up first)."""
    sent = 0
    while sent < MAX_HOSTILE_BYTES:
        await connection.send(data)
        sent += len(data)
    await trio.sleep_forever()


# -- the hostile servers ------------------------------------------------------------------------
async def endless_headers(connection: RawConnection) -> None:
    await connection.next_request()
    await connection.send(b"HTTP/1.1 200 OK\r\n")
    await send_for_a_while(connection, b"X-Filler: " + b"a" * 1000 + b"\r\n")


async def endless_header_line(connection: RawConnection) -> None:
    await connection.next_request()
    await connection.send(b"HTTP/1.1 200 OK\r\nX-Long: ")
    await send_for_a_while(connection, b"a" * 4096)


async def endless_status_line(connection: RawConnection) -> None:
    await connection.next_request()
    await connection.send(b"HTTP/1.1 200 ")
    await send_for_a_while(connection, b"O" * 4096)


async def absurd_chunk_size(connection: RawConnection) -> None:
    await connection.next_request()
    await connection.send(response_head(200, [("Transfer-Encoding", "chunked")]))
    await connection.send(b"f" * 100 + b"\r\n" + b"a" * 1000)
    await trio.sleep_forever()


async def endless_chunk_extension(connection: RawConnection) -> None:
    await connection.next_request()
    await connection.send(response_head(200, [("Transfer-Encoding", "chunked")]) + b"5;ext=")
    await send_for_a_while(connection, b"x" * 4096)


async def huge_chunk_then_close(connection: RawConnection) -> None:
    """Announces a 16 EiB chunk, sends 256 KiB of it, and closes."""
    await connection.next_request()
    await connection.send(response_head(200, [("Transfer-Encoding", "chunked")]))
    await connection.send(b"ffffffffffffffff\r\n" + b"a" * 256 * 1024)


async def huge_chunk_then_silence(connection: RawConnection) -> None:
    await connection.next_request()
    await connection.send(response_head(200, [("Transfer-Encoding", "chunked")]))
    await connection.send(b"ffffffffffffffff\r\n" + b"a" * 256 * 1024)
    await trio.sleep_forever()


async def absurd_content_length(connection: RawConnection) -> None:
    await connection.next_request()
    await connection.send(response_head(200, [("Content-Length", str(10**30))]) + b"a" * 1000)
    await trio.sleep_forever()


async def huge_content_length_then_close(connection: RawConnection) -> None:
    await connection.next_request()
    await connection.send(response_head(200, [("Content-Length", str(2**62))]) + b"a" * 1000)


async def never_answers(connection: RawConnection) -> None:
    await connection.next_request()
    await trio.sleep_forever()


async def never_reads(connection: RawConnection) -> None:
    await trio.sleep_forever()


async def head_then_silence(connection: RawConnection) -> None:
    await connection.next_request()
    await connection.send(response_head(200, [("Content-Length", "100")]) + b"0123456789")
    await trio.sleep_forever()


async def endless_interim_responses(connection: RawConnection) -> None:
    """``100 Continue`` after ``100 Continue``, forever: each one is "activity"."""
    await connection.next_request()
    await send_for_a_while(connection, b"HTTP/1.1 100 Continue\r\n\r\n" * 100)


Hostile = Callable[[RawConnection], Awaitable[None]]
#: Each hostile server and the error our client must end with.
CASES: list[tuple[Hostile, type[trio_webkit.HTTPError]]] = [
    (endless_headers, trio_webkit.ProtocolError),
    (endless_header_line, trio_webkit.ProtocolError),
    (endless_status_line, trio_webkit.ProtocolError),
    (absurd_chunk_size, trio_webkit.ProtocolError),
    (endless_chunk_extension, trio_webkit.ProtocolError),
    (huge_chunk_then_close, trio_webkit.IncompleteBody),
    (huge_chunk_then_silence, trio_webkit.ReadTimeout),
    (absurd_content_length, trio_webkit.ProtocolError),
    (huge_content_length_then_close, trio_webkit.IncompleteBody),
    (never_answers, trio_webkit.ReadTimeout),
    (never_reads, trio_webkit.ReadTimeout),
    (head_then_silence, trio_webkit.ReadTimeout),
    (endless_interim_responses, trio_webkit.ProtocolError),
]


@pytest.mark.parametrize(("hostile", "expected"), CASES, ids=[case[0].__name__ for case in CASES])
async def test_hostile_server_ends_in_a_typed_error_and_the_pool_stays_consistent(
    setup: Setup, hostile: Hostile, expected: type[trio_webkit.HTTPError]
) -> None:
    async with raw_server(hostile) as server:
        url = f"{server.url}/hostile"
        with trio.fail_after(GUARD), pytest.raises(trio_webkit.HTTPError) as caught:
            await setup.client.get(url)
    error = caught.value
    assert isinstance(error, expected), repr(error)
    assert str(error).startswith(f"GET {url}: ")
    assert error.phase == "read"
    if expected is trio_webkit.IncompleteBody:
        assert isinstance(error, trio_webkit.IncompleteBody)
        assert 0 < error.received < MAX_HOSTILE_BYTES
    await assert_pool_consistent(setup)


@pytest.mark.parametrize("hostile", [absurd_chunk_size, endless_chunk_extension])
async def test_malformed_chunk_framing_is_a_protocol_error_not_an_incomplete_body(
    setup: Setup, hostile: Hostile
) -> None:
    """The server broke the framing; the connection did not end early.

    :class:`IncompleteBody` means "the connection ended before the body
    did" (a caller may retry or resume with a Range); a garbage chunk
    header is no such thing.
    """
    async with raw_server(hostile) as server:
        with trio.fail_after(GUARD), pytest.raises(trio_webkit.ProtocolError) as caught:
            await setup.client.get(server.url + "/")
    assert not isinstance(caught.value, trio_webkit.IncompleteBody), repr(caught.value)
    await assert_pool_consistent(setup)


async def test_hostile_stream_iteration_ends_in_a_typed_error_too(setup: Setup) -> None:
    """The same failure met in ``stream()`` / ``iter_bytes()`` rather than ``get()``."""
    received = 0
    async with raw_server(huge_chunk_then_silence) as server:
        with trio.fail_after(GUARD), pytest.raises(trio_webkit.ReadTimeout):
            async with setup.client.stream("GET", server.url + "/") as response:
                async for chunk in response.iter_bytes():
                    received += len(chunk)
    assert received == 256 * 1024
    await assert_pool_consistent(setup)


# -- a body longer than its Content-Length -------------------------------------------------------
SMUGGLED = response_head(200, [("Content-Length", "8")]) + b"SMUGGLED"


@pytest.mark.parametrize("extra_later", [False, True], ids=["same-write", "later-write"])
async def test_bytes_past_the_content_length_never_answer_the_next_request(
    setup: Setup, extra_later: bool
) -> None:
    """The first connection sends ``hello`` plus a whole extra response.

    The first request gets ``hello`` (its Content-Length says so); the
    next request must not read the extra response from that connection:
    it goes out on a fresh one and gets its own answer.
    """
    sent_extra = trio.Event()

    async def too_long(connection: RawConnection) -> None:
        while await connection.next_request() is not None:
            if connection.index > 0:
                await connection.send(response_head(200, [("Content-Length", "5")]) + b"fresh")
                continue
            await connection.send(response_head(200, [("Content-Length", "5")]) + b"hello")
            if extra_later:
                await trio.sleep(0.1)
            await connection.send(SMUGGLED)
            sent_extra.set()

    client = setup.client
    async with raw_server(too_long) as server:
        with trio.fail_after(GUARD):
            first = await client.get(server.url + "/1")
            await sent_extra.wait()
            second = await client.get(server.url + "/2")
    assert (first.status, first.content) == (200, b"hello")
    assert (second.status, second.content) == (200, b"fresh")
    assert server.connections == 2
    await assert_pool_consistent(setup)


# -- redirects without end -----------------------------------------------------------------------
@pytest.mark.parametrize("big_bodies", [False, True], ids=["small", "big-bodies"])
async def test_an_endless_chain_of_new_redirects_stops_at_max_redirects(
    setup: Setup, big_bodies: bool
) -> None:
    """Every redirect points to a new URL (so no loop is ever seen).

    With big redirect bodies (more than the client drains) each redirect
    costs a fresh connection, which must be closed, not leaked: the client
    has a single slot.
    """
    body = b"x" * (256 * 1024 if big_bodies else 10)

    async def endless(connection: RawConnection) -> None:
        while (request := await connection.next_request()) is not None:
            step = int(request.target.rsplit("/", 1)[1]) + 1
            head = response_head(
                302, [("Location", f"/r/{step}"), ("Content-Length", str(len(body)))]
            )
            await connection.send(head + body)

    client = trio_webkit.Client(timeout=READ_TIMEOUT, max_connections=1, max_redirects=5)
    async with raw_server(endless) as server, client:
        with trio.fail_after(GUARD), pytest.raises(trio_webkit.TooManyRedirects) as caught:
            await client.get(server.url + "/r/0")
        assert [r.status for r in caught.value.history] == [302] * 6
        assert len(server.requests) == 6
        assert server.connections == (6 if big_bodies else 1)
        await assert_pool_consistent(Setup(client, setup.good))


async def test_a_redirect_loop_through_two_servers_is_detected(setup: Setup) -> None:
    ports: list[int] = []

    async def bounce(connection: RawConnection) -> None:
        while await connection.next_request() is not None:
            other = ports[1] if connection.stream.socket.getsockname()[1] == ports[0] else ports[0]
            location = f"http://127.0.0.1:{other}/loop"
            await connection.send(
                response_head(301, [("Location", location), ("Content-Length", "0")])
            )

    async with raw_server(bounce) as one, raw_server(bounce) as two:
        ports.extend([one.port, two.port])
        with trio.fail_after(GUARD), pytest.raises(trio_webkit.TooManyRedirects) as caught:
            await setup.client.get(one.url + "/loop")
    assert "loop" in str(caught.value)
    assert len(caught.value.history) == 2
    await assert_pool_consistent(setup)
