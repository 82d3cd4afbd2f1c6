"""The one tree of errors that trio_webkit raises.

::

    HTTPError                     .method, .url, .phase
    ├── ConnectError              DNS failure, refused, TLS handshake failed
    ├── ConnectTimeout            (also a TimeoutError)
    ├── ReadTimeout               (also a TimeoutError)
    ├── WriteTimeout              (also a TimeoutError)
    ├── PoolTimeout               (also a TimeoutError)
    ├── ProtocolError             the peer broke HTTP/1.1
    │   └── IncompleteBody        the connection ended before the body did
    ├── TooManyRedirects          .history
    ├── InvalidURL                (also a ValueError)
    │   └── UnsupportedScheme
    └── HTTPStatusError           .response, from Response.raise_for_status()

The four timeouts inherit from the built-in :class:`TimeoutError` so that
``except TimeoutError`` works; note that the built-in is an :class:`OSError`,
so an ``except OSError`` also catches them.

Errors are converted once, at the boundary of a layer, and their message
starts with the method, the URL and the phase:
``"GET http://127.0.0.1:8000/big: no data for 5s while reading the response body"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._response import Response


class HTTPError(Exception):
    """Base class of every error trio_webkit raises.

    Args:
        message: what went wrong, in words.
        method: the request method, when there is a request.
        url: the request URL, when there is one.
        phase: the phase that failed (``"connect"``, ``"write"``, ``"read"``,
            ``"pool"``, ``"redirect"``...).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        phase: str | None = None,
    ) -> None:
        self.message = message
        self.method = method
        self.url = url
        self.phase = phase
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = " ".join(part for part in (self.method, self.url) if part)
        return f"{where}: {self.message}" if where else self.message

    def __str__(self) -> str:
        return self._describe()

    def with_context(self, *, method: str | None, url: str | None) -> HTTPError:
        """This error, naming ``method`` and ``url`` if it did not already.

        Args:
            method: the request method, kept unless the error named one.
            url: the request URL, kept unless the error named one.

        Returns:
            The same error, its message rebuilt.
        """
        self.method = self.method or method
        self.url = self.url or url
        self.args = (self._describe(),)
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructor arguments do not survive pickling by default.
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[HTTPError], args: tuple[Any, ...], state: dict[str, Any]) -> HTTPError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class ConnectError(HTTPError):
    """The connection could not be opened: DNS, refused, unreachable, TLS.

    Constructor arguments: those of :class:`HTTPError`.
    """


class ConnectTimeout(HTTPError, TimeoutError):
    """Opening the connection (TCP and TLS) took longer than ``Timeout.connect``.

    Constructor arguments: those of :class:`HTTPError`.
    """


class ReadTimeout(HTTPError, TimeoutError):
    """The peer sent nothing for longer than ``Timeout.read`` (inactivity, not a total).

    Constructor arguments: those of :class:`HTTPError`.
    """


class WriteTimeout(HTTPError, TimeoutError):
    """The peer accepted no data for longer than ``Timeout.write``.

    Constructor arguments: those of :class:`HTTPError`.
    """


class PoolTimeout(HTTPError, TimeoutError):
    """No connection slot became free within ``Timeout.pool``.

    Constructor arguments: those of :class:`HTTPError`.
    """


class ProtocolError(HTTPError):
    """The peer broke HTTP/1.1 (malformed message, unexpected data).

    Constructor arguments: those of :class:`HTTPError`.
    """


class IncompleteBody(ProtocolError):
    """The connection ended before the whole body arrived.

    Attributes:
        received: how many body bytes arrived.
        expected: how many were announced (``None`` for chunked bodies).
    """

    def __init__(
        self,
        message: str,
        *,
        received: int = 0,
        expected: int | None = None,
        method: str | None = None,
        url: str | None = None,
        phase: str | None = None,
    ) -> None:
        self.received = received
        self.expected = expected
        super().__init__(message, method=method, url=url, phase=phase)


class TooManyRedirects(HTTPError):
    """More redirects than ``max_redirects``, or a redirect loop.

    Attributes:
        history: the redirect responses followed so far.
    """

    def __init__(
        self,
        message: str,
        *,
        history: Sequence[Response] = (),
        method: str | None = None,
        url: str | None = None,
        phase: str | None = "redirect",
    ) -> None:
        self.history = list(history)
        super().__init__(message, method=method, url=url, phase=phase)


class InvalidURL(HTTPError, ValueError):
    """The URL cannot be used: malformed, no host, bad port.

    Constructor arguments: those of :class:`HTTPError`.
    """


class UnsupportedScheme(InvalidURL):
    """The URL's scheme is not one trio_webkit speaks.

    Constructor arguments: those of :class:`HTTPError`.
    """


class HTTPStatusError(HTTPError):
    """A 4xx or 5xx response, raised by :meth:`Response.raise_for_status`.

    Attributes:
        response: the response with the error status.
    """

    def __init__(
        self,
        message: str,
        *,
        response: Response,
        method: str | None = None,
        url: str | None = None,
        phase: str | None = "status",
    ) -> None:
        self.response = response
        super().__init__(message, method=method, url=url, phase=phase)
