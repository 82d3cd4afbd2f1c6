"""trio_webkit's FileServer serving a directory, for the static-file benchmark.

Usage: ``python trio_webkit_files.py DIR PORT`` (listens on 127.0.0.1).
``Server(FileServer(DIR), ServerConfig(access_log=False, max_connections=10000))``:
FileServer's defaults (64 KiB chunks, listing on) and the server's default
timeouts, without the access log. Started directly, not through the CLI,
so the benchmark does not depend on ``trio-webkit serve``.
"""

from __future__ import annotations

import logging
import sys

import trio

import trio_webkit
from trio_webkit.apps import FileServer


def main() -> None:
    """Serve argv[1] on 127.0.0.1:argv[2] until killed."""
    if len(sys.argv) != 3:
        sys.exit("usage: trio_webkit_files.py DIR PORT")
    directory, port = sys.argv[1], int(sys.argv[2])
    logging.basicConfig(level=logging.WARNING)
    config = trio_webkit.ServerConfig(access_log=False, max_connections=10000)
    server = trio_webkit.Server(FileServer(directory), config)
    trio.run(server.serve_tcp, port)


if __name__ == "__main__":
    main()
