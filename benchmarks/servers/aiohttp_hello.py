"""aiohttp answering every request with the 13-byte hello world.

Usage: ``python aiohttp_hello.py PORT [--keepalive-timeout S]`` (listens on
127.0.0.1). A plain ``web.Application`` with one route, run with
``web.run_app`` on the default asyncio loop, access log off.
"""

from __future__ import annotations

import argparse

from aiohttp import web

BODY = b"Hello, world!"


async def hello(request: web.Request) -> web.Response:
    """The hello world, as text/plain."""
    return web.Response(body=BODY, content_type="text/plain")


def main() -> None:
    """Serve on 127.0.0.1:PORT until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--keepalive-timeout", type=float, default=75.0, metavar="S")
    args = parser.parse_args()
    app = web.Application()
    app.add_routes([web.get("/{tail:.*}", hello)])
    web.run_app(
        app, host="127.0.0.1", port=args.port, access_log=None, print=None,
        keepalive_timeout=args.keepalive_timeout,
    )  # fmt: skip


if __name__ == "__main__":
    main()
