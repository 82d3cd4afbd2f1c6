"""A naive Trio + h11 server: the loop most people write first, as a reference point.

One ``h11.Connection`` per TCP connection; each of Response, Data and
EndOfMessage goes through its own ``conn.send`` and ``send_all``;
``start_next_cycle`` between requests. Every request gets the same 13-byte
hello world. No timeouts and no limits: a benchmark peer, not a server for
real traffic. Listens on 127.0.0.1, port argv[1] (default 8080).
"""

from __future__ import annotations

import contextlib
import functools
import sys

import h11
import trio

BODY = b"Hello, world!"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]
MAX_RECEIVE = 65536


async def send(stream: trio.SocketStream, conn: h11.Connection, event: h11.Event) -> None:
    """Serialize ``event`` with h11 and write the bytes (if any) to the socket."""
    data = conn.send(event)
    if data is not None:
        await stream.send_all(data)


async def next_event(stream: trio.SocketStream, conn: h11.Connection) -> h11.Event:
    """The next h11 event, reading from the socket whenever h11 needs more bytes."""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await stream.receive_some(MAX_RECEIVE))
            continue
        return event  # type: ignore[return-value]  # PAUSED cannot happen: see serve_one


async def respond(stream: trio.SocketStream, conn: h11.Connection) -> None:
    """Answer the current request with the hello world, one ``send_all`` per event."""
    await send(stream, conn, h11.Response(status_code=200, headers=HEADERS, reason=b"OK"))
    await send(stream, conn, h11.Data(data=BODY))
    await send(stream, conn, h11.EndOfMessage())


async def serve_one(stream: trio.SocketStream, conn: h11.Connection) -> bool:
    """Read one request (answering it), return whether the connection can be reused.

    The loop stops at the request's EndOfMessage, before h11 could pause on
    a pipelined next request; ``start_next_cycle`` resumes from there.
    """
    while True:
        event = await next_event(stream, conn)
        if isinstance(event, h11.Request):
            await respond(stream, conn)
        elif isinstance(event, h11.EndOfMessage):
            break
        elif isinstance(event, h11.ConnectionClosed):
            return False
    return conn.our_state is h11.DONE and conn.their_state is h11.DONE


async def reject(stream: trio.SocketStream, conn: h11.Connection) -> None:
    """Answer a malformed request with 400 if no response has started yet."""
    if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
        return
    headers = [("Content-Length", "0"), ("Connection", "close")]
    await send(stream, conn, h11.Response(status_code=400, headers=headers, reason=b"Bad Request"))
    await send(stream, conn, h11.EndOfMessage())


async def handle(stream: trio.SocketStream) -> None:
    """Serve one TCP connection until either side closes it."""
    conn = h11.Connection(h11.SERVER)
    try:
        while await serve_one(stream, conn):
            conn.start_next_cycle()
    except h11.RemoteProtocolError:
        await reject(stream, conn)
    finally:
        await stream.aclose()


async def handle_quietly(stream: trio.SocketStream) -> None:
    """:func:`handle`, ignoring clients that vanish mid-response."""
    with contextlib.suppress(trio.BrokenResourceError):
        await handle(stream)


def main() -> None:
    """Serve on 127.0.0.1:argv[1] until killed."""
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    serve = functools.partial(trio.serve_tcp, handle_quietly, port, host="127.0.0.1")
    trio.run(serve)


if __name__ == "__main__":
    main()
