"""Clients that vanish at the worst moments, for the hardening and soak tests.

Each one opens a loopback connection to ``port``, misbehaves, and closes
without a goodbye. A server must forget them entirely: no task, descriptor
or memory left behind, and a producer it started for them cancelled.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from support.loopback import open_connection

#: Bytes a "half reader" reads of a big or endless response before it vanishes.
HALF_READ = 64 * 1024


async def vanish_at_once(port: int) -> None:
    """Connect, then close before sending anything."""
    stream = await open_connection(port)
    await stream.aclose()


async def vanish_mid_head(port: int) -> None:
    """Send half a request head, then close."""
    stream = await open_connection(port)
    async with stream:
        await stream.send_all(b"GET /half HTTP/1.1\r\nHost: t\r\nX-Ha")


async def vanish_mid_body(port: int, path: str = "/upload") -> None:
    """Send a whole head announcing 1000 body bytes, send 500, then close."""
    stream = await open_connection(port)
    async with stream:
        head = f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n".encode()
        await stream.send_all(head + b"a" * 500)


async def vanish_mid_response(port: int, path: str) -> None:
    """GET ``path`` (a big or endless body), read HALF_READ bytes, then close.

    Closing with unread data makes the kernel send a reset: the server finds
    out at its next write.
    """
    stream = await open_connection(port)
    async with stream:
        await stream.send_all(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        received = 0
        while received < HALF_READ:
            data = await stream.receive_some(65536)
            assert data, f"the server closed {path} before {HALF_READ} bytes"
            received += len(data)


def vanishing_kinds(
    response_path: str, upload_path: str = "/upload"
) -> tuple[Callable[[int], Awaitable[None]], ...]:
    """The four kinds, each as ``kind(port)``; ``response_path`` must be big or endless."""

    async def mid_body(port: int) -> None:
        await vanish_mid_body(port, upload_path)

    async def mid_response(port: int) -> None:
        await vanish_mid_response(port, response_path)

    return (vanish_at_once, vanish_mid_head, mid_body, mid_response)
