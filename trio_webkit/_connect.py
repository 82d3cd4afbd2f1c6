"""Opening a client connection (TCP, then TLS, under the connect phase), and its socket.

A connection over plain TCP is read and written through its standard
socket directly (see :mod:`._client_connection`): :func:`own_socket` takes
it over from trio, :func:`readability_check` asks it for data without
waiting, and :func:`stream_error` turns its ``OSError`` into what
:class:`trio.SocketStream` would have raised.
"""

from __future__ import annotations

import errno
import select
import socket
import ssl
from collections.abc import Callable
from functools import partial

import trio

from ._errors import ConnectError, ConnectTimeout
from ._timeouts import phase_limit
from ._urls import URL


def default_ssl_context() -> ssl.SSLContext:
    """Verification on, the system's CAs: what a client should do by default."""
    return ssl.create_default_context()


async def open_http_stream(
    url: URL, *, method: str, ssl_context: ssl.SSLContext | None, connect_timeout: float | None
) -> trio.abc.Stream:
    """A connected (and, for https, handshaken) stream to ``url``'s origin.

    Raises:
        ConnectTimeout: TCP and TLS together took longer than ``connect_timeout``.
        ConnectError: DNS failure, refused, unreachable, or TLS failure
            (certificate verification included); the cause is chained.
    """
    context = {"method": method, "url": str(url), "phase": "connect"}
    message = f"could not connect to {url.host_header} within {connect_timeout}s"
    with phase_limit(connect_timeout, ConnectTimeout, message, **context):
        try:
            stream: trio.abc.Stream = await trio.open_tcp_stream(url.host, url.port)
        except OSError as error:
            raise ConnectError(
                f"cannot connect to {url.host_header}: {_reason(error)}", **context
            ) from error
        if url.scheme != "https":
            return stream
        tls = trio.SSLStream(stream, ssl_context or default_ssl_context(), server_hostname=url.host)
        try:
            await tls.do_handshake()
        except (trio.BrokenResourceError, ssl.SSLError) as error:
            await trio.aclose_forcefully(stream)
            cause = error.__cause__ if isinstance(error, trio.BrokenResourceError) else error
            raise ConnectError(
                f"TLS handshake with {url.host_header} failed: {cause}", **context
            ) from error
        except BaseException:
            await trio.aclose_forcefully(stream)
            raise
        return tls


def _reason(error: OSError) -> str:
    # trio raises an OSError whose message lists every address tried.
    return error.strerror or str(error)


# -- the socket of a plain TCP connection ----------------------------------
#: The errors trio.SocketStream reports as "already closed" rather than "broken".
_CLOSED_ERRNOS = frozenset({errno.EBADF, errno.ENOTSOCK})


def stream_error(error: OSError) -> trio.BrokenResourceError | trio.ClosedResourceError:
    """What :class:`trio.SocketStream` raises for ``error``: same type, message and cause."""
    if error.errno in _CLOSED_ERRNOS:
        closed = trio.ClosedResourceError("this socket was already closed")
        closed.__suppress_context__ = True  # trio raises it ``from None``
        return closed
    broken = trio.BrokenResourceError(f"socket connection broken: {error}")
    broken.__cause__ = error
    return broken


def own_socket(stream: trio.SocketStream) -> tuple[trio.SocketStream, socket.socket]:
    """The same TCP connection as a new stream over a standard socket the caller holds.

    trio keeps its standard socket private; detaching the file descriptor
    into one of our own is the public way to read and write it directly.
    The old stream is left closed, owning nothing.
    """
    old = stream.socket
    own = socket.socket(old.family, old.type, old.proto, fileno=old.detach())
    return trio.SocketStream(trio.socket.from_stdlib_socket(own)), own


def readability_check(sock: socket.socket | trio.socket.SocketType) -> Callable[[], object]:
    """A check whether data (or EOF) waits on ``sock``: truthy if so, never waiting.

    What trio's ``SocketType.is_readable`` answers, with one ``poll`` object
    set up once per connection instead of once per question.
    """
    make_poll = getattr(select, "poll", None)
    if make_poll is None:  # no poll() (Windows): trio's own check
        assert isinstance(sock, trio.socket.SocketType)
        return sock.is_readable
    poller = make_poll()
    poller.register(sock, select.POLLIN)
    return partial(poller.poll, 0)
