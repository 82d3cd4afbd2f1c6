"""Faults in the application: the server keeps serving, the client never sees a short success.

Issue 8, point 5. Already covered elsewhere, and not repeated here: a
handler raising under a bystander connection and a producer failing before
or after the head on raw sockets (``integration/test_peers.py``,
``protocol/test_server_connection.py``), a file truncated mid-response
(``apps/test_file_server.py``). Added here: a disk read error (``EIO``,
injected into FileServer's producer module) before the first chunk and in
the middle of a file, a file removed or replaced while it is being sent, a
handler failing with an ``ExceptionGroup`` from its own nursery, many
concurrent requests of which some fail, and what *our* client reports for a
producer that fails before or after the head.

Real sockets, real clock: every test has a ``fail_after`` guard.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

import trio_webkit
from trio_webkit.apps import FileServer, _file_producer
from trio_webkit.apps import files as files_module

from support.loopback import fail_after, open_connection, parse_responses, read_until_eof
from support.loopback import running_server as serve

MiB = 1 << 20
CHUNK = 65536
CONFIG = trio_webkit.ServerConfig(access_log=False)


def client() -> trio_webkit.Client:
    return trio_webkit.Client(timeout=10)


def server_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "trio_webkit.server" and record.levelno >= logging.ERROR
    ]


@attrs.define
class Site:
    root: Path
    big: Path
    digest: str
    small: bytes


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """A served root with ``big.bin`` (16 MiB, random) and ``small.txt``."""
    big = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with big.open("wb") as file:
        for _ in range(16):
            block = os.urandom(MiB)
            digest.update(block)
            file.write(block)
    small = b"small file\n"
    (tmp_path / "small.txt").write_bytes(small)
    return Site(tmp_path, big, digest.hexdigest(), small)


# -- disk read errors ----------------------------------------------------------------------------
class FailingOs:
    """``os`` as FileServer's producer sees it, with ``pread`` failing on chosen calls.

    Calls are counted from 1 over the whole test; call 1 is the producer's
    first read (the one that happens together with ``open``).
    """

    def __init__(self, failing_calls: set[int]) -> None:
        self.failing_calls = failing_calls
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def pread(self, fd: int, size: int, offset: int) -> bytes:
        self.calls += 1
        if self.calls in self.failing_calls:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return os.pread(fd, size, offset)


@pytest.fixture
def inject(monkeypatch: pytest.MonkeyPatch) -> Any:
    def inject(failing_calls: set[int]) -> FailingOs:
        failing = FailingOs(failing_calls)
        monkeypatch.setattr(_file_producer, "os", failing)
        return failing

    return inject


@fail_after(30)
async def test_disk_read_error_before_the_first_chunk_is_a_500(
    site: Site, inject: Any, caplog: pytest.LogCaptureFixture
) -> None:
    failing = inject({1})
    async with serve(FileServer(site.root), CONFIG) as running, client() as http:
        response = await http.get(running.url + "/big.bin")
        assert response.status == 500
        assert response.headers.get("content-length") != str(16 * MiB)
        with pytest.raises(trio_webkit.HTTPStatusError):
            response.raise_for_status()
        assert any(
            record.exc_info and "Input/output error" in str(record.exc_info[1])
            for record in server_errors(caplog)
        ), caplog.records
        # The server goes on: the same file and another one, in full.
        again = await http.get(running.url + "/big.bin")
        assert hashlib.sha256(again.content).hexdigest() == site.digest
        assert (await http.get(running.url + "/small.txt")).content == site.small
        assert http.statistics().connections_active == 0
    assert failing.calls > 2


@fail_after(30)
async def test_disk_read_error_on_a_small_file_is_a_500_not_a_404(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that fits in one chunk is read while FileServer looks it up.

    A read error there is the server's trouble (5xx); a 404 would tell the
    client, and any cache on the way, that the file does not exist.
    """
    failing = FailingOs({1})
    monkeypatch.setattr(files_module, "os", failing)
    monkeypatch.setattr(_file_producer, "os", failing)  # wherever the read happens
    async with serve(FileServer(site.root), CONFIG) as running, client() as http:
        response = await http.get(running.url + "/small.txt")
        assert failing.calls == 1
        after = await http.get(running.url + "/small.txt")
        assert (after.status, after.content) == (200, site.small)
    assert response.status == 500, response


@pytest.mark.parametrize("chunk_size", [CHUNK, 4096])
@fail_after(30)
async def test_disk_read_error_mid_file_cuts_the_response_short(
    site: Site, inject: Any, chunk_size: int, caplog: pytest.LogCaptureFixture
) -> None:
    inject({3})  # two chunks read fine, then EIO
    async with serve(FileServer(site.root, chunk_size=chunk_size), CONFIG) as running:
        async with client() as http:
            with pytest.raises(trio_webkit.IncompleteBody) as caught:
                await http.get(running.url + "/big.bin")
            assert caught.value.expected == 16 * MiB
            assert caught.value.received == 2 * chunk_size
            assert str(caught.value).startswith(f"GET {running.url}/big.bin: ")
            after = await http.get(running.url + "/big.bin")  # read 4 onwards: no fault
            assert hashlib.sha256(after.content).hexdigest() == site.digest
            assert http.statistics().connections_active == 0
        assert server_errors(caplog)

        # What a raw client sees: a 200 whose body ends early, never a complete one.
        inject({2})
        stream = await open_connection(running.port)
        async with stream:
            await stream.send_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
            (response,) = parse_responses(await read_until_eof(stream))
        assert (response.status, response.complete) == (200, False)
        assert len(response.body) == chunk_size


# -- the file changes on disk while it is sent ---------------------------------------------------
def remove(path: Path) -> None:
    path.unlink()


def replace(path: Path) -> None:
    other = path.with_name("other.bin")
    other.write_bytes(b"a different, shorter file\n")
    os.replace(other, path)


@pytest.mark.parametrize("change", [remove, replace])
@fail_after(30)
async def test_file_removed_or_replaced_mid_read_is_sent_whole_as_it_was(
    site: Site, change: Any
) -> None:
    """The producer holds the file open: POSIX keeps the old content readable.

    The response is therefore the old file, complete and intact; never a
    mix of two files, never short. The next request sees the change.
    """
    async with serve(FileServer(site.root), CONFIG) as running, client() as http:
        digest = hashlib.sha256()
        received = 0
        async with http.stream("GET", running.url + "/big.bin") as response:
            assert response.status == 200
            async for chunk in response.iter_bytes():
                if not received:
                    change(site.big)  # the producer is parked far from the end
                digest.update(chunk)
                received += len(chunk)
        assert received == 16 * MiB
        assert digest.hexdigest() == site.digest
        after = await http.get(running.url + "/big.bin")
        if change is remove:
            assert after.status == 404
        else:
            assert after.content == b"a different, shorter file\n"


# -- handlers and producers that fail ------------------------------------------------------------
async def _fail_soon() -> None:
    await trio.lowlevel.checkpoint()
    raise ValueError("a child task failed")


async def app(request: trio_webkit.Request) -> trio_webkit.Response:
    path = request.path
    if path == "/group":  # a handler whose own nursery fails: an ExceptionGroup
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_fail_soon)
            nursery.start_soon(trio.sleep_forever)
    if path == "/boom":
        raise RuntimeError("the handler failed on purpose")
    if path == "/fail-before-head":
        return trio_webkit.Response(200, producer=_fail_before_first_chunk)
    if path == "/fail-after-head":
        return trio_webkit.Response(200, producer=_fail_after_first_chunk)
    if path == "/fail-after-head-with-length":
        headers = [("Content-Length", str(4 * CHUNK))]
        return trio_webkit.Response(200, headers, producer=_fail_after_first_chunk)
    return trio_webkit.Response(200, body=f"ok {path}")


async def _fail_before_first_chunk(send: trio.MemorySendChannel[bytes]) -> None:
    raise RuntimeError("the producer failed before producing anything")


async def _fail_after_first_chunk(send: trio.MemorySendChannel[bytes]) -> None:
    await send.send(b"x" * CHUNK)
    await send.send(b"y" * CHUNK)  # taken only once the first one was written
    raise RuntimeError("the producer failed midway")


@fail_after(20)
async def test_handler_failing_with_an_exception_group_is_a_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with serve(app, CONFIG) as running, client() as http:
        response = await http.get(running.url + "/group")
        assert response.status == 500
        assert b"child task" not in response.content
        assert (await http.get(running.url + "/next")).content == b"ok /next"
    assert any(
        record.exc_info and isinstance(record.exc_info[1], BaseExceptionGroup)
        for record in server_errors(caplog)
    )


@fail_after(30)
async def test_many_concurrent_requests_some_failing_each_get_their_own_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    statuses: dict[int, tuple[int, bytes]] = {}
    http = trio_webkit.Client(timeout=10, max_connections=10)
    async with serve(app, CONFIG) as running, http:

        async def one(index: int) -> None:
            path = "/boom" if index % 4 == 0 else f"/fine/{index}"
            response = await http.get(f"{running.url}{path}")
            statuses[index] = (response.status, response.content)

        async with trio.open_nursery() as nursery:
            for index in range(200):
                nursery.start_soon(one, index)
        assert http.statistics().connections_active == 0
    for index, (status, body) in statuses.items():
        if index % 4 == 0:
            assert status == 500, index
        else:
            assert (status, body) == (200, f"ok /fine/{index}".encode()), index
    assert len(statuses) == 200
    assert len([r for r in server_errors(caplog) if r.exc_info]) == 50


@fail_after(20)
async def test_our_client_sees_a_500_or_an_incomplete_body_from_failing_producers() -> None:
    async with serve(app, CONFIG) as running, client() as http:
        before = await http.get(running.url + "/fail-before-head")
        assert before.status == 500  # nothing was sent yet: a proper answer

        with pytest.raises(trio_webkit.IncompleteBody) as chunked:
            await http.get(running.url + "/fail-after-head")
        assert chunked.value.expected is None
        with pytest.raises(trio_webkit.IncompleteBody) as sized:
            await http.get(running.url + "/fail-after-head-with-length")
        assert (sized.value.received, sized.value.expected) == (2 * CHUNK, 4 * CHUNK)

        # fetch() never closes the consumer on a failure: no "complete" document.
        closed: list[bool] = []

        class Consumer:
            def feed(self, data: bytes) -> None:
                pass

            def close(self) -> None:
                closed.append(True)

        with pytest.raises(trio_webkit.IncompleteBody):
            await http.fetch(running.url + "/fail-after-head", Consumer())
        assert closed == []
        assert (await http.get(running.url + "/after")).content == b"ok /after"
        assert http.statistics().connections_active == 0
