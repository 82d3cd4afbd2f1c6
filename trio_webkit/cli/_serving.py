"""Running a :class:`~trio_webkit.Server` from the command line.

Shared by every command that serves (``echo`` and ``serve``): the
``-b``/``-p`` options, logging set-up, TLS loading, listening sockets that
share a port (``SO_REUSEPORT``, for ``serve --workers``), and
:func:`run_server`, which binds, prints the URL, and runs until asked to
stop.

Theory of operation
-------------------
:func:`serve_until_signalled` is one task with two nurseries. The outer one
holds the *watchers*: tasks that turn events into stop requests on one
channel (a SIGINT or SIGTERM; for a worker process, also its parent going
away, seen as end-of-file on stdin). The signal receiver is opened *before*
binding, so a signal that arrives while the server starts is queued rather
than killing the process. The inner nursery runs the server; the parent
task waits for the first stop request and calls ``await server.shutdown()``
(graceful: stop accepting, close idle connections, let in-flight requests
finish within ``shutdown_timeout``). While that drains, a child task waits
for a second request and then cancels the serving nursery: the impatient
user's "stop now". Every signal that arrives while the receiver is open is
consumed by its watcher; trio would otherwise re-deliver it when the
receiver closes (a late ``KeyboardInterrupt``).

Exit status: 0 after a graceful shutdown, 1 when the address cannot be
bound or a second request cut the drain short.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import socket
import ssl
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial
from typing import Any

import trio

from .._server import Server

PROG = "trio-webkit"

#: Exit statuses (argparse itself exits 2 on bad usage).
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: ``listen()`` backlog of the SO_REUSEPORT sockets (the kernel caps it at somaxconn).
_BACKLOG = 0xFFFF


class UsageError(Exception):
    """Arguments that argparse accepted one by one but that do not go together.

    Raised by a command's ``run``; :func:`trio_webkit.cli.main` prints it
    as a one-line usage error and returns 2.
    """


def print_error(message: str) -> None:
    """Print a one-line error on stderr, in argparse's ``prog: error:`` style."""
    line = " ".join(message.split())  # one line, whatever the message holds
    print(f"{PROG}: error: {line}", file=sys.stderr, flush=True)


def silence_stdout() -> None:
    """Point stdout at /dev/null after a write failed (broken pipe).

    Otherwise the interpreter's own last flush at exit fails again and
    prints a traceback-like message.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def note(message: str) -> None:
    """A progress message for the operator, on stderr."""
    print(message, file=sys.stderr, flush=True)


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


def positive_number(description: str) -> Callable[[str], float]:
    """An argparse ``type=`` for a finite number above 0 ("expected DESCRIPTION above 0")."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"expected {description} above 0, not {text!r}")
        return value

    return parse


def port_number(text: str) -> int:
    """argparse ``type=`` for a TCP port: an integer from 0 to 65535."""
    try:
        port = int(text, 10)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, not {text!r}")
    return port


def configure_logging(*, show_pid: bool = False) -> None:
    """Send the access log (INFO) and server warnings to stderr.

    Only the command line does this: the library never configures logging.
    ``show_pid`` tags each line with the process ID (worker processes).
    """
    pid = "[%(process)d] " if show_pid else ""
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format=f"%(asctime)s {pid}%(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
    )
    logging.getLogger("trio_webkit.access").setLevel(logging.INFO)


def load_tls(certfile: str, keyfile: str) -> ssl.SSLContext:
    """A server-side TLS context with the certificate chain and its key.

    Raises:
        OSError: a file cannot be read.
        ssl.SSLError: a file is not a PEM certificate or key, or they do
            not match.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    return context


def run_server(
    server: Server,
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    reuse_port: bool = False,
    watch_parent: bool = False,
) -> int:
    """Serve on ``host:port`` until SIGINT or SIGTERM; return the exit status.

    See :func:`serve_until_signalled` for the keyword arguments.
    """
    return trio.run(
        partial(
            serve_until_signalled,
            server,
            host,
            port,
            ssl_context=ssl_context,
            reuse_port=reuse_port,
            watch_parent=watch_parent,
        )
    )


async def serve_until_signalled(
    server: Server,
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    reuse_port: bool = False,
    watch_parent: bool = False,
) -> int:
    """Bind, print the URL, serve, and shut down gracefully when asked to.

    Args:
        server: the server to run.
        host: the address to listen on.
        port: the TCP port (0: any free one; the URL shows the real one).
        ssl_context: serve HTTPS with it (the URL says ``https``).
        reuse_port: listen with ``SO_REUSEPORT``, sharing the port with
            the other workers of a ``serve --workers`` parent.
        watch_parent: also stop when stdin reaches end-of-file: the parent
            process that holds its other end closed it, or died.

    Returns the exit status (see the module docstring). A failure to bind
    (address in use, unknown host, permission denied) is reported as one
    line on stderr; any other error propagates with its traceback.
    """
    with trio.open_signal_receiver(*SIGNALS) as signals:
        async with trio.open_nursery() as watchers:
            send, stop_requests = trio.open_memory_channel[str](math.inf)
            async with send:
                watchers.start_soon(_signal_requests, signals, send.clone())
                if watch_parent:
                    watchers.start_soon(_parent_gone_request, send.clone())
            status = await _serve(server, host, port, ssl_context, reuse_port, stop_requests)
            watchers.cancel_scope.cancel()
        return status


async def _serve(
    server: Server,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext | None,
    reuse_port: bool,
    stop_requests: trio.MemoryReceiveChannel[str],
) -> int:
    async with trio.open_nursery() as nursery:
        try:
            listeners = await _start(server, nursery, host, port, ssl_context, reuse_port)
        except OSError as error:
            print_error(f"cannot listen on {host_port(host, port)}: {error}")
            return EXIT_FAILURE
        announce(listeners, scheme="https" if ssl_context else "http")
        await _shutdown_on_request(server, stop_requests, nursery.cancel_scope)
    if nursery.cancel_scope.cancelled_caught:
        print_error("stopped before in-flight requests finished")
        return EXIT_FAILURE
    return EXIT_OK


async def _start(
    server: Server,
    nursery: trio.Nursery,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext | None,
    reuse_port: bool,
) -> list[trio.SocketListener]:
    """Start ``server`` in ``nursery``; return its TCP listeners (for their addresses)."""
    if not reuse_port:
        listeners: list[trio.SocketListener] = await nursery.start(
            partial(server.serve_tcp, port, host, ssl_context=ssl_context)
        )
        return listeners
    tcp = await open_reuseport_listeners(port, host)
    serving: list[trio.abc.Listener[Any]] = list(tcp)
    if ssl_context is not None:
        serving = [
            trio.SSLListener(tcp_listener, ssl_context, https_compatible=True)
            for tcp_listener in tcp
        ]
    await nursery.start(server.serve_listeners, serving)
    return tcp


async def open_reuseport_listeners(port: int, host: str) -> list[trio.SocketListener]:
    """Like :func:`trio.open_tcp_listeners`, with ``SO_REUSEPORT`` on every socket.

    Several processes can then listen on the same port, and the kernel
    spreads new connections among them (Linux). ``port`` should be a real
    port: with 0, each address would get a different one.
    """
    addresses = await trio.socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    listeners: list[trio.SocketListener] = []
    try:
        for family, kind, proto, _, address in addresses:
            sock = trio.socket.socket(family, kind, proto)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                await sock.bind(address)
                sock.listen(_BACKLOG)
            except BaseException:
                sock.close()
                raise
            listeners.append(trio.SocketListener(sock))
    except BaseException:
        for listener in listeners:
            listener.socket.close()
        raise
    return listeners


async def _signal_requests(
    signals: AsyncIterator[int], requests: trio.MemorySendChannel[str]
) -> None:
    """Turn each SIGINT or SIGTERM into a stop request."""
    async with requests:
        async for signum in signals:
            await requests.send(f"{signal.Signals(signum).name} received")


async def _parent_gone_request(requests: trio.MemorySendChannel[str]) -> None:
    """One stop request once stdin reaches end-of-file (the parent closed it or died)."""
    async with requests, trio.lowlevel.FdStream(os.dup(sys.stdin.fileno())) as stdin:
        while await stdin.receive_some(4096):
            pass  # the parent never writes; ignore it if it does
        await requests.send("stdin closed by the parent process")


async def _shutdown_on_request(
    server: Server, requests: trio.MemoryReceiveChannel[str], serving: trio.CancelScope
) -> None:
    """Wait for a stop request, then shut down; a second one cancels ``serving``."""
    reason = await requests.receive()
    note(f"{reason}, shutting down (send again to stop at once)")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_cancel_on_request, requests, serving)
        await server.shutdown()
        nursery.cancel_scope.cancel()  # drained: stop waiting for a second request


async def _cancel_on_request(
    requests: trio.MemoryReceiveChannel[str], scope: trio.CancelScope
) -> None:
    """Cancel ``scope`` when the next stop request arrives."""
    await requests.receive()
    scope.cancel()


def announce(listeners: Sequence[trio.abc.Listener[Any]], *, scheme: str | None = None) -> None:
    """Print the URL(s) being served on stdout, flushed (scripts wait for it).

    ``scheme`` overrides the one read from the listeners: ``serve_tcp``
    reports the TCP listeners even when it serves HTTPS.
    """
    announce_urls([listener_url(listener, scheme=scheme) for listener in listeners])


def announce_urls(urls: Sequence[str]) -> None:
    """Print ``Serving on URL[ and URL...] (Ctrl-C to stop)`` on stdout, flushed."""
    print(f"Serving on {' and '.join(urls)} (Ctrl-C to stop)", flush=True)


def listener_url(listener: trio.abc.Listener[Any], *, scheme: str | None = None) -> str:
    """``http://host:port/`` of a listener, from the address it is bound to.

    Unwraps :class:`trio.SSLListener` (then the scheme is ``https``), so
    the actual port is shown even when 0 was asked for. ``scheme``, when
    given, wins.
    """
    found = "http"
    while isinstance(listener, trio.SSLListener):
        found = "https"
        listener = listener.transport_listener
    scheme = scheme or found
    if not isinstance(listener, trio.SocketListener):
        return f"{scheme}://?/"  # not a socket: nothing to show; never from serve_tcp
    host, port = listener.socket.getsockname()[:2]
    return f"{scheme}://{host_port(host, port)}/"


def host_port(host: str, port: int) -> str:
    """``host:port`` with IPv6 literals in brackets (zone ``%`` quoted, RFC 6874)."""
    if ":" in host:
        host = "[" + host.replace("%", "%25") + "]"
    return f"{host}:{port}"
