"""aiohttp's static file handler serving a directory, for the static-file benchmark.

Usage: ``python aiohttp_files.py DIR PORT`` (listens on 127.0.0.1).
``web.static('/', DIR)`` on a plain ``web.Application``, run with
``web.run_app`` on the default asyncio event loop, access log off. aiohttp
sends file bodies with ``loop.sendfile`` where the platform has it.
"""

from __future__ import annotations

import sys

from aiohttp import web


def main() -> None:
    """Serve argv[1] on 127.0.0.1:argv[2] until killed."""
    if len(sys.argv) != 3:
        sys.exit("usage: aiohttp_files.py DIR PORT")
    directory, port = sys.argv[1], int(sys.argv[2])
    app = web.Application()
    app.add_routes([web.static("/", directory)])
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
