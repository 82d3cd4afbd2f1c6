"""The consumer protocol of :meth:`Client.fetch`, after the classic asyncore one."""

from __future__ import annotations

import inspect
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Consumer(Protocol):
    """Receives a response body as it arrives.

    ``feed(data)`` gets each chunk, ``close()`` is called once at the end; an
    optional ``http_header(response)`` gets the final response first. Each
    may be a plain or an ``async`` method, so
    :class:`xml.etree.ElementTree.XMLPullParser` is a consumer as it is.
    """

    def feed(self, data: bytes) -> Any:
        """Take the next chunk of the body."""

    def close(self) -> Any:
        """The body has ended."""


async def maybe_await(value: T | Any) -> Any:
    """``await`` the result of a consumer method if it is awaitable."""
    if inspect.isawaitable(value):
        return await value
    return value
