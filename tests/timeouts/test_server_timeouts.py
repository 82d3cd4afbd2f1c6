"""Every server timeout, on memory streams with trio's autojump clock (no real sleeping).

Each test runs twice: with trio's own deadlines (a lone ``serve_connection``)
and with the server's :class:`Timekeeper`, which enforces deadlines from one
task at a resolution of 0.1 s (never early, at most two ticks late).
"""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing

from trio_webkit import Request, Response, Server, ServerConfig
from trio_webkit._deadlines import Timekeeper

from support.memory import H11Client, MemoryListener, read_until_closed, start_connection, status_of

LATE = 0.25  # the most a Timekeeper deadline may fire late


@pytest.fixture(params=["trio-deadlines", "timekeeper"])
async def timekeeper(
    request: pytest.FixtureRequest, nursery: trio.Nursery
) -> AsyncIterator[Timekeeper | None]:
    if request.param == "trio-deadlines":
        yield None
        return
    keeper = Timekeeper()
    await nursery.start(keeper.run)
    yield keeper


def config(**limits: float) -> ServerConfig:
    return ServerConfig(access_log=False, **limits)  # type: ignore[arg-type]


async def hello(request: Request) -> Response:
    return Response(200, body="hello")


async def test_silent_new_connection_closes_after_header_timeout(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, timekeeper: Timekeeper | None
) -> None:
    start = trio.current_time()
    served = start_connection(nursery, hello, config(header_timeout=3), timekeeper=timekeeper)
    assert await read_until_closed(served.client) == b""  # closed quietly: nothing was asked
    assert 3 <= trio.current_time() - start <= 3 + LATE


async def test_slowloris_is_cut_by_header_timeout_as_a_total(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, timekeeper: Timekeeper | None
) -> None:
    served = start_connection(nursery, hello, config(header_timeout=5), timekeeper=timekeeper)
    start = trio.current_time()

    async def trickle() -> None:
        head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
        try:
            for byte in head:  # one byte a second: never silent for long
                await served.client.send_all(bytes([byte]))
                await trio.sleep(1)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    nursery.start_soon(trickle)
    answer = await served.client.receive_some()
    assert 5 <= trio.current_time() - start <= 5 + LATE
    assert status_of(answer) == 408
    await served.finished.wait()  # after a bounded linger, the connection is gone


async def test_keepalive_timeout_closes_an_idle_connection_quietly(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, timekeeper: Timekeeper | None
) -> None:
    limits = config(keepalive_timeout=2, header_timeout=30)
    served = start_connection(nursery, hello, limits, timekeeper=timekeeper)
    client = H11Client(served.client)
    assert (await client.request()).status == 200
    await trio.sleep(1.5)
    assert (await client.request()).status == 200  # still open after 1.5 s idle
    start = trio.current_time()
    assert await read_until_closed(served.client) == b""
    assert 2 <= trio.current_time() - start <= 2 + LATE


async def test_body_timeout_is_inactivity_not_a_total(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, timekeeper: Timekeeper | None
) -> None:
    async def echo(request: Request) -> Response:
        return Response(200, body=await request.read())

    served = start_connection(nursery, echo, config(body_timeout=2), timekeeper=timekeeper)
    await served.client.send_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
    for byte in b"0123456789":  # 10 s in all, never 2 s silent
        await trio.sleep(1.5)
        await served.client.send_all(bytes([byte]))
    reply = await served.client.receive_some()
    assert status_of(reply) == 200 and reply.endswith(b"0123456789")


async def test_stalled_body_gets_408(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, timekeeper: Timekeeper | None
) -> None:
    cancelled = False

    async def echo(request: Request) -> Response:
        nonlocal cancelled
        try:
            return Response(200, body=await request.read())
        except trio.Cancelled:
            cancelled = True
            raise

    served = start_connection(nursery, echo, config(body_timeout=2), timekeeper=timekeeper)
    await served.client.send_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12")
    start = trio.current_time()
    assert status_of(await read_until_closed(served.client)) == 408
    assert 2 <= trio.current_time() - start <= 2 + LATE
    assert cancelled


async def test_slow_handler_is_not_limited_by_server_timeouts(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, timekeeper: Timekeeper | None
) -> None:
    async def slow(request: Request) -> Response:
        await trio.sleep(100)
        return Response(200, body="done")

    limits = config(header_timeout=1, keepalive_timeout=1, body_timeout=1, send_timeout=1)
    served = start_connection(nursery, slow, limits, timekeeper=timekeeper)
    reply = await H11Client(served.client).request()
    assert reply.body == b"done"


async def test_client_that_stops_reading_is_cut_by_send_timeout(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, timekeeper: Timekeeper | None
) -> None:
    producer_cancelled = trio.Event()

    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        try:
            while True:
                await send.send(b"x" * 65536)
        except trio.Cancelled:
            producer_cancelled.set()
            raise

    async def handler(request: Request) -> Response:
        return Response(200, producer=producer)

    served = start_connection(
        nursery, handler, config(send_timeout=4), lockstep=True, timekeeper=timekeeper
    )
    await served.client.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await served.client.receive_some(1000)  # reads a little, then stops
    start = trio.current_time()
    await served.finished.wait()
    assert 4 <= trio.current_time() - start <= 4 + LATE
    assert producer_cancelled.is_set()


async def test_a_callers_cancel_scope_ends_the_connection(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    from trio_webkit import serve_connection

    client, server = trio.testing.memory_stream_pair()
    with trio.move_on_after(1) as scope:
        await serve_connection(server, hello, config(header_timeout=100))
    assert scope.cancelled_caught  # the caller's own deadline, not swallowed
    await client.aclose()


# -- a whole Server on memory listeners ----------------------------------------


async def test_shutdown_closes_idle_and_finishes_in_flight(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    handler_started = trio.Event()

    async def slow(request: Request) -> Response:
        handler_started.set()
        await trio.sleep(3)
        return Response(200, body="finished")

    listener = MemoryListener()
    server = Server(slow, config(keepalive_timeout=60, header_timeout=60, shutdown_timeout=10))
    stopped = trio.Event()

    async def run_server() -> None:
        await server.serve_listeners([listener])
        stopped.set()

    nursery.start_soon(run_server)
    idle = await listener.connect()
    busy = await listener.connect()
    await busy.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await handler_started.wait()
    assert server.statistics().connections_open == 2

    start = trio.current_time()
    await server.shutdown()
    assert stopped.is_set()
    assert 3 <= trio.current_time() - start < 10  # waited for the request, not the deadline
    assert await read_until_closed(idle) == b""
    raw = await read_until_closed(busy)
    assert raw.endswith(b"finished") and b"Connection: close" in raw
    assert listener.closed
    assert server.statistics().connections_open == 0


async def test_shutdown_timeout_cancels_stuck_requests(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    cancelled = trio.Event()

    async def stuck(request: Request) -> Response:
        try:
            await trio.sleep_forever()
        finally:
            cancelled.set()

    listener = MemoryListener()
    server = Server(stuck, config(shutdown_timeout=5))
    nursery.start_soon(server.serve_listeners, [listener])
    stream = await listener.connect()
    await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await trio.testing.wait_all_tasks_blocked()
    start = trio.current_time()
    await server.shutdown()
    assert 5 <= trio.current_time() - start <= 5 + LATE
    assert cancelled.is_set()


async def test_max_connections_pauses_accepting(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    listener = MemoryListener()
    server = Server(hello, config(max_connections=2, header_timeout=100))
    nursery.start_soon(server.serve_listeners, [listener])
    first, second, third = [await listener.connect() for _ in range(3)]
    await trio.testing.wait_all_tasks_blocked()
    assert server.statistics().connections_open == 2  # the third waits in the "backlog"
    await first.aclose()
    await trio.testing.wait_all_tasks_blocked()
    assert server.statistics().connections_open == 2  # the third got the freed slot
    await third.send_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(await read_until_closed(third)) == 200
    await server.shutdown()
    await second.aclose()


class ExhaustedListener(MemoryListener):
    """Its next ``failures`` accepts fail with EMFILE, as a process out of fds."""

    failures = 0

    async def accept(self) -> trio.abc.Stream:
        if self.failures:
            self.failures -= 1
            raise OSError(errno.EMFILE, "Too many open files")
        return await super().accept()


async def close_request_answered(listener: ExhaustedListener) -> None:
    stream = await listener.connect()
    await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(await read_until_closed(stream)) == 200


def emfile_lines(caplog: pytest.LogCaptureFixture) -> int:
    return sum("EMFILE" in record.getMessage() for record in caplog.records)


async def test_emfile_between_accepts_is_one_burst_until_a_quiet_second(
    autojump_clock: trio.testing.MockClock,
    nursery: trio.Nursery,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Failures, a success, failures again within a second: one log line.
    After a quiet second, a new failure is a new burst: a second line."""
    listener = ExhaustedListener()
    nursery.start_soon(Server(hello, config()).serve_listeners, [listener])
    listener.failures = 3
    await close_request_answered(listener)
    listener.failures = 3  # again, at once: the same burst
    await close_request_answered(listener)
    assert emfile_lines(caplog) == 1
    await trio.sleep(2)  # quiet
    await close_request_answered(listener)
    listener.failures = 3
    await close_request_answered(listener)
    assert emfile_lines(caplog) == 2


async def test_out_of_file_descriptors_pauses_accepting_instead_of_crashing(
    autojump_clock: trio.testing.MockClock,
    nursery: trio.Nursery,
    caplog: pytest.LogCaptureFixture,
) -> None:
    listener = ExhaustedListener()
    listener.failures = 5
    server = Server(hello, config())
    nursery.start_soon(server.serve_listeners, [listener])
    await close_request_answered(listener)
    assert listener.failures == 0
    assert emfile_lines(caplog) == 1  # one log line per burst, not one per failure
    await server.shutdown()
