"""Resource exhaustion over loopback (issue 8, point 4).

The descriptor and memory tests run the server in a subprocess
(:mod:`support.server_process`) so that its ``RLIMIT_NOFILE``, its
descriptors and its RSS are its own; the test reads them from
``/proc/<pid>``. The ``max_connections`` test runs the server in this
process, to read its statistics while no connection slot is free.

Real sockets, real clock: every test has a ``fail_after`` guard; the only
time-based assertion is that a request is *not* answered within 0.5 s
while the server cannot accept (it cannot answer it at all then).

The 1 GiB upload runs in full in CI: it takes about a second on loopback.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import trio

import trio_webkit

from support.loopback import (
    fail_after,
    open_connection,
    parse_responses,
    read_until_eof,
    running_server,
)
from support.server_process import ServerProcess, server_process

GiB = 1 << 30
MiB = 1 << 20
#: The upload may raise the server's peak RSS by at most this much. Holding
#: "a few chunks" means a few times 64 KiB (one receive, h11's buffer, the
#: handler's chunk); the rest is allocator slack. A server that buffered the
#: body would need the whole GiB.
UPLOAD_RSS_TOLERANCE = 8 * MiB


def emfile_lines(running: ServerProcess) -> list[str]:
    """The lines of the server's log that report running out of descriptors."""
    return [line for line in running.log.splitlines() if "EMFILE" in line]


def close_request(path: str = "/hello") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode()


async def stats(running: ServerProcess) -> dict[str, int]:
    response = await trio_webkit.get(running.url + "/stats")
    assert response.status == 200
    result: dict[str, int] = response.json()
    return result


async def wait_for(predicate: Callable[[], bool], *, within: float, what: str) -> None:
    """Poll ``predicate()`` every 20 ms until true; fail after ``within`` seconds."""
    with trio.move_on_after(within):
        while not predicate():  # noqa: ASYNC110 -- state of another process: nothing to wait on
            await trio.sleep(0.02)
        return
    raise AssertionError(f"timed out waiting for {what}")


# -- out of file descriptors ---------------------------------------------------------------------
NOFILE = 40
#: More connections than the server has descriptors left: the rest wait in the backlog.
HELD = 60


async def exhaust_and_recover(running: ServerProcess) -> None:
    """Hold more connections than the server can accept, then free them.

    A request sent while the server is out of descriptors waits in the
    kernel's backlog and is answered once the held connections close.
    """
    held: list[trio.SocketStream] = []
    try:
        for _ in range(HELD):
            held.append(await open_connection(running.port))
        await wait_for(lambda: running.fd_count() >= NOFILE, within=10, what="fds used up")
        await wait_for(lambda: bool(emfile_lines(running)), within=10, what="an EMFILE line")
        # Backing off: the accept loop sleeps between attempts instead of spinning.
        cpu_before = running.cpu_seconds()
        await trio.sleep(1.0)
        assert running.cpu_seconds() - cpu_before < 0.2, "the server spins on EMFILE"
        pending = await open_connection(running.port)
        async with pending:
            await pending.send_all(close_request())
            with trio.move_on_after(0.5) as not_answered:
                await pending.receive_some(1)
            assert not_answered.cancelled_caught, "answered without a free descriptor"
            for stream in held:
                await stream.aclose()
            (response,) = parse_responses(await read_until_eof(pending, within=10))
    finally:
        for stream in held:
            await trio.aclose_forcefully(stream)  # (a no-op for those already closed)
    assert (response.status, response.body) == (200, b"hello")


@fail_after(60)
async def test_out_of_descriptors_backs_off_logs_once_per_burst_and_serves_again() -> None:
    options = ("--nofile", str(NOFILE), "--header-timeout", "60")
    async with server_process(*options) as running:
        idle_fds = running.fd_count()
        assert idle_fds < NOFILE - 10

        await exhaust_and_recover(running)
        await wait_for(lambda: running.fd_count() == idle_fds, within=10, what="fds freed")
        assert len(emfile_lines(running)) == 1, running.log  # once for the burst

        # While the backlog drains, accepts and EMFILE can alternate: one burst
        # ends after a quiet second (the server's _BURST_QUIET).
        await trio.sleep(1.5)
        await exhaust_and_recover(running)  # a second burst: a second line
        await wait_for(lambda: running.fd_count() == idle_fds, within=10, what="fds freed")
        assert len(emfile_lines(running)) == 2, running.log

        assert running.process.returncode is None
        statistics = await stats(running)
        assert statistics["connections_open"] == 1  # the /stats request itself
        assert "Traceback" not in running.log, running.log


@pytest.mark.parametrize(
    "name",
    [
        "small.txt",  # fits in one chunk: FileServer reads it while looking it up
        "large.bin",  # larger: its producer opens it
    ],
)
@fail_after(60)
async def test_out_of_descriptors_in_a_handler_is_a_500_and_the_server_goes_on(
    tmp_path: Path, name: str
) -> None:
    """The last free descriptor goes to a connection whose request opens a file.

    Opening the file fails with EMFILE: that is the server's trouble, so a
    5xx; a 404 would tell the client (and any cache) that the file does not
    exist.
    """
    content = b"file content\n" if name == "small.txt" else bytes(1 << 20)
    (tmp_path / name).write_bytes(content)
    options = ("--nofile", str(NOFILE), "--header-timeout", "60", "--root", str(tmp_path))
    async with server_process(*options) as running:
        idle_fds = running.fd_count()
        held: list[trio.SocketStream] = []
        try:
            for _ in range(NOFILE - idle_fds - 1):
                held.append(await open_connection(running.port))
            last = await open_connection(running.port)
            async with last:
                await wait_for(lambda: running.fd_count() == NOFILE, within=10, what="fds full")
                await last.send_all(close_request(f"/files/{name}"))
                (response,) = parse_responses(await read_until_eof(last))
        finally:
            for stream in held:
                await stream.aclose()
        await wait_for(lambda: running.fd_count() == idle_fds, within=10, what="fds freed")
        async with trio_webkit.Client(timeout=5) as client:
            served = await client.get(f"{running.url}/files/{name}")
        assert (served.status, served.content) == (200, content)
        assert running.process.returncode is None
    assert response.status == 500, response  # a proper answer, not a reset, not a 404


# -- max_connections -----------------------------------------------------------------------------
async def hello(request: trio_webkit.Request) -> trio_webkit.Response:
    return trio_webkit.Response(200, body=b"hello")


@fail_after(20)
async def test_max_connections_pauses_accepting_and_resumes() -> None:
    config = trio_webkit.ServerConfig(access_log=False, max_connections=3, header_timeout=30)
    async with running_server(hello, config) as running:
        server = running.server
        held = [await open_connection(running.port) for _ in range(3)]
        await wait_for(
            lambda: server.statistics().connections_open == 3, within=5, what="3 accepted"
        )
        waiting = await open_connection(running.port)  # the kernel's backlog takes it
        async with waiting:
            await waiting.send_all(close_request())
            with trio.move_on_after(0.5) as not_answered:
                await waiting.receive_some(1)
            assert not_answered.cancelled_caught, "a fourth connection was served"
            assert server.statistics().connections_total == 3  # not even accepted

            await held[0].aclose()  # a slot frees: accepting resumes
            (response,) = parse_responses(await read_until_eof(waiting))
        assert (response.status, response.body) == (200, b"hello")
        assert server.statistics().connections_total == 4
        for stream in held[1:]:
            await stream.aclose()


# -- a 1 GiB upload ------------------------------------------------------------------------------
@pytest.fixture
async def upload_server() -> AsyncIterator[ServerProcess]:
    async with server_process("--max-body-bytes", "none", "--send-timeout", "30") as running:
        yield running


async def upload_raw(running: ServerProcess, size: int) -> tuple[bytes, int]:
    """POST ``size`` zero bytes with Content-Length; the response body and the CRC sent."""
    stream = await open_connection(running.port)
    async with stream:
        head = f"POST /upload HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {size}"
        await stream.send_all(head.encode() + b"\r\n\r\n")
        block = bytes(MiB)
        crc, sent = 0, 0
        while sent < size:
            piece = block[: min(MiB, size - sent)]
            crc = zlib.crc32(piece, crc)
            await stream.send_all(piece)
            sent += len(piece)
        (response,) = parse_responses(await read_until_eof(stream, within=60))
    assert response.status == 200
    return response.body, crc


def measure_from_here(running: ServerProcess) -> int:
    """Restart the peak-RSS count; return the level to compare the peak with."""
    if running.reset_peak_rss():
        return running.rss()
    return running.peak_rss()  # no reset: the peak so far is the baseline


@fail_after(120)
async def test_1_gib_upload_is_streamed_in_bounded_server_memory(
    upload_server: ServerProcess,
) -> None:
    running = upload_server
    await upload_raw(running, MiB)  # warm up: imports, buffers
    baseline = measure_from_here(running)

    body, crc = await upload_raw(running, GiB)

    assert body == f"{GiB} {crc}".encode()  # the handler saw every byte, in order
    growth = running.peak_rss() - baseline
    assert growth < UPLOAD_RSS_TOLERANCE, f"peak RSS grew by {growth / MiB:.1f} MiB"
    assert (await stats(running))["largest_upload_chunk"] <= 65536


@fail_after(120)
async def test_1_gib_chunked_upload_from_our_client_in_bounded_server_memory(
    upload_server: ServerProcess,
) -> None:
    running = upload_server
    block = bytes(256 * 1024)

    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        for _ in range(GiB // len(block)):
            await send.send(block)

    async with trio_webkit.Client(timeout=30) as client:
        await client.post(running.url + "/upload", body=block)  # warm up
        baseline = measure_from_here(running)
        response = await client.post(running.url + "/upload", body=producer)

    crc = 0
    for _ in range(GiB // len(block)):
        crc = zlib.crc32(block, crc)
    assert (response.status, response.text) == (200, f"{GiB} {crc}")
    growth = running.peak_rss() - baseline
    assert growth < UPLOAD_RSS_TOLERANCE, f"peak RSS grew by {growth / MiB:.1f} MiB"


# -- max_body_bytes ------------------------------------------------------------------------------
@fail_after(20)
async def test_max_body_bytes_is_answered_413_before_the_body_is_sent() -> None:
    async with server_process("--max-body-bytes", str(MiB)) as running:
        stream = await open_connection(running.port)
        async with stream:
            # Only the head: the answer cannot depend on any body byte.
            head = f"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: {10 * MiB}\r\n\r\n"
            await stream.send_all(head.encode())
            (response,) = parse_responses(await read_until_eof(stream))
        assert (response.status, response.closes) == (413, True)

        # Our client, waiting for 100-continue, gets the 413 and never sends the body.
        pulled = 0

        async def body() -> AsyncIterator[bytes]:
            nonlocal pulled
            for _ in range(10):
                pulled += 1
                yield bytes(MiB)

        async with trio_webkit.Client(timeout=5) as client:
            answer = await client.post(
                running.url + "/upload",
                headers={"Content-Length": str(10 * MiB), "Expect": "100-continue"},
                body=body(),
            )
            assert answer.status == 413
            assert pulled == 0
            assert (await client.get(running.url + "/hello")).content == b"hello"
            assert client.statistics().connections_active == 0
        assert "Traceback" not in running.log, running.log
