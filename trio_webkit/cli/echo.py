"""``trio-webkit echo``: serve :func:`trio_webkit.apps.echo`, a page showing each request."""

from __future__ import annotations

import argparse

from .._config import ServerConfig
from .._server import Server
from ..apps.echo import echo
from ._serving import add_address_arguments, configure_logging, run_server

_DESCRIPTION = """\
Answer every request with an HTML page showing it back: the request line,
the headers and the body, all HTML-escaped. Handy to see what a client
really sends. Prints the URL it serves; Ctrl-C or SIGTERM stops it
gracefully.
"""

_EPILOG = """\
examples:
  trio-webkit echo                  serve on http://127.0.0.1:8000/
  trio-webkit echo -b 0.0.0.0 -p 0  all interfaces, any free port
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``echo`` command."""
    parser = commands.add_parser(
        "echo",
        help="serve a page echoing each request",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_address_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Serve the echo app on ``args.bind:args.port``; return the exit status."""
    configure_logging()
    server = Server(echo, ServerConfig())
    bind: str = args.bind
    port: int = args.port
    return run_server(server, bind, port)
