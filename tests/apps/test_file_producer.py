"""FileServer's producer on its own: every byte of the range, however it was read.

After the first thread trip (open and the first chunks), a chunk already in
the page cache is read on the event loop with ``RWF_NOWAIT`` (Linux), and
anything else takes a thread trip. Both paths must give the same bytes,
and a file system that refuses the flag must only cost speed.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest
import trio

from trio_webkit.apps import _file_producer
from trio_webkit.apps._file_producer import FileChanged, file_producer

CHUNK = 65536


@pytest.fixture
def data_file(tmp_path: Path) -> tuple[Path, bytes]:
    content = os.urandom(20 * CHUNK + 123)
    path = tmp_path / "data.bin"
    path.write_bytes(content)
    return path, content


async def produce(path: Path, start: int, length: int, chunk_size: int = CHUNK) -> list[bytes]:
    """The chunks the producer sends for that range."""
    producer = file_producer(path, start, length, chunk_size, trio.CapacityLimiter(2))
    send, receive = trio.open_memory_channel[bytes](1)
    chunks: list[bytes] = []

    async def run() -> None:
        async with send:
            await producer(send)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        async with receive:
            async for chunk in receive:
                chunks.append(chunk)
    return chunks


def nowait_reads_work(path: Path) -> bool:
    """Whether this system and file system read a cached file with RWF_NOWAIT."""
    flags = _file_producer._NOWAIT
    if flags is None:
        return False  # not Linux
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.preadv(fd, [bytearray(16)], 0, flags) == 16
    except OSError:  # e.g. EOPNOTSUPP on a file system without it
        return False
    finally:
        os.close(fd)


def count_thread_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the offset of every read in a thread trip (the first: with the open)."""
    offsets: list[int] = []
    read_chunks = _file_producer._read_chunks

    def counted(fd: int, offset: int, *args: Any) -> Any:
        offsets.append(offset)
        return read_chunks(fd, offset, *args)

    monkeypatch.setattr(_file_producer, "_read_chunks", counted)
    return offsets


@pytest.mark.parametrize(
    ("start", "length"), [(0, 20 * CHUNK + 123), (CHUNK // 2, 9 * CHUNK + 7), (19 * CHUNK, 1)]
)
async def test_cached_chunks_are_read_without_thread_trips(
    data_file: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch, start: int, length: int
) -> None:
    path, content = data_file
    trips = count_thread_reads(monkeypatch)
    chunks = await produce(path, start, length)
    assert b"".join(chunks) == content[start : start + length]
    assert all(len(chunk) <= CHUNK for chunk in chunks)
    assert trips[0] == start
    if nowait_reads_work(path):  # the file was just written, so it is all cached
        assert trips == [start]


async def test_without_the_flag_every_read_takes_a_thread_trip(
    data_file: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, content = data_file
    monkeypatch.setattr(_file_producer, "_NOWAIT", None)
    trips = count_thread_reads(monkeypatch)
    chunks = await produce(path, 0, len(content))
    assert b"".join(chunks) == content
    per_trip = _file_producer.READ_AHEAD_BYTES // CHUNK
    assert trips == [n * CHUNK for n in range(0, 21, per_trip)]


async def test_a_file_system_refusing_the_flag_only_costs_thread_trips(
    data_file: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, content = data_file

    def refusing(*args: Any) -> int:
        raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))

    monkeypatch.setattr(_file_producer.os, "preadv", refusing)
    trips = count_thread_reads(monkeypatch)
    chunks = await produce(path, 0, len(content))
    assert b"".join(chunks) == content
    assert len(trips) > 1


async def test_a_file_cut_short_on_the_cached_path_is_an_error(
    data_file: tuple[Path, bytes],
) -> None:
    path, content = data_file
    producer = file_producer(path, 0, len(content), CHUNK, trio.CapacityLimiter(2))
    send, receive = trio.open_memory_channel[bytes](0)
    received = 0
    with pytest.raises(ExceptionGroup) as caught:  # from the nursery the producer ran in
        async with trio.open_nursery() as nursery:

            async def run() -> None:
                async with send:
                    await producer(send)

            nursery.start_soon(run)
            async with receive:
                async for chunk in receive:
                    received += len(chunk)
                    if received == 5 * CHUNK:
                        os.truncate(path, 6 * CHUNK)  # one more chunk, then the end
    (error,) = caught.value.exceptions
    assert isinstance(error, FileChanged) and "ended" in str(error)
    assert received == 6 * CHUNK
