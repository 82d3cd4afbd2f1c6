"""Soak: a bounded mixed workload against a server subprocess (issue 8, point 7).

Run long: ``pytest tests/soak --soak-seconds 180 -s -o faulthandler_timeout=0``
(``-s`` shows the table; the ``-o`` stops pytest's hang detector from
dumping every thread's stack after 60 s). Without the option this runs a
15 s version in the normal suite.

The server (:mod:`support.server_process`) runs with short timeouts
(``header_timeout`` 1 s, ``keepalive_timeout`` and ``send_timeout`` 2 s)
while these clients loop until the deadline, each iteration under a 30 s
guard:

=============  ======================================================  =================
worker         what it does                                            counted as
=============  ======================================================  =================
keep-alive     two ``Client`` s, GET ``/hello`` again and again         requests
close          raw GET with ``Connection: close``                       requests
pipelined      six requests in one write (GET, HEAD, a 100 KB           requests
               chunked body), read back in order
upload         POST 256 KiB (Content-Length) or 1 MiB (a producer,      requests
               chunked); the server's CRC must match
download       stream a 4 MiB chunked body, CRC checked                 requests
slow reader    read a 1 MiB body 64 KiB every 50 ms (must complete)     requests
slowloris      a head trickled a byte every 0.3 s: must get 408         cut
never reads    GET an endless body, read nothing: send_timeout          cut
               must abort it (then the buffered bytes and EOF)
vanishing      connect/half head/half body/half response, then close    cut
bad request    a bad Content-Length: must get 400                       cut
=============  ======================================================  =================

Anything else (an exception, a wrong body, a 5xx, a guard firing) is an
*unexpected error*. The server's RSS and descriptors are sampled every
second from ``/proc/<pid>``. Checks: no unexpected error; every worker made
progress; after the load, every descriptor is released (exactly back to the
idle count), no producer is left running, and RSS is within
``RSS_TOLERANCE`` of its level after the warm-up (the first fifth of the
run, at most 5 s), which grows the allocator's arenas to their working size.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import pytest
import trio

import trio_webkit

from support.loopback import open_connection, parse_responses, read_until_eof
from support.misbehaving_clients import vanishing_kinds
from support.server_process import ServerProcess, pattern, server_process

MiB = 1 << 20
SERVER_OPTIONS = (
    "--header-timeout",
    "1",
    "--keepalive-timeout",
    "2",
    "--send-timeout",
    "2",
    "--max-body-bytes",
    str(4 * MiB),
)
ITERATION_GUARD = 30.0
#: The server's RSS after the load may exceed its RSS after the warm-up by
#: this much: the allocator keeps some freed memory and the workload's
#: peaks (a few dozen connections, 64 KiB buffers each) vary from run to
#: run. A leak of even 100 bytes per request (hundreds of thousands of
#: requests in three minutes) would exceed it.
RSS_TOLERANCE = 16 * MiB
DOWNLOAD = 4 * MiB
DOWNLOAD_CRC = zlib.crc32(pattern(DOWNLOAD))
UPLOAD = pattern(256 * 1024)
#: Sent in one write; the last one closes the connection.
PIPELINE = [
    ("GET", b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"),
    ("GET", b"GET /stream?size=100000 HTTP/1.1\r\nHost: t\r\n\r\n"),
    ("HEAD", b"HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n"),
    ("POST", b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"),
    ("GET", b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"),
    ("GET", b"GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
]


@attrs.define
class Tally:
    requests: Counter[str] = attrs.Factory(Counter)
    cut: Counter[str] = attrs.Factory(Counter)
    errors: list[str] = attrs.Factory(list)


@attrs.frozen
class Sample:
    seconds: float
    requests: int
    errors: int
    cut: int
    rss: int
    fds: int
    connections: int


# -- the workers ---------------------------------------------------------------------------------
class Workload:
    def __init__(self, running: ServerProcess, tally: Tally) -> None:
        self.running = running
        self.port = running.port
        self.url = running.url
        self.tally = tally
        self.vanishing = vanishing_kinds("/stream")
        self.turn = 0

    async def keep_alive(self, client: trio_webkit.Client) -> None:
        response = await client.get(self.url + "/hello")
        assert (response.status, response.content) == (200, b"hello"), response
        self.tally.requests["keep-alive"] += 1

    async def close(self) -> None:
        request = b"GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        (response,) = await self._raw(request, ["GET"])
        assert (response.status, response.body) == (200, b"hello"), response
        self.tally.requests["close"] += 1

    async def pipelined(self) -> None:
        data = b"".join(request for _, request in PIPELINE)
        responses = await self._raw(data, [method for method, _ in PIPELINE])
        assert [r.status for r in responses] == [200] * len(PIPELINE), responses
        assert all(r.complete for r in responses)
        assert responses[1].body == pattern(100000)
        assert responses[2].body == b""
        assert responses[3].body == f"5 {zlib.crc32(b'hello')}".encode()
        self.tally.requests["pipelined"] += len(PIPELINE)

    async def upload(self, client: trio_webkit.Client) -> None:
        self.turn += 1
        if self.turn % 2:
            body: Any = UPLOAD
            size, crc = len(UPLOAD), zlib.crc32(UPLOAD)
        else:

            async def body(send: trio.MemorySendChannel[bytes]) -> None:
                for _ in range(4):
                    await send.send(UPLOAD)

            size, crc = 4 * len(UPLOAD), zlib.crc32(UPLOAD * 4)
        response = await client.post(self.url + "/upload", body=body)
        assert (response.status, response.text) == (200, f"{size} {crc}"), response
        self.tally.requests["upload"] += 1

    async def download(self, client: trio_webkit.Client) -> None:
        size, crc = 0, 0
        async with client.stream("GET", f"{self.url}/stream?size={DOWNLOAD}") as response:
            assert response.status == 200
            async for chunk in response.iter_bytes():
                size += len(chunk)
                crc = zlib.crc32(chunk, crc)
        assert (size, crc) == (DOWNLOAD, DOWNLOAD_CRC)
        self.tally.requests["download"] += 1

    async def slow_reader(self) -> None:
        stream = await open_connection(self.port)
        async with stream:
            request = b"GET /stream?size=1048576 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
            await stream.send_all(request)
            received = bytearray()
            while data := await stream.receive_some(65536):
                received += data
                await trio.sleep(0.05)
        (response,) = parse_responses(bytes(received))
        assert response.complete and response.body == pattern(MiB)
        self.tally.requests["slow reader"] += 1

    async def slowloris(self) -> None:
        stream = await open_connection(self.port)
        async with stream:
            await stream.send_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n")
            answer = b""
            for byte in b"X-Slow: aaaaaaaaaaaaaaaaaaaaa":  # 9 s at this pace: never done
                with trio.move_on_after(0.3):
                    answer = await stream.receive_some(65536)
                if answer:
                    break
                await stream.send_all(bytes([byte]))
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        self.tally.cut["slowloris"] += 1

    async def never_reads(self) -> None:
        stream = await open_connection(self.port)
        async with stream:
            await stream.send_all(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
            await trio.sleep(3)  # past send_timeout: by now the server has given up
            data = await read_until_eof(stream, within=10)
        assert data.startswith(b"HTTP/1.1 200 ")
        self.tally.cut["never reads"] += 1

    async def vanish(self) -> None:
        self.turn += 1
        await self.vanishing[self.turn % len(self.vanishing)](self.port)
        self.tally.cut["vanishing"] += 1

    async def bad_request(self) -> None:
        request = b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1x\r\n\r\n"
        (response,) = await self._raw(request, ["POST"])
        assert response.status == 400, response
        self.tally.cut["bad request"] += 1

    async def _raw(self, data: bytes, methods: list[str]) -> list[Any]:
        stream = await open_connection(self.port)
        async with stream:
            await stream.send_all(data)
            return parse_responses(await read_until_eof(stream), methods)


async def repeat(
    name: str, once: Callable[[], Awaitable[None]], until: float, tally: Tally
) -> None:
    """Run ``once`` again and again until ``until``; record what it raises."""
    while trio.current_time() < until:
        try:
            with trio.fail_after(ITERATION_GUARD):
                await once()
        except Exception as error:  # an unexpected error: recorded, then go on
            tally.errors.append(f"{name}: {error!r}")
            await trio.sleep(0.1)


async def run_workload(running: ServerProcess, tally: Tally, seconds: float) -> None:
    until = trio.current_time() + seconds
    work = Workload(running, tally)
    timeout = trio_webkit.Timeout(10)
    clients = [trio_webkit.Client(timeout=timeout) for _ in range(4)]
    keep_a, keep_b, uploads, downloads = clients
    workers: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("keep-alive", lambda: work.keep_alive(keep_a)),
        ("keep-alive", lambda: work.keep_alive(keep_b)),
        ("close", work.close),
        ("pipelined", work.pipelined),
        ("upload", lambda: work.upload(uploads)),
        ("download", lambda: work.download(downloads)),
        ("slow reader", work.slow_reader),
        ("slowloris", work.slowloris),
        ("slowloris", work.slowloris),
        ("never reads", work.never_reads),
        ("vanishing", work.vanish),
        ("vanishing", work.vanish),
        ("bad request", work.bad_request),
    ]
    try:
        async with trio.open_nursery() as nursery:
            for name, once in workers:
                nursery.start_soon(repeat, name, once, until, tally)
    finally:
        for client in clients:
            await client.aclose()


# -- measuring -----------------------------------------------------------------------------------
async def connections_open(running: ServerProcess) -> int:
    """Connections the server has open, not counting the one asking."""
    async with trio_webkit.Client(timeout=5) as client:
        stats = (await client.get(running.url + "/stats")).json()
    return int(stats["connections_open"]) - 1


async def sample_every_second(
    running: ServerProcess, tally: Tally, start: float, samples: list[Sample]
) -> None:
    while True:
        samples.append(
            Sample(
                seconds=trio.current_time() - start,
                requests=sum(tally.requests.values()),
                errors=len(tally.errors),
                cut=sum(tally.cut.values()),
                rss=running.rss(),
                fds=running.fd_count(),
                connections=await connections_open(running),
            )
        )
        await trio.sleep(1)


async def wait_until_released(running: ServerProcess, idle_fds: int, *, within: float) -> None:
    """Wait until the server holds no more descriptors than when it was idle."""
    with trio.move_on_after(within):
        while running.fd_count() > idle_fds:  # noqa: ASYNC110 -- another process's state
            await trio.sleep(0.1)


def table(samples: list[Sample], every: float) -> str:
    lines = [
        "  time  requests   req/s  errors    cut  RSS MiB  fds  connections",
    ]
    last: Sample | None = None
    for sample in samples:
        if last is not None and sample.seconds - last.seconds < every and sample is not samples[-1]:
            continue
        rate = "-"
        if last is not None and sample.seconds > last.seconds:
            rate = f"{(sample.requests - last.requests) / (sample.seconds - last.seconds):.0f}"
        lines.append(
            f"{sample.seconds:5.0f}s {sample.requests:9d} {rate:>7} {sample.errors:7d}"
            f" {sample.cut:6d} {sample.rss / MiB:8.1f} {sample.fds:4d} {sample.connections:12d}"
        )
        last = sample
    return "\n".join(lines)


# -- the soak ------------------------------------------------------------------------------------
@pytest.fixture
async def soak_server() -> Any:
    async with server_process(*SERVER_OPTIONS) as running:
        yield running


async def test_soak_mixed_workload(soak_server: ServerProcess, soak_seconds: float) -> None:
    running = soak_server
    warm_up = min(5.0, soak_seconds / 5)
    with trio.fail_after(soak_seconds + 90):
        idle_fds = running.fd_count()
        idle_rss = running.rss()
        await run_workload(running, Tally(), warm_up)  # its errors are checked by the main run
        await wait_until_released(running, idle_fds, within=15)
        baseline_fds, baseline_rss = running.fd_count(), running.rss()

        tally = Tally()
        samples: list[Sample] = []
        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sample_every_second, running, tally, start, samples)
            await run_workload(running, tally, soak_seconds - warm_up)
            nursery.cancel_scope.cancel()
        await wait_until_released(running, idle_fds, within=15)
        final_fds, final_rss = running.fd_count(), running.rss()
        stats = (await trio_webkit.get(running.url + "/stats")).json()

    max_rss = max(sample.rss for sample in samples)
    max_fds = max(sample.fds for sample in samples)
    print()
    print(f"soak: {soak_seconds:.0f} s ({warm_up:.0f} s warm-up), server PID {running.pid}")
    print(table(samples, every=max(1.0, soak_seconds / 12)))
    print(f"requests by worker: {dict(sorted(tally.requests.items()))}")
    print(f"expected cuts:      {dict(sorted(tally.cut.items()))}")
    print(f"unexpected errors:  {len(tally.errors)}")
    print(
        f"server RSS MiB: idle {idle_rss / MiB:.1f}, after warm-up {baseline_rss / MiB:.1f},"
        f" max {max_rss / MiB:.1f}, after {final_rss / MiB:.1f}"
    )
    print(
        f"server fds: idle {idle_fds}, after warm-up {baseline_fds}, max {max_fds},"
        f" after {final_fds}"
    )
    print(f"server: {stats}")

    assert tally.errors == [], tally.errors[:20]
    workers = {"keep-alive", "close", "pipelined", "upload", "download", "slow reader"}
    assert set(tally.requests) == workers, tally.requests
    assert set(tally.cut) == {"slowloris", "never reads", "vanishing", "bad request"}, tally.cut
    assert final_fds == idle_fds == baseline_fds
    assert stats["connections_open"] == 1  # the /stats request itself
    assert stats["producers_started"] == stats["producers_cancelled"] + stats["producers_finished"]
    assert final_rss - baseline_rss < RSS_TOLERANCE, (baseline_rss, final_rss)
    assert running.process.returncode is None
    assert "Traceback" not in running.log, running.log[-5000:]
