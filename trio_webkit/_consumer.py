"""The consumer protocol of :meth:`Client.fetch`, after the classic asyncore one."""

from __future__ import annotations

import inspect
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Consumer(Protocol):
    """Receives a response body as it arrives, for :meth:`Client.fetch`.

    The classic asynchronous HTTP client's consumer protocol: ``feed(data)``
    gets each chunk of the body, ``close()`` is called once after the last
    one. A consumer may also define ``http_header(response)``, called once
    before the first chunk with the final :class:`Response` (after
    redirects), to look at its status and headers; raising there abandons
    the fetch. Each of the three may be a plain or an ``async`` method, so
    :class:`xml.etree.ElementTree.XMLPullParser` is a consumer as it is.

    Error handling: when the fetch fails (connection, timeout, truncated
    body), ``close()`` is *not* called and the error propagates from
    ``fetch``; an exception raised by the consumer propagates unchanged.
    """

    def feed(self, data: bytes) -> Any:
        """Take the next chunk of the body.

        Args:
            data: the next chunk, decompressed when the client decompresses.

        Returns:
            Ignored (awaited first when it is awaitable).
        """

    def close(self) -> Any:
        """The body has ended: called once, after the last ``feed``.

        Returns:
            Ignored (awaited first when it is awaitable).
        """


async def maybe_await(value: T | Any) -> Any:
    """``await`` the result of a consumer method if it is awaitable."""
    if inspect.isawaitable(value):
        return await value
    return value
