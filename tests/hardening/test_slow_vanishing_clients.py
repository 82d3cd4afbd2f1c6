"""Slow and vanishing clients against a real server over loopback (issue 8, point 3).

The server runs in this process (``Server.serve_tcp`` on port 0), so that the
test can count its tasks (walking Trio's task tree), its descriptors
(``/proc/self/fd``) and its live objects. Real sockets run on the real clock:
timeouts are short (1-2 s), every test has a ``fail_after`` guard, and no
test asserts a duration; the client side only bounds each normal request
with its own ``Timeout``, so a starved normal client fails as a typed error.

How many vanishing clients: ``VANISHING_CLIENTS`` (10,000) run in about
10 s on a 2-core machine, so CI runs all of them; the soak
(``tests/soak``) repeats the same kinds of clients for minutes.
"""

from __future__ import annotations

import gc
import os
import socket
from collections import Counter

import attrs
import h11
import pytest
import trio

import trio_webkit

from support.loopback import fail_after, open_connection, running_server
from support.misbehaving_clients import vanishing_kinds

SLOWLORIS_CONNECTIONS = 500
VANISHING_CLIENTS = 10_000
#: Vanishing clients in flight at once (the server sees bursts of this size).
CONCURRENCY = 50
#: RSS after the 10,000 may exceed the RSS after a warm-up round by this
#: much. Python's allocator keeps freed arenas and trio's run queue and
#: hash tables keep the size of their largest burst, so RSS is not expected
#: to return to the byte; a leak of even 1 KiB per connection would add
#: about 10 MiB and fail, and the exact checks (tasks, descriptors, live
#: connection objects) catch smaller leaks.
RSS_TOLERANCE = 8 * 1024 * 1024


@attrs.define
class App:
    """``/endless``: a producer that never ends by itself; ``/upload`` reads the body; hello."""

    producers_started: int = 0
    producers_cancelled: int = 0
    bytes_produced: int = 0
    cancelled: trio.Event = attrs.Factory(trio.Event)

    async def handler(self, request: trio_webkit.Request) -> trio_webkit.Response:
        if request.path == "/endless":
            return trio_webkit.Response(200, producer=self._endless)
        if request.path == "/upload":
            await request.read()  # the client vanishes midway: IncompleteBody
        return trio_webkit.Response(200, body=b"hello")

    async def _endless(self, send: trio.MemorySendChannel[bytes]) -> None:
        self.producers_started += 1
        chunk = b"x" * 65536
        try:
            while True:
                await send.send(chunk)
                self.bytes_produced += len(chunk)
        except trio.Cancelled:
            self.producers_cancelled += 1
            self.cancelled.set()
            raise


@pytest.fixture
async def app() -> App:
    return App()


def count_tasks() -> int:
    """Every task alive in this Trio run (the server's and the test's)."""

    def walk(task: trio.lowlevel.Task) -> int:
        return 1 + sum(
            walk(child) for nursery in task.child_nurseries for child in nursery.child_tasks
        )

    return walk(trio.lowlevel.current_root_task())


def count_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def live_objects() -> Counter[str]:
    """Live objects of trio_webkit's classes, socket streams and h11 parsers, by class.

    (Counted by module rather than by importing private classes, so that
    the count follows the server's code however its classes are named.)
    """
    gc.collect()
    counts: Counter[str] = Counter()
    others = (trio.SocketStream, h11.Connection)
    for obj in gc.get_objects():
        kind = type(obj)
        if kind.__module__.startswith("trio_webkit.") or kind in others:
            counts[f"{kind.__module__}.{kind.__qualname__}"] += 1
    return counts


async def wait_until_quiet(server: trio_webkit.Server, tasks: int, *, within: float) -> None:
    """Wait for every connection to end and the task count to fall back to ``tasks``."""
    with trio.move_on_after(within):
        # Polling: the server offers no event for "the last connection ended".
        while server.statistics().connections_open or count_tasks() > tasks:  # noqa: ASYNC110
            await trio.sleep(0.05)


def request(path: str, *, close: bool = False) -> bytes:
    connection = b"Connection: close\r\n" if close else b""
    return b"GET %b HTTP/1.1\r\nHost: t\r\n%b\r\n" % (path.encode(), connection)


# -- 500 slowloris connections ----------------------------------------------------------------
#: Sent at once; then TRICKLE one byte every TRICKLE_PAUSE: 10 s, far past header_timeout.
LORIS_HEAD = b"GET /loris HTTP/1.1\r\nHost: t\r\n"
TRICKLE = b"X-Slow: " + b"a" * 32
TRICKLE_PAUSE = 0.25
HEADER_TIMEOUT = 1.5


@attrs.define
class LorisResult:
    sent: int  # bytes of TRICKLE sent before the server answered
    received: bytes


async def slowloris(port: int, results: list[LorisResult]) -> None:
    """Send a head that never ends, a byte at a time, until the server answers."""
    stream = await open_connection(port)
    async with stream:
        await stream.send_all(LORIS_HEAD)
        received = bytearray()
        answered = trio.Event()

        async def listen() -> None:
            try:
                while data := await stream.receive_some(65536):
                    received.extend(data)
                    answered.set()
            except trio.BrokenResourceError:
                pass
            answered.set()

        sent = 0
        async with trio.open_nursery() as nursery:
            nursery.start_soon(listen)
            for index in range(len(TRICKLE)):
                with trio.move_on_after(TRICKLE_PAUSE):
                    await answered.wait()
                if answered.is_set():
                    break
                await stream.send_all(TRICKLE[index : index + 1])
                sent += 1
            nursery.cancel_scope.deadline = trio.current_time() + 5  # then EOF must follow
        results.append(LorisResult(sent, bytes(received)))


async def keep_requesting(
    url: str, statuses: list[int], done: trio.Event, fresh_connections: bool
) -> None:
    """GET ``url`` every 20 ms until ``done``; each request bounded by a 2 s Timeout."""
    timeout = trio_webkit.Timeout(2.0)
    async with trio_webkit.Client(timeout=timeout) as client:
        while not done.is_set():
            if fresh_connections:
                response = await trio_webkit.get(url, timeout=timeout)
            else:
                response = await client.get(url)
            statuses.append(response.status)
            await trio.sleep(0.02)
        if not fresh_connections:
            assert client.statistics().connections_opened == 1  # one keep-alive connection


@fail_after(30)
async def test_500_slowloris_connections_are_cut_while_a_normal_client_is_served(
    app: App,
) -> None:
    config = trio_webkit.ServerConfig(access_log=False, header_timeout=HEADER_TIMEOUT)
    async with running_server(app.handler, config) as running:
        results: list[LorisResult] = []
        kept_alive: list[int] = []
        fresh: list[int] = []
        most_open = 0
        lorises_done = trio.Event()
        async with trio.open_nursery() as nursery:
            url = running.url + "/normal"
            nursery.start_soon(keep_requesting, url, kept_alive, lorises_done, False)
            nursery.start_soon(keep_requesting, url, fresh, lorises_done, True)
            async with trio.open_nursery() as lorises:
                for _ in range(SLOWLORIS_CONNECTIONS):
                    lorises.start_soon(slowloris, running.port, results)
                while len(results) < SLOWLORIS_CONNECTIONS:
                    most_open = max(most_open, running.server.statistics().connections_open)
                    await trio.sleep(0.05)
            lorises_done.set()
        await wait_until_quiet(running.server, count_tasks(), within=5)
        assert running.server.statistics().connections_open == 0

    assert most_open >= SLOWLORIS_CONNECTIONS  # they were all connected at once
    answers = Counter(result.received[:13] for result in results)
    assert answers == {b"HTTP/1.1 408 ": SLOWLORIS_CONNECTIONS}, answers
    # Cut off by the server, long before the trickle would have ended.
    assert max(result.sent for result in results) < len(TRICKLE)
    # Meanwhile the normal clients, kept-alive and on new connections, were served.
    assert len(kept_alive) >= 10 and set(kept_alive) == {200}, kept_alive
    assert len(fresh) >= 10 and set(fresh) == {200}, fresh


# -- 10,000 vanishing clients -------------------------------------------------------------------
#: Connect and close; half a head; half a body; half of an endless response.
VANISHING_KINDS = vanishing_kinds("/endless")


async def vanishing_clients(port: int, count: int) -> None:
    """``count`` clients, of every kind in turn, ``CONCURRENCY`` at a time."""
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < count:
            index = next_index
            next_index += 1
            await VANISHING_KINDS[index % len(VANISHING_KINDS)](port)

    async with trio.open_nursery() as nursery:
        for _ in range(CONCURRENCY):
            nursery.start_soon(worker)


@attrs.frozen
class Footprint:
    tasks: int
    fds: int
    rss: int
    objects: Counter[str]


def footprint() -> Footprint:
    return Footprint(count_tasks(), count_fds(), rss(), live_objects())


@fail_after(90)
async def test_10000_vanishing_clients_leave_no_trace(app: App) -> None:
    # header/keepalive timeouts far longer than the test's waits: every
    # connection must end because its client vanished, not by timing out.
    config = trio_webkit.ServerConfig(access_log=False, header_timeout=60, keepalive_timeout=60)
    async with running_server(app.handler, config) as running:
        server = running.server
        tasks_idle = count_tasks()
        warm_up = 1000  # first bursts grow caches and the allocator's arenas
        await vanishing_clients(running.port, warm_up)
        await wait_until_quiet(server, tasks_idle, within=10)
        before = footprint()

        await vanishing_clients(running.port, VANISHING_CLIENTS)
        await wait_until_quiet(server, tasks_idle, within=10)
        after = footprint()

        stats = server.statistics()
        assert stats.connections_total == warm_up + VANISHING_CLIENTS
        assert (stats.connections_open, stats.requests_active) == (0, 0)
        # Still serving.
        response = await trio_webkit.get(running.url + "/after")
        assert (response.status, response.content) == (200, b"hello")

    assert after.tasks == before.tasks == tasks_idle
    assert after.fds == before.fds
    assert after.objects == before.objects, (before.objects, after.objects)
    assert not [kind for kind in after.objects if "_server_connection." in kind], after.objects
    assert after.rss - before.rss < RSS_TOLERANCE, (before.rss, after.rss)
    # Every endless response's producer was cancelled when its client vanished.
    mid_response = (warm_up + VANISHING_CLIENTS) // len(VANISHING_KINDS)
    assert app.producers_started == app.producers_cancelled == mid_response


# -- a client that never reads ------------------------------------------------------------------
@fail_after(30)
async def test_a_client_that_never_reads_is_cut_by_send_timeout_and_its_producer_cancelled(
    app: App,
) -> None:
    config = trio_webkit.ServerConfig(access_log=False, send_timeout=1.0)
    async with running_server(app.handler, config) as running:
        stalled = await open_connection(running.port)
        # A small receive buffer: the kernel holds less for a client that reads nothing.
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        async with stalled:
            await stalled.send_all(request("/endless"))
            while not app.producers_started:  # noqa: ASYNC110 -- the handler's side effect
                await trio.sleep(0.01)
            # While it is stuck, everybody else is served.
            response = await trio_webkit.get(running.url + "/other")
            assert response.status == 200
            with trio.fail_after(10):
                await app.cancelled.wait()
            assert app.producers_started == app.producers_cancelled == 1
            # Backpressure held the producer: it made what the buffers hold, not more.
            assert app.bytes_produced < 32 * 1024 * 1024, app.bytes_produced
            # The server aborted the connection: what is buffered, then the end.
            received = 0
            with trio.fail_after(10):
                try:
                    while data := await stalled.receive_some(1 << 20):
                        received += len(data)
                except trio.BrokenResourceError:
                    pass
            assert 0 < received <= app.bytes_produced + 1024
        with trio.fail_after(5):
            while running.server.statistics().connections_open:  # noqa: ASYNC110
                await trio.sleep(0.02)
        assert (await trio_webkit.get(running.url + "/after")).status == 200
