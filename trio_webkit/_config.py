"""ServerConfig: the server's limits and timeouts, with defaults safe for the open internet."""

from __future__ import annotations

from typing import Any

import attrs

from ._version import __version__


def _seconds(instance: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not value > 0:  # also rejects NaN
        raise ValueError(f"{attribute.name} must be None or > 0 seconds, not {value!r}")


def _positive(instance: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if type(value) is not int or value < 1:
        raise ValueError(f"{attribute.name} must be a positive int, not {value!r}")


def _positive_or_none(instance: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None:
        _positive(instance, attribute, value)


def _timeout(default: float) -> Any:
    return attrs.field(default=default, validator=_seconds, kw_only=True)


@attrs.frozen
class ServerConfig:
    """Limits and timeouts of a :class:`Server` (all in seconds or bytes).

    Every timeout is a Trio cancel scope around the one wait it limits;
    ``None`` disables it (not advised on the open internet).

    Attributes:
        header_timeout: total time a client has to send a whole request head,
            from its first byte (the slowloris defence). Answered with 408.
        keepalive_timeout: how long an idle keep-alive connection waits for the
            first byte of its next request before it is closed.
        body_timeout: longest silence while reading a request body
            (inactivity, re-armed at every chunk). Answered with 408.
        send_timeout: longest time the client may refuse response bytes (it
            stopped reading); the connection is then aborted and the
            response's producer cancelled.
        shutdown_timeout: how long :meth:`Server.shutdown` lets in-flight
            requests finish before cancelling them.
        max_header_bytes: largest request head; larger gets 431 (414 when the
            request line alone is too long).
        max_body_bytes: largest request body (``None``: no limit); larger gets
            413, before the body is read when Content-Length announces it.
        max_connections: open connections at most; at the limit the server
            stops accepting until one closes (the kernel's backlog queues).
        server_header: value of the ``Server`` response header (``None``: omit).
        access_log: log one line per response to the ``trio_webkit.access`` logger.
    """

    header_timeout: float | None = _timeout(10.0)
    keepalive_timeout: float | None = _timeout(5.0)
    body_timeout: float | None = _timeout(30.0)
    send_timeout: float | None = _timeout(30.0)
    shutdown_timeout: float | None = _timeout(10.0)
    max_header_bytes: int = attrs.field(default=16384, validator=_positive, kw_only=True)
    max_body_bytes: int | None = attrs.field(
        default=1024 * 1024, validator=_positive_or_none, kw_only=True
    )
    max_connections: int = attrs.field(default=1000, validator=_positive, kw_only=True)
    server_header: str | None = attrs.field(default=f"trio-webkit/{__version__}", kw_only=True)
    access_log: bool = attrs.field(default=True, kw_only=True)
