"""The producer that streams a file (or a byte range of it) into a response."""

from __future__ import annotations

import os
from pathlib import Path

import trio

from .._producer import Producer


class FileChanged(Exception):
    """The file shrank (or vanished) while it was being sent."""


def file_producer(path: Path, start: int, length: int, chunk_size: int) -> Producer:
    """A producer sending ``length`` bytes of ``path`` from ``start``, ``chunk_size`` at a time.

    Every filesystem call runs in a worker thread, so a slow disk never
    blocks the event loop, and each thread trip does as much as it can:
    opening the file and reading its first chunk is one trip, each further
    chunk one ``pread`` (a small file costs a single trip). The bounded
    channel the server reads from parks this producer while the client is
    slow. A file that ends early raises :class:`FileChanged`: the server
    then cuts the response short, so the client sees an error rather than
    a short success.
    """

    async def produce(send: trio.MemorySendChannel[bytes]) -> None:
        fd, chunk = await trio.to_thread.run_sync(_open_and_read, path, start, chunk_size, length)
        try:
            offset, remaining = start, length
            while True:
                if not chunk:
                    raise FileChanged(f"{path} ended {remaining} bytes early")
                offset += len(chunk)
                remaining -= len(chunk)
                await send.send(chunk)
                if remaining <= 0:
                    return
                chunk = await trio.to_thread.run_sync(
                    os.pread, fd, min(chunk_size, remaining), offset
                )
        finally:
            os.close(fd)  # closing a regular file does not wait on the disk

    return produce


def _open_and_read(path: Path, start: int, chunk_size: int, length: int) -> tuple[int, bytes]:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        return fd, os.pread(fd, min(chunk_size, length), start)
    except BaseException:
        os.close(fd)
        raise
