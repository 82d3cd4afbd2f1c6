"""A bare-Trio bulk server: every GET gets a SIZE-byte body, sent from one 1 MiB buffer.

Usage: ``python bulk_trio.py [PORT] [SIZE]`` (listens on 127.0.0.1; PORT
defaults to 8080, SIZE in bytes to 1 GiB). No HTTP parsing: each request
head (up to a blank line) is answered with ``Content-Length: SIZE`` and the
buffer sent ``SIZE // 1 MiB`` times (plus a partial last write), so the
server costs a ``send_all`` per MiB and is never what limits a download
benchmark. The connection stays open for the next request; a client that
disconnects mid-body is ignored. Only valid for GET benchmarks.
"""

from __future__ import annotations

import functools
import sys

import trio

MIB = 1024 * 1024
DEFAULT_SIZE = 1024 * MIB
BUFFER = memoryview(b"x" * MIB)


def response_head(size: int) -> bytes:
    """Status line and headers for a ``size``-byte binary body."""
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Length: %d\r\n\r\n" % size
    )


async def send_body(stream: trio.SocketStream, size: int) -> None:
    """``size`` bytes: the 1 MiB buffer as often as it fits, then its start."""
    whole, rest = divmod(size, MIB)
    for _ in range(whole):
        await stream.send_all(BUFFER)
    if rest:
        await stream.send_all(BUFFER[:rest])


async def handle(stream: trio.SocketStream, size: int) -> None:
    """Answer every request head on the connection with the head and the body."""
    head = response_head(size)
    pending = b""
    try:
        while data := await stream.receive_some(65536):
            pending += data
            while b"\r\n\r\n" in pending:
                pending = pending[pending.index(b"\r\n\r\n") + 4 :]
                await stream.send_all(head)
                await send_body(stream, size)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass


def main() -> None:
    """Serve on 127.0.0.1:argv[1] until killed, bodies of argv[2] bytes."""
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    size = int(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_SIZE
    if size < 0:
        sys.exit("SIZE must be >= 0")
    handler = functools.partial(handle, size=size)
    trio.run(functools.partial(trio.serve_tcp, handler, port, host="127.0.0.1"))


if __name__ == "__main__":
    main()
