"""The producer that streams a file (or a byte range of it) into a response."""

from __future__ import annotations

import os
from pathlib import Path

import trio

from .._producer import Producer


class FileChanged(Exception):
    """The file shrank (or vanished) while it was being sent."""


#: Bytes read per worker-thread trip (in ``chunk_size`` pieces): a trip costs
#: about as much as sending 64 KiB, so a large file reads several chunks per
#: trip. The producer holds at most this much besides the channel's chunk.
READ_AHEAD_BYTES = 256 * 1024


def file_producer(
    path: Path, start: int, length: int, chunk_size: int, threads: trio.CapacityLimiter
) -> Producer:
    """A producer sending ``length`` bytes of ``path`` from ``start``, ``chunk_size`` at a time.

    A slow disk never blocks the event loop, and each thread trip does as
    much as it can: opening the file and reading its first chunks is one
    trip (in one of ``threads``' worker threads, see
    :class:`.files.FileServer`). Then, where the kernel can say so (Linux),
    the next chunk is read right here if it is in the page cache: a memory
    copy, which ``RWF_NOWAIT`` guarantees never waits for the disk, and far
    cheaper than a thread trip. What is not cached is read by a thread
    trip, up to :data:`READ_AHEAD_BYTES` in ``chunk_size`` pieces, which are
    sent one by one. The bounded channel the server reads from parks this
    producer while the client is slow. A file that ends early raises
    :class:`FileChanged`: the server then cuts the response short, so the
    client sees an error rather than a short success.
    """
    per_trip = max(1, READ_AHEAD_BYTES // chunk_size)

    async def produce(send: trio.MemorySendChannel[bytes]) -> None:
        fd, (chunks, failure) = await trio.to_thread.run_sync(
            _open_and_read, path, start, length, chunk_size, per_trip, limiter=threads
        )
        try:
            cached = _CachedReader(fd, chunk_size)
            offset, remaining = start, length
            while True:
                for chunk in chunks:
                    offset += len(chunk)
                    remaining -= len(chunk)
                    await send.send(chunk)
                if failure is not None:
                    raise failure  # after the chunks read before it, as one read per trip would
                if remaining <= 0:
                    return
                if not chunks:
                    raise FileChanged(f"{path} ended {remaining} bytes early")
                chunks, failure = cached.read(offset, remaining), None
                if not chunks:  # not in the page cache (or cannot tell): a thread trip
                    chunks, failure = await trio.to_thread.run_sync(
                        _read_chunks, fd, offset, remaining, chunk_size, per_trip, limiter=threads
                    )
        finally:
            os.close(fd)  # closing a regular file does not wait on the disk

    return produce


def open_for_reading(path: Path) -> int:
    """A read-only descriptor of ``path`` (blocking: call it in a worker thread).

    ``O_NONBLOCK`` so that a FIFO put where a file was cannot hang the
    worker waiting for a writer; it changes nothing for regular files.
    """
    return os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))


def _open_and_read(
    path: Path, start: int, length: int, chunk_size: int, count: int
) -> tuple[int, tuple[list[bytes], OSError | None]]:
    fd = open_for_reading(path)
    try:
        return fd, _read_chunks(fd, start, length, chunk_size, count)
    except BaseException:
        os.close(fd)
        raise


def _read_chunks(
    fd: int, offset: int, remaining: int, chunk_size: int, count: int
) -> tuple[list[bytes], OSError | None]:
    """Up to ``count`` chunks from ``offset``, and the error that stopped the reading.

    Fewer chunks (maybe none) when the file ends; a read error after some
    chunks is returned with them, so that they are sent before it is raised.
    """
    chunks: list[bytes] = []
    while remaining > 0 and len(chunks) < count:
        try:
            chunk = os.pread(fd, min(chunk_size, remaining), offset)
        except OSError as error:
            if not chunks:
                raise
            return chunks, error
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
        remaining -= len(chunk)
    return chunks, None


class _CachedReader:
    """Reads of a file that succeed only from the page cache, never waiting for the disk.

    ``preadv`` with ``RWF_NOWAIT`` (Linux 4.14) fails with ``EAGAIN`` rather
    than wait for storage. Anything unexpected (no such flag, a file
    system that refuses it, an error) reads nothing here: the caller's
    thread trip then reads, and reports a real error if there is one.
    """

    def __init__(self, fd: int, chunk_size: int) -> None:
        self._fd = fd
        self._chunk_size = chunk_size
        # One buffer for every read, made at the first (a file read whole by
        # the first thread trip needs none): each chunk is copied out as bytes.
        self._buffer: memoryview | None = None

    def read(self, offset: int, remaining: int) -> list[bytes]:
        """The next chunk from ``offset``, if it is cached: a list of one, or empty."""
        flags, buffer = _NOWAIT, self._buffer
        if flags is None:
            return []
        if buffer is None:
            buffer = self._buffer = memoryview(bytearray(self._chunk_size))
        try:
            got = os.preadv(self._fd, [buffer[:remaining]], offset, flags)
        except OSError:
            return []  # EAGAIN (not cached) or anything else: a thread trip says
        # Nothing at all is the end of the file: the thread trip confirms it.
        return [bytes(buffer[:got])] if got else []


#: The flag that makes a read fail rather than wait for storage (Linux only).
_NOWAIT: int | None = getattr(os, "RWF_NOWAIT", None)
