"""The producer that streams a file (or a byte range of it) into a response."""

from __future__ import annotations

from pathlib import Path

import trio

from .._producer import Producer


class FileChanged(Exception):
    """The file shrank (or vanished) while it was being sent."""


def file_producer(path: Path, start: int, length: int, chunk_size: int) -> Producer:
    """A producer sending ``length`` bytes of ``path`` from ``start``, ``chunk_size`` at a time.

    Every read happens in a worker thread (``trio.open_file``), so a slow
    disk never blocks the event loop; the bounded channel the server reads
    from parks this producer while the client is slow. A file that ends
    early raises :class:`FileChanged`: the server then cuts the response
    short, so the client sees an error rather than a short success.
    """

    async def produce(send: trio.MemorySendChannel[bytes]) -> None:
        async with await trio.open_file(path, "rb") as file:
            if start:
                await file.seek(start)
            remaining = length
            while remaining > 0:
                chunk = await file.read(min(chunk_size, remaining))
                if not chunk:
                    raise FileChanged(f"{path} ended {remaining} bytes early")
                remaining -= len(chunk)
                await send.send(chunk)

    return produce
