"""The 13-byte hello world as an ASGI app, under hypercorn's Trio worker or uvicorn.

Usage: ``python asgi_hello.py PORT SERVER [--keepalive-timeout S]`` with
SERVER one of ``hypercorn-trio`` (``hypercorn.trio.serve`` under
``trio.run``), ``uvicorn-h11`` or ``uvicorn-httptools`` (``uvicorn.run``
with that HTTP parser, on the plain asyncio loop, so the parser is the only
difference between the two). Listens on 127.0.0.1, one process, no worker
processes (the benchmark stops the server by this PID and reads its RSS),
access log off. ``--keepalive-timeout`` lets the idle-connection benchmark
keep connections open longer than the servers' default of 5 s.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

BODY = b"Hello, world!"
HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(BODY))]
SERVERS = ("hypercorn-trio", "uvicorn-h11", "uvicorn-httptools")

Message = MutableMapping[str, Any]


async def app(
    scope: Message,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Answer every HTTP request with the hello world (lifespan: accept start and stop)."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def serve_hypercorn(port: int, keepalive_timeout: float | None) -> None:
    """hypercorn's Trio worker, in this process."""
    import trio
    from hypercorn.config import Config
    from hypercorn.trio import serve

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = "-"
    config.loglevel = "WARNING"
    if keepalive_timeout is not None:
        config.keep_alive_timeout = keepalive_timeout
    trio.run(serve, app, config)  # type: ignore[arg-type]  # hypercorn's Framework type


def serve_uvicorn(port: int, http: str, keepalive_timeout: float | None) -> None:
    """uvicorn, one process, asyncio loop, the given HTTP implementation."""
    import uvicorn

    uvicorn.run(
        app, host="127.0.0.1", port=port, http=http, loop="asyncio", lifespan="off",
        access_log=False, log_level="warning", server_header=False,
        timeout_keep_alive=int(keepalive_timeout) if keepalive_timeout is not None else 5,
    )  # fmt: skip


def main() -> None:
    """Parse PORT SERVER [--keepalive-timeout S] and serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("server", choices=SERVERS)
    parser.add_argument("--keepalive-timeout", type=float, default=None, metavar="S")
    args = parser.parse_args()
    if args.server == "hypercorn-trio":
        serve_hypercorn(args.port, args.keepalive_timeout)
    else:
        serve_uvicorn(args.port, args.server.removeprefix("uvicorn-"), args.keepalive_timeout)


if __name__ == "__main__":
    main()
