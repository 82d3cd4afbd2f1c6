"""Running a :class:`~trio_webkit.Server` from the command line.

Shared by every command that serves (``echo`` now, ``serve`` later): the
``-b``/``-p`` options, logging set-up, and :func:`run_server`, which binds,
prints the URL, and runs until SIGINT or SIGTERM.

Theory of operation
-------------------
:func:`serve_until_signalled` is one task with one nursery. The signal
receiver is opened *before* binding, so a signal that arrives while the
server starts is queued rather than killing the process. The nursery runs
``server.serve_tcp``; the parent task waits for the first signal and calls
``await server.shutdown()`` (graceful: stop accepting, close idle
connections, let in-flight requests finish within ``shutdown_timeout``).
While that drains, a child task waits for a second signal and then cancels
the serving nursery: the impatient user's "stop now". Every signal that
arrives while the receiver is open is consumed here; trio would otherwise
re-deliver it when the receiver closes (a late ``KeyboardInterrupt``).

Exit status: 0 after a graceful shutdown, 1 when the address cannot be
bound or a second signal cut the drain short.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

import trio

from .._server import Server

PROG = "trio-webkit"

#: Exit statuses (argparse itself exits 2 on bad usage).
EXIT_OK = 0
EXIT_FAILURE = 1

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def print_error(message: str) -> None:
    """Print a one-line error on stderr, in argparse's ``prog: error:`` style."""
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)


def add_address_arguments(parser: argparse.ArgumentParser, *, port: int = 8000) -> None:
    """Add ``-b/--bind ADDR`` and ``-p/--port PORT`` to ``parser``."""
    parser.add_argument(
        "-b",
        "--bind",
        metavar="ADDR",
        default="127.0.0.1",
        help="address to listen on, e.g. 0.0.0.0 or :: for all interfaces (default: %(default)s)",
    )
    parser.add_argument(
        "-p",
        "--port",
        metavar="PORT",
        type=port_number,
        default=port,
        help="TCP port to listen on; 0 picks a free one (default: %(default)s)",
    )


def port_number(text: str) -> int:
    """argparse ``type=`` for a TCP port: an integer from 0 to 65535."""
    try:
        port = int(text, 10)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, not {text!r}")
    return port


def configure_logging() -> None:
    """Send the access log (INFO) and server warnings to stderr.

    Only the command line does this: the library never configures logging.
    """
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
    )
    logging.getLogger("trio_webkit.access").setLevel(logging.INFO)


def run_server(server: Server, host: str, port: int) -> int:
    """Serve on ``host:port`` until SIGINT or SIGTERM; return the exit status."""
    return trio.run(serve_until_signalled, server, host, port)


async def serve_until_signalled(server: Server, host: str, port: int) -> int:
    """Bind, print the URL, serve, and shut down gracefully on a signal.

    Returns the exit status (see the module docstring). A failure to bind
    (address in use, unknown host, permission denied) is reported as one
    line on stderr; any other error propagates with its traceback.
    """
    with trio.open_signal_receiver(*_SIGNALS) as signals:
        async with trio.open_nursery() as nursery:
            try:
                listeners = await nursery.start(server.serve_tcp, port, host)
            except OSError as error:
                print_error(f"cannot listen on {host_port(host, port)}: {error}")
                return EXIT_FAILURE
            announce(listeners)
            await _shutdown_on_signal(server, signals, nursery.cancel_scope)
        if nursery.cancel_scope.cancelled_caught:
            print_error("stopped before in-flight requests finished")
            return EXIT_FAILURE
        return EXIT_OK


async def _shutdown_on_signal(
    server: Server, signals: AsyncIterator[int], serving: trio.CancelScope
) -> None:
    """Wait for a signal, then shut down; a second signal cancels ``serving``."""
    signum = await anext(signals)
    _note(f"{signal.Signals(signum).name} received, shutting down (send again to stop at once)")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_cancel_on_signal, signals, serving)
        await server.shutdown()
        nursery.cancel_scope.cancel()  # drained: stop waiting for a second signal


async def _cancel_on_signal(signals: AsyncIterator[int], scope: trio.CancelScope) -> None:
    """Cancel ``scope`` when the next signal arrives."""
    await anext(signals)
    scope.cancel()


def announce(listeners: Sequence[trio.abc.Listener[Any]]) -> None:
    """Print the URL(s) being served on stdout, flushed (scripts wait for it)."""
    urls = " and ".join(listener_url(listener) for listener in listeners)
    print(f"Serving on {urls} (Ctrl-C to stop)", flush=True)


def listener_url(listener: trio.abc.Listener[Any]) -> str:
    """``http://host:port/`` of a listener, from the address it is bound to.

    Unwraps :class:`trio.SSLListener` (then the scheme is ``https``), so
    the actual port is shown even when 0 was asked for.
    """
    scheme = "http"
    while isinstance(listener, trio.SSLListener):
        scheme = "https"
        listener = listener.transport_listener
    if not isinstance(listener, trio.SocketListener):
        return f"{scheme}://?/"  # not a socket: nothing to show; never from serve_tcp
    host, port = listener.socket.getsockname()[:2]
    return f"{scheme}://{host_port(host, port)}/"


def host_port(host: str, port: int) -> str:
    """``host:port`` with IPv6 literals in brackets (zone ``%`` quoted, RFC 6874)."""
    if ":" in host:
        host = "[" + host.replace("%", "%25") + "]"
    return f"{host}:{port}"


def _note(message: str) -> None:
    """A progress message for the operator, on stderr."""
    print(message, file=sys.stderr, flush=True)
