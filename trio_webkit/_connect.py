"""Opening a client connection: TCP, then TLS, under the connect phase."""

from __future__ import annotations

import ssl

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
