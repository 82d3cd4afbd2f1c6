"""Client timeouts and cancellation, on memory streams with the autojump clock.

The client's connections are redirected to memory streams served by our
own server protocol (``serve_connection``), so every phase can be stalled on
purpose and time jumps instead of passing. After each timeout or caller
cancellation the pool must be consistent: no active connection, no leaked
slot (the next request on a one-connection client succeeds), and a
connection cut mid-response is never reused.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

import trio_webkit
from trio_webkit import Client, Request, Response, ServerConfig, Timeout, _connect, _pool
from trio_webkit._server_connection import serve_connection

URL = "http://test.invalid/"


def route_connections(
    monkeypatch: pytest.MonkeyPatch,
    nursery: trio.Nursery,
    handler: trio_webkit.Handler,
    *,
    lockstep: bool = False,
) -> list[trio.abc.Stream]:
    """Make the client's connections memory streams served by ``handler``."""
    opened: list[trio.abc.Stream] = []
    config = ServerConfig(access_log=False, keepalive_timeout=1000, header_timeout=1000)

    async def open_stream(url: object, **_: object) -> trio.abc.Stream:
        pair = trio.testing.lockstep_stream_pair if lockstep else trio.testing.memory_stream_pair
        client_end, server_end = pair()
        nursery.start_soon(serve_connection, server_end, handler, config)
        opened.append(client_end)
        return client_end

    monkeypatch.setattr(_pool, "open_http_stream", open_stream)
    return opened


async def hello(request: Request) -> Response:
    return Response(200, body="hello")


def dispatch(slow: trio_webkit.Handler) -> trio_webkit.Handler:
    """``/slow`` goes to ``slow``; everything else says hello."""

    async def handler(request: Request) -> Response:
        return await (slow if request.path == "/slow" else hello)(request)

    return handler


async def sleep_forever(request: Request) -> Response:
    await trio.sleep_forever()
    raise AssertionError("unreachable")


def assert_pool_clean(client: Client) -> None:
    stats = client.statistics()
    assert stats.connections_active == 0


async def test_read_timeout_names_the_phase_and_leaves_the_pool_clean(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    route_connections(monkeypatch, nursery, dispatch(sleep_forever))
    async with Client(timeout=Timeout(5, read=3), max_connections=1) as client:
        start = trio.current_time()
        with pytest.raises(trio_webkit.ReadTimeout) as info:
            await client.get(URL + "slow")
        assert trio.current_time() - start == pytest.approx(3)
        assert isinstance(info.value, TimeoutError)
        assert str(info.value).startswith(f"GET {URL}slow: ")
        assert info.value.phase == "read"
        assert_pool_clean(client)
        assert (await client.get(URL)).text == "hello"  # the only slot was released


async def test_read_timeout_is_inactivity_not_a_total(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def trickle(request: Request) -> Response:
        async def producer(send: trio.MemorySendChannel[bytes]) -> None:
            for _ in range(10):  # 20 s in all, never 3 s silent
                await trio.sleep(2)
                await send.send(b"x")

        return Response(200, producer=producer)

    route_connections(monkeypatch, nursery, trickle)
    async with Client(timeout=Timeout(5, read=3)) as client:
        assert (await client.get(URL)).content == b"x" * 10


async def test_a_total_deadline_is_the_callers_fail_after(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def trickle(request: Request) -> Response:
        async def producer(send: trio.MemorySendChannel[bytes]) -> None:
            while True:
                await trio.sleep(1)
                await send.send(b"x")

        return Response(200, producer=producer) if request.path == "/slow" else Response(200)

    opened = route_connections(monkeypatch, nursery, trickle)
    async with Client(timeout=Timeout(5), max_connections=1) as client:
        with pytest.raises(trio.TooSlowError):
            with trio.fail_after(7.5):
                await client.get(URL + "slow")
        assert_pool_clean(client)
        assert (await client.get(URL)).status == 200
        assert len(opened) == 2  # the connection cut mid-body was not reused


async def test_write_timeout_when_the_server_reads_nothing(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def open_stream(url: object, **_: object) -> trio.abc.Stream:
        client_end, _server_end = trio.testing.lockstep_stream_pair()
        keep.append(_server_end)  # never read from
        return client_end

    keep: list[trio.abc.Stream] = []
    monkeypatch.setattr(_pool, "open_http_stream", open_stream)
    async with Client(timeout=Timeout(5, write=2)) as client:
        with pytest.raises(trio_webkit.WriteTimeout) as info:
            await client.post(URL, body=b"x" * 1_000_000)
        assert info.value.phase == "write"
        assert_pool_clean(client)


async def test_pool_timeout_when_every_slot_is_busy(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    route_connections(monkeypatch, nursery, hello)
    async with Client(timeout=Timeout(5, pool=2), max_connections=1) as client:
        async with client.stream("GET", URL) as held:
            start = trio.current_time()
            with pytest.raises(trio_webkit.PoolTimeout) as info:
                await client.get(URL)
            assert trio.current_time() - start == pytest.approx(2)
            assert info.value.phase == "pool"
            await held.read()
        assert (await client.get(URL)).text == "hello"


async def test_per_host_limit_queues_requests(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    active = 0
    most = 0

    async def slow(request: Request) -> Response:
        nonlocal active, most
        active += 1
        most = max(most, active)
        await trio.sleep(1)
        active -= 1
        return Response(200)

    route_connections(monkeypatch, nursery, slow)
    client = Client(max_connections=10, max_connections_per_host=2)
    async with client, trio.open_nursery() as requests:
        for _ in range(6):
            requests.start_soon(client.get, URL)
    assert most == 2


async def test_connect_timeout(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable(host: str, port: int) -> trio.abc.Stream:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    monkeypatch.setattr(_connect.trio, "open_tcp_stream", unreachable)
    async with Client(timeout=Timeout(5, connect=4)) as client:
        with pytest.raises(trio_webkit.ConnectTimeout) as info:
            await client.get("http://10.255.255.1/")
        assert info.value.phase == "connect"
        assert str(info.value).startswith("GET http://10.255.255.1/: ")
        assert_pool_clean(client)


@pytest.mark.parametrize("phase", ["head", "body", "pool"])
async def test_caller_cancellation_in_any_phase_leaves_the_pool_usable(
    autojump_clock: trio.testing.MockClock,
    nursery: trio.Nursery,
    monkeypatch: pytest.MonkeyPatch,
    phase: str,
) -> None:
    async def handler(request: Request) -> Response:
        if request.path != "/slow":
            return Response(200, body="ok")
        if phase == "head":
            await trio.sleep(100)

        async def producer(send: trio.MemorySendChannel[bytes]) -> None:
            await send.send(b"first")
            await trio.sleep(100)
            await send.send(b"never")

        return Response(200, producer=producer)

    route_connections(monkeypatch, nursery, handler)
    async with Client(timeout=Timeout(None), max_connections=1) as client:
        with trio.move_on_after(10) as scope:
            if phase == "pool":
                async with client.stream("GET", URL + "slow"):
                    await client.get(URL)  # waits for the only slot, forever
            else:
                await client.get(URL + "slow")
        assert scope.cancelled_caught
        assert_pool_clean(client)
        assert (await client.get(URL)).text == "ok"


async def test_many_cancelled_requests_do_not_degrade_the_pool(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    # httpcore#785: cancel a nursery of 100 requests, then the pool must still work.
    route_connections(monkeypatch, nursery, dispatch(sleep_forever))
    async with Client(timeout=Timeout(None), max_connections=5) as client:
        with trio.move_on_after(1):
            async with trio.open_nursery() as requests:
                for _ in range(100):
                    requests.start_soon(client.get, URL + "slow")
        assert_pool_clean(client)
        with trio.fail_after(1):
            assert (await client.get(URL)).text == "hello"
