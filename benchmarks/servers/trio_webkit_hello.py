"""trio_webkit answering every request with a 13-byte hello world.

Usage: ``python trio_webkit_hello.py [PORT] [--keepalive-timeout S]``
(listens on 127.0.0.1; PORT defaults to 8080). Without options the server
keeps :class:`trio_webkit.ServerConfig`'s defaults except ``access_log=False``
and ``max_connections=20000`` (room for the idle benchmark's 10,000
connections); ``--keepalive-timeout`` exists so the idle-connection
benchmark can hold connections open for its measurement.
"""

from __future__ import annotations

import argparse
import logging

import trio

import trio_webkit

HELLO = trio_webkit.Response(200, [("Content-Type", "text/plain")], b"Hello, world!")


async def hello(request: trio_webkit.Request) -> trio_webkit.Response:
    return trio_webkit.Response(200, [("Content-Type", "text/plain")], b"Hello, world!")


def parse_args() -> argparse.Namespace:
    """The port and the optional config overrides."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", nargs="?", type=int, default=8080)
    parser.add_argument(
        "--keepalive-timeout",
        type=float,
        default=None,
        metavar="S",
        help="seconds an idle keep-alive connection is kept (default: ServerConfig's)",
    )
    return parser.parse_args()


def make_config(args: argparse.Namespace) -> trio_webkit.ServerConfig:
    """ServerConfig for the benchmark: no access log, room for many connections."""
    overrides = {}
    if args.keepalive_timeout is not None:
        overrides["keepalive_timeout"] = args.keepalive_timeout
    return trio_webkit.ServerConfig(access_log=False, max_connections=20000, **overrides)


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.WARNING)
    config = make_config(args)
    trio.run(trio_webkit.Server(hello, config).serve_tcp, args.port)


if __name__ == "__main__":
    main()
