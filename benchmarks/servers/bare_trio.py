"""The ceiling for anything on Trio: read bytes, answer one canned response per request.

No parsing at all: every request head (terminated by a blank line) in what
arrives gets the same 13-byte response. Only valid for GET benchmarks.
Listens on 127.0.0.1, port argv[1] (default 8080).

With ``--close`` (the ceiling for ``Connection: close`` benchmarks) the first
request head gets the same response with ``Connection: close`` and the
connection is closed. With ``--vary`` every response carries a counter
header (``X-Count: <n>``), so no two responses are the same bytes: a client
cannot reuse what it parsed for an earlier one. Without it the server never closes: a client sending
``Connection: close`` would silently get keep-alive, which wrk accepts.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Awaitable, Callable

import trio

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!"
VARIED_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Count: %d\r\nContent-Length: 13\r\n\r\n"
    b"Hello, world!"
)
_served = 0  # responses sent with --vary
CLOSE_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
    b"Connection: close\r\n\r\nHello, world!"
)


async def handle(
    stream: trio.SocketStream, responses: Callable[[int], bytes] = RESPONSE.__mul__
) -> None:
    """Answer every request head in what arrives: ``responses(count)`` for ``count`` heads."""
    pending = b""
    try:
        while data := await stream.receive_some(65536):
            pending += data
            count = pending.count(b"\r\n\r\n")
            if count:
                pending = pending[pending.rfind(b"\r\n\r\n") + 4 :]
                await stream.send_all(responses(count))
    except trio.BrokenResourceError:
        pass


def varied_responses(count: int) -> bytes:
    """``count`` hello-world responses, each with the next value of a process-wide counter."""
    global _served
    first, _served = _served, _served + count
    return b"".join(VARIED_RESPONSE % n for n in range(first, _served))


async def handle_close(stream: trio.SocketStream) -> None:
    """Answer the first request head with CLOSE_RESPONSE; trio closes the socket on return."""
    pending = b""
    try:
        while data := await stream.receive_some(65536):
            pending += data
            if b"\r\n\r\n" in pending:
                await stream.send_all(CLOSE_RESPONSE)
                return
    except trio.BrokenResourceError:
        pass


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    options = sys.argv[2:]
    handler: Callable[[trio.SocketStream], Awaitable[None]] = handle
    if "--close" in options:
        handler = handle_close
    elif "--vary" in options:
        handler = functools.partial(handle, responses=varied_responses)
    trio.run(functools.partial(trio.serve_tcp, handler, port, host="127.0.0.1"))


if __name__ == "__main__":
    main()
