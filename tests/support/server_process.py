"""A trio_webkit server in a subprocess, and how a test watches it from outside.

Tests of resource limits need a server whose file descriptors, memory and
``RLIMIT_NOFILE`` are its own, not the test runner's. Run as a module
(``python -m support.server_process [options]``) this file serves
:class:`App` on ``127.0.0.1:0``, prints ``PORT <n>`` on stdout, logs to
stderr, and shuts down gracefully on SIGTERM. :func:`server_process` starts
it from a test and yields a :class:`ServerProcess` that reads the child's
``/proc`` entries (RSS, peak RSS, open descriptors).

Routes of :class:`App`:

* ``/hello``: ``hello``.
* ``/upload``: reads the request body chunk by chunk (never whole) and
  answers ``<bytes> <crc32>``; the largest chunk it saw is in ``/stats``.
* ``/stream?size=N``: ``N`` bytes of :func:`pattern` from a producer,
  chunked (``N`` omitted: endless, until the client goes away).
* ``/stats``: the server's statistics and the producer counters, as JSON.
* ``/files/...``: a :class:`~trio_webkit.apps.FileServer` of ``--root``, if given.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import zlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import trio

import trio_webkit
from trio_webkit.apps import FileServer

HOST = "127.0.0.1"
CHUNK = 65536
#: ``tests/``: on the child's PYTHONPATH, so that ``-m support.server_process`` imports.
_TESTS_DIR = str(Path(__file__).resolve().parent.parent)
_BLOCK = bytes(range(256)) * (CHUNK // 256)


def pattern(size: int) -> bytes:
    """The first ``size`` bytes that ``/stream`` sends."""
    return (_BLOCK * (size // CHUNK + 1))[:size]


@attrs.define
class App:
    """The subprocess's handler, with counters a test can read through ``/stats``."""

    server: trio_webkit.Server | None = None
    files: trio_webkit.Handler | None = None
    producers_started: int = 0
    producers_cancelled: int = 0
    producers_finished: int = 0
    largest_upload_chunk: int = 0

    async def handler(self, request: trio_webkit.Request) -> trio_webkit.Response:
        path = request.path
        if path == "/hello":
            return trio_webkit.Response(200, body=b"hello")
        if path == "/upload":
            size, crc = 0, 0
            async for chunk in request.stream():
                size += len(chunk)
                crc = zlib.crc32(chunk, crc)
                self.largest_upload_chunk = max(self.largest_upload_chunk, len(chunk))
            return trio_webkit.Response(200, body=f"{size} {crc}")
        if path == "/stream":
            size = _query_int(request.query, "size")
            return trio_webkit.Response(200, producer=self._producer(size))
        if self.files is not None and path.startswith("/files/"):
            return await self.files(request)
        if path == "/stats":
            return trio_webkit.Response(
                200, [("Content-Type", "application/json")], json.dumps(self.stats())
            )
        return trio_webkit.Response(404, body="not found")

    def _producer(self, size: int | None) -> trio_webkit.Producer:
        async def produce(send: trio.MemorySendChannel[bytes]) -> None:
            self.producers_started += 1
            try:
                remaining = size
                while remaining is None or remaining > 0:
                    piece = CHUNK if remaining is None else min(CHUNK, remaining)
                    await send.send(_BLOCK[:piece])
                    if remaining is not None:
                        remaining -= piece
            except trio.Cancelled:
                self.producers_cancelled += 1
                raise
            self.producers_finished += 1

        return produce

    def stats(self) -> dict[str, Any]:
        assert self.server is not None
        return {
            **attrs.asdict(self.server.statistics()),
            "producers_started": self.producers_started,
            "producers_cancelled": self.producers_cancelled,
            "producers_finished": self.producers_finished,
            "largest_upload_chunk": self.largest_upload_chunk,
        }


def _query_int(query: str, name: str) -> int | None:
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == name and value.isdigit():
            return int(value)
    return None


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
    def limit(text: str) -> int | None:
        return None if text == "none" else int(text)

    parser = argparse.ArgumentParser(prog="python -m support.server_process")
    parser.add_argument("--nofile", type=int, help="soft RLIMIT_NOFILE for this process")
    parser.add_argument("--header-timeout", type=float, default=10.0)
    parser.add_argument("--keepalive-timeout", type=float, default=5.0)
    parser.add_argument("--send-timeout", type=float, default=30.0)
    parser.add_argument("--max-connections", type=int, default=1000)
    parser.add_argument("--max-body-bytes", type=limit, default=1024 * 1024)
    parser.add_argument("--root", help="serve this directory under /files/")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    config = trio_webkit.ServerConfig(
        access_log=False,
        header_timeout=args.header_timeout,
        keepalive_timeout=args.keepalive_timeout,
        send_timeout=args.send_timeout,
        max_connections=args.max_connections,
        max_body_bytes=args.max_body_bytes,
    )
    app = App()
    if args.root is not None:
        router = trio_webkit.Router()
        router.mount("/files", FileServer(args.root))
        app.files = router
    server = app.server = trio_webkit.Server(app.handler, config)
    with trio.open_signal_receiver(signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(server.serve_tcp, 0, HOST)
            print(f"PORT {listeners[0].socket.getsockname()[1]}", flush=True)
            async for _ in signals:
                await server.shutdown()
                break


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    if args.nofile is not None:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (args.nofile, hard))
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(name)s: %(message)s")
    trio.run(_serve, args)


# -- the test's side --------------------------------------------------------------------
@attrs.define
class ServerProcess:
    """A running server subprocess: its port and PID, and what it logged."""

    process: trio.Process
    port: int
    stderr: bytearray = attrs.Factory(bytearray)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log(self) -> str:
        return self.stderr.decode(errors="replace")

    def status(self, field: str) -> int:
        """A ``kB`` field of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``), in bytes."""
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        raise AssertionError(f"no {field} in /proc/{self.pid}/status")

    def rss(self) -> int:
        return self.status("VmRSS")

    def peak_rss(self) -> int:
        return self.status("VmHWM")

    def reset_peak_rss(self) -> bool:
        """Start ``VmHWM`` over from the current RSS (Linux >= 4.0); False if refused."""
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as clear_refs:
                clear_refs.write("5")
        except OSError:
            return False
        return True

    def fd_count(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def cpu_seconds(self) -> float:
        """User plus system CPU time the server has used so far (``/proc/<pid>/stat``)."""
        with open(f"/proc/{self.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of stat(5)
        return (utime + stime) / os.sysconf("SC_CLK_TCK")


@asynccontextmanager
async def server_process(*options: str, startup: float = 20.0) -> AsyncIterator[ServerProcess]:
    """Run the server subprocess with ``options`` for the duration of the block.

    On exit it is sent SIGTERM (graceful shutdown) and, if it has not
    exited 10 s later, SIGKILL; both by its PID, through its ``Process``.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_TESTS_DIR, env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "support.server_process", *options]
    process = await trio.lowlevel.open_process(
        command, stdin=None, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    try:
        async with trio.open_nursery() as nursery:
            assert process.stdout is not None and process.stderr is not None
            with trio.fail_after(startup):
                port = await _read_port(process.stdout)
            running = ServerProcess(process, port)
            nursery.start_soon(_collect, process.stderr, running.stderr)
            nursery.start_soon(_collect, process.stdout, bytearray())
            try:
                yield running
            finally:
                await _stop(process)
    finally:
        if process.returncode is None:  # the block failed before _stop ran
            process.kill()
            with trio.move_on_after(5) as cleanup:
                cleanup.shield = True
                await process.wait()


async def _read_port(stdout: trio.abc.ReceiveStream) -> int:
    received = b""
    while b"\n" not in received:
        data = await stdout.receive_some(4096)
        if not data:
            raise AssertionError(f"the server process exited before listening: {received!r}")
        received += data
    line = received.split(b"\n", 1)[0]
    assert line.startswith(b"PORT "), line
    return int(line.split()[1])


async def _collect(stream: trio.abc.ReceiveStream, into: bytearray) -> None:
    while data := await stream.receive_some(65536):
        into += data


async def _stop(process: trio.Process) -> None:
    with trio.move_on_after(10) as cleanup:
        cleanup.shield = True
        process.terminate()
        with trio.move_on_after(8):
            await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()


if __name__ == "__main__":
    main()
