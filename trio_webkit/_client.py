"""Client: requests over a keep-alive pool, streaming, consumers, redirects.

The client runs no task of its own: every request runs in the caller's
task, under the caller's cancel scopes, so ``async with Client()`` never
wraps a user's error in an ExceptionGroup, and a ``trio.fail_after`` around
any call simply works. Leaving the ``async with`` closes the pool.
"""

# ruff: noqa: ASYNC109 -- ``timeout=`` selects a per-phase *policy* (the
# brief's API); the caller's own cancel scopes still apply on top of it.

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, TypeAlias, final

import h11

from ._client_connection import ClientConnection, ConnectionLost
from ._consumer import Consumer, maybe_await
from ._errors import HTTPError, TooManyRedirects
from ._headers import Headers, HeadersLike
from ._pool import ConnectionPool, PoolStatistics
from ._producer import Producer, open_producer
from ._redirects import check_loop, is_redirect, next_request
from ._response import Response
from ._timeouts import Timeout
from ._urls import URL, parse_url
from ._version import __version__

#: What a request body may be: replayable (bytes, str, a producer) or not
#: (an async iterable, which can be sent once).
RequestBody: TypeAlias = "bytes | str | AsyncIterable[bytes] | Producer | None"
TimeoutLike: TypeAlias = "Timeout | float | None"

DEFAULT_TIMEOUT = Timeout(5.0)
#: Decoding a body may produce this much at most (``Client(max_decompressed_bytes=...)``).
DEFAULT_MAX_DECOMPRESSED = 1 << 30
USER_AGENT = f"trio-webkit/{__version__}"
#: Safe to send twice (RFC 9110 §9.2.2): retried once on a stale connection.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
#: A redirect's own body is drained up to this size to keep the connection.
REDIRECT_DRAIN = 64 * 1024

_UNSET: Any = object()


@final
class Client:
    """An HTTP/1.1 client with a keep-alive connection pool.

    Use it as an async context manager; leaving it closes every connection::

        async with trio_webkit.Client(timeout=trio_webkit.Timeout(10)) as client:
            response = await client.get("http://127.0.0.1:8000/")
            print(response.status, response.text)

    Args:
        timeout: per-phase limits (:class:`Timeout`), or seconds for all
            phases, or ``None`` for none. Each call may override it.
        follow_redirects: follow 301, 302, 303, 307 and 308 responses.
        max_redirects: more raise :class:`TooManyRedirects`.
        max_connections: connections open at once, all hosts together.
        max_connections_per_host: connections open at once to one origin.
        headers: sent with every request (a request's own headers win).
        ssl_context: for https; default verifies with the system's CAs.
        decompress: decode gzip and deflate bodies in ``iter_bytes``,
            ``read`` and ``fetch`` (``iter_raw`` always gives the wire bytes).
        max_decompressed_bytes: the largest body that decoding may produce
            (1 GiB by default), the defence against "gzip bombs" (a few KiB
            that expand to gigabytes): more raises :class:`ProtocolError`
            naming the URL, the ``decode`` phase and the limit, in
            ``iter_bytes``, ``read``, ``fetch`` and :func:`download` alike.
            ``None`` disables the limit. Bodies that are not decoded
            (``decompress=False``, ``iter_raw``) are not limited.

    Resource handling: connections belong to the pool while idle and to one
    request while in use; a request cancelled or failed mid-response closes
    its connection, which is never reused. No background task exists.
    """

    def __init__(
        self,
        *,
        timeout: TimeoutLike = DEFAULT_TIMEOUT,
        follow_redirects: bool = True,
        max_redirects: int = 10,
        max_connections: int = 100,
        max_connections_per_host: int = 20,
        headers: HeadersLike = None,
        ssl_context: ssl.SSLContext | None = None,
        decompress: bool = True,
        max_decompressed_bytes: int | None = DEFAULT_MAX_DECOMPRESSED,
    ) -> None:
        if max_decompressed_bytes is not None and (
            type(max_decompressed_bytes) is not int or max_decompressed_bytes < 0
        ):
            raise ValueError(
                "max_decompressed_bytes must be None or an int >= 0, "
                f"not {max_decompressed_bytes!r}"
            )
        self.timeout = _as_timeout(timeout)
        self.follow_redirects = follow_redirects
        self.max_redirects = max_redirects
        self.headers = Headers(headers)
        self.decompress = decompress
        self.max_decompressed_bytes = max_decompressed_bytes
        self._pool = ConnectionPool(
            max_connections=max_connections,
            max_connections_per_host=max_connections_per_host,
            ssl_context=ssl_context,
        )

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every idle connection; the client cannot be used afterwards."""
        await self._pool.aclose()

    def statistics(self) -> PoolStatistics:
        """A snapshot of the pool: idle and active connections, requests."""
        return self._pool.statistics()

    # -- requests -------------------------------------------------------
    async def request(
        self,
        method: str,
        url: str | URL,
        *,
        headers: HeadersLike = None,
        body: RequestBody = None,
        timeout: TimeoutLike = _UNSET,
    ) -> Response:
        """Send a request and read the whole response body.

        Args:
            method: ``"GET"``, ``"POST"``... (case-insensitive).
            url: an absolute ``http`` or ``https`` URL.
            headers: sent with this request, over the client's own.
            body: bytes, str (UTF-8), an async iterable of bytes or a
                producer; streamed bodies are sent chunked.
            timeout: this request's per-phase limits (default: the client's).

        Returns:
            The final :class:`Response` (after redirects), ``content`` read.

        Raises:
            HTTPError: a subclass naming the method, URL and phase, on any
                failure; a 4xx/5xx is not an error until
                :meth:`Response.raise_for_status`.
        """
        async with self.stream(
            method, url, headers=headers, body=body, timeout=timeout
        ) as response:
            await response.read()
        return response

    async def get(self, url: str | URL, **kwargs: Any) -> Response:
        """``request("GET", url, ...)``: send a GET and read the whole response.

        Args:
            url: an absolute ``http`` or ``https`` URL.
            **kwargs: ``headers``, ``body``, ``timeout``, as for :meth:`request`.

        Returns:
            The final :class:`Response` (after redirects), ``content`` read.

        Raises:
            HTTPError: as :meth:`request` does, naming the URL and the phase.
        """
        return await self.request("GET", url, **kwargs)

    async def head(self, url: str | URL, **kwargs: Any) -> Response:
        """``request("HEAD", url, ...)``: send a HEAD and read the whole response.

        Args:
            url: an absolute ``http`` or ``https`` URL.
            **kwargs: ``headers``, ``body``, ``timeout``, as for :meth:`request`.

        Returns:
            The final :class:`Response` (after redirects), ``content`` read.

        Raises:
            HTTPError: as :meth:`request` does, naming the URL and the phase.
        """
        return await self.request("HEAD", url, **kwargs)

    async def post(self, url: str | URL, **kwargs: Any) -> Response:
        """``request("POST", url, ...)``: send a POST and read the whole response.

        Args:
            url: an absolute ``http`` or ``https`` URL.
            **kwargs: ``headers``, ``body`` (what is sent), ``timeout``, as for
                :meth:`request`.

        Returns:
            The final :class:`Response` (after redirects), ``content`` read.

        Raises:
            HTTPError: as :meth:`request` does, naming the URL and the phase.
        """
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str | URL, **kwargs: Any) -> Response:
        """``request("PUT", url, ...)``: send a PUT and read the whole response.

        Args:
            url: an absolute ``http`` or ``https`` URL.
            **kwargs: ``headers``, ``body`` (what is sent), ``timeout``, as for
                :meth:`request`.

        Returns:
            The final :class:`Response` (after redirects), ``content`` read.

        Raises:
            HTTPError: as :meth:`request` does, naming the URL and the phase.
        """
        return await self.request("PUT", url, **kwargs)

    async def patch(self, url: str | URL, **kwargs: Any) -> Response:
        """``request("PATCH", url, ...)``: send a PATCH and read the whole response.

        Args:
            url: an absolute ``http`` or ``https`` URL.
            **kwargs: ``headers``, ``body`` (what is sent), ``timeout``, as for
                :meth:`request`.

        Returns:
            The final :class:`Response` (after redirects), ``content`` read.

        Raises:
            HTTPError: as :meth:`request` does, naming the URL and the phase.
        """
        return await self.request("PATCH", url, **kwargs)

    async def delete(self, url: str | URL, **kwargs: Any) -> Response:
        """``request("DELETE", url, ...)``: send a DELETE and read the whole response.

        Args:
            url: an absolute ``http`` or ``https`` URL.
            **kwargs: ``headers``, ``body``, ``timeout``, as for :meth:`request`.

        Returns:
            The final :class:`Response` (after redirects), ``content`` read.

        Raises:
            HTTPError: as :meth:`request` does, naming the URL and the phase.
        """
        return await self.request("DELETE", url, **kwargs)

    async def fetch(
        self,
        url: str | URL,
        consumer: Consumer,
        *,
        method: str = "GET",
        headers: HeadersLike = None,
        body: RequestBody = None,
        timeout: TimeoutLike = _UNSET,
    ) -> Response:
        """Stream the response body into ``consumer``; return the response.

        The consumer protocol (each method plain or ``async``):
        ``http_header(response)`` (optional) is called once, with the final
        response after redirects; ``feed(data)`` with each chunk of the
        decoded body; ``close()`` once, after the last chunk. On failure
        ``close()`` is *not* called (a parser would report a truncated
        document instead of the real error) and the error propagates.
        ``xml.etree.ElementTree.XMLPullParser`` works as it is.

        Args:
            url: an absolute ``http`` or ``https`` URL.
            consumer: an object with ``feed`` and ``close`` (and optionally
                ``http_header``), see :class:`Consumer`.
            method: the request method.
            headers: sent with this request, over the client's own.
            body: as for :meth:`request`.
            timeout: this request's per-phase limits (default: the client's).

        Returns:
            The final :class:`Response`; its body went to the consumer.

        Raises:
            HTTPError: as :meth:`request` does; an error the consumer raises
                propagates as it is.
        """
        async with self.stream(
            method, url, headers=headers, body=body, timeout=timeout
        ) as response:
            on_header = getattr(consumer, "http_header", None)
            if on_header is not None:
                await maybe_await(on_header(response))
            async for chunk in response.iter_bytes():
                await maybe_await(consumer.feed(chunk))
        await maybe_await(consumer.close())
        return response

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str | URL,
        *,
        headers: HeadersLike = None,
        body: RequestBody = None,
        timeout: TimeoutLike = _UNSET,
    ) -> AsyncIterator[Response]:
        """Send a request; yield the response with its body not read yet.

        Read it with ``async for chunk in response.iter_bytes()``,
        ``iter_raw()`` or ``await response.read()`` inside the block. The
        connection goes back to the pool only if the body was read to the
        end; otherwise leaving the block closes it.

        Args:
            method: the request method.
            url: an absolute ``http`` or ``https`` URL.
            headers: sent with this request, over the client's own.
            body: as for :meth:`request`.
            timeout: this request's per-phase limits (default: the client's).

        Yields:
            The final :class:`Response` (after redirects), body unread.

        Raises:
            HTTPError: a subclass naming the method, URL and phase.
        """
        limits = self.timeout if timeout is _UNSET else _as_timeout(timeout)
        method = method.upper()
        target = _parse_cached(url) if isinstance(url, str) else parse_url(url)
        request_headers = self._merge_headers(headers)
        history: list[Response] = []
        seen: set[tuple[str, str]] = set()
        check_loop(seen, method, target)
        while True:
            async with self._exchange(method, target, request_headers, body, limits) as response:
                location = response.headers.get("location")
                if not (self.follow_redirects and is_redirect(response.status, response.headers)):
                    response.history = history
                    yield response
                    return
                await _drain(response)
            history.append(response)
            assert location is not None
            redirect = next_request(method, target, request_headers, response.status, location)
            if len(history) > self.max_redirects:
                raise TooManyRedirects(
                    f"more than {self.max_redirects} redirects",
                    history=history,
                    method=method,
                    url=str(target),
                )
            if check_loop(seen, redirect.method, redirect.url):
                raise TooManyRedirects(
                    f"redirect loop back to {redirect.url}",
                    history=history,
                    method=method,
                    url=str(target),
                )
            if not redirect.keep_body:
                body = None
            elif not _replayable(body):
                raise HTTPError(
                    f"a {response.status} redirect asks to send the body again, "
                    "but it was a one-shot async iterable (give bytes or a producer)",
                    method=method,
                    url=str(target),
                    phase="redirect",
                )
            method, target, request_headers = redirect.method, redirect.url, redirect.headers

    # -- one exchange ----------------------------------------------------
    @asynccontextmanager
    async def _exchange(
        self, method: str, url: URL, headers: Headers, body: RequestBody, timeout: Timeout
    ) -> AsyncIterator[Response]:
        """One request/response on a pooled connection, retried once if stale."""
        may_retry = method in IDEMPOTENT
        while True:
            async with self._pool.connection(url, method, timeout) as (connection, reused):
                connection.start(method, url)
                try:
                    head = await self._send(connection, method, url, headers, body, timeout)
                except ConnectionLost:
                    # The server closed a kept-alive connection as we reused it.
                    if not (may_retry and reused):
                        raise
                    may_retry = False
                    continue  # leaves the block cleanly: the pool closes it
                response = _response(head, connection, method, url, timeout)
                response._decompress = self.decompress
                response._max_decoded = self.max_decompressed_bytes
                try:
                    yield response
                finally:
                    response.body = response.body if isinstance(response.body, bytes) else None
                return

    async def _send(
        self,
        connection: ClientConnection,
        method: str,
        url: URL,
        headers: Headers,
        body: RequestBody,
        timeout: Timeout,
    ) -> h11.Response:
        wire_headers, payload = _request_body(headers, body)
        fields = [("Host", url.host_header), *wire_headers]
        request = h11.Request(method=method, target=url.target, headers=fields)
        expect = any(n.lower() == "expect" and v.lower() == "100-continue" for n, v in fields)
        if callable(payload):  # a producer: runs in a nursery scoped to this upload
            async with open_producer(payload) as chunks:
                early = await connection.send_request(
                    request, chunks, timeout, expect_continue=expect
                )
        else:
            early = await connection.send_request(request, payload, timeout, expect_continue=expect)
        return early if early is not None else await connection.receive_head(timeout)

    def _merge_headers(self, headers: HeadersLike) -> Headers:
        merged = Headers([("User-Agent", USER_AGENT), ("Accept", "*/*")])
        if self.decompress:
            merged["Accept-Encoding"] = "gzip, deflate"
        for source in (self.headers, Headers(headers)):
            replaced: set[str] = set()
            for name, value in source.items():  # the caller's spelling goes on the wire
                if name.lower() in replaced:
                    merged.add(name, value)
                else:
                    replaced.add(name.lower())
                    merged[name] = value
        return merged


@functools.lru_cache(maxsize=256)
def _parse_cached(url: str) -> URL:
    """Parsing costs a few µs a request; clients ask for the same URLs again."""
    return parse_url(url)


def _as_timeout(timeout: TimeoutLike) -> Timeout:
    if isinstance(timeout, Timeout):
        return timeout
    return Timeout(timeout)


def _replayable(body: RequestBody) -> bool:
    return body is None or isinstance(body, bytes | str) or callable(body)


def _request_body(
    headers: Headers, body: RequestBody
) -> tuple[list[tuple[str, str]], bytes | AsyncIterable[bytes] | Producer | None]:
    """The header fields to send and the body in the form the connection takes."""
    fields = [(n, v) for n, v in headers.items() if n.lower() not in ("host", "transfer-encoding")]
    if body is None:
        return fields, None
    if isinstance(body, str):
        body = body.encode("utf-8")
        if "content-type" not in headers:
            fields.append(("Content-Type", "text/plain; charset=utf-8"))
    if isinstance(body, bytes):
        fields = [(n, v) for n, v in fields if n.lower() != "content-length"]
        return [*fields, ("Content-Length", str(len(body)))], body
    if "content-length" not in headers:
        fields.append(("Transfer-Encoding", "chunked"))
    return fields, body


def _response(
    head: h11.Response,
    connection: ClientConnection,
    method: str,
    url: URL,
    timeout: Timeout,
) -> Response:
    response = Response(
        head.status_code,
        Headers._from_wire(head.headers),
        _NetworkBody(connection, timeout),
        reason=head.reason.decode("latin-1"),
        http_version=head.http_version.decode("ascii"),
    )
    response.url = str(url)
    response._method = method
    return response


class _NetworkBody:
    """A response body still on the connection: iterate it once, inside its block."""

    def __init__(self, connection: ClientConnection, timeout: Timeout) -> None:
        self._connection = connection
        self._timeout = timeout
        self._done = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        chunk = await self._connection.receive_chunk(self._timeout)
        if not chunk:
            self._done = True
            raise StopAsyncIteration
        return chunk


async def _drain(response: Response) -> None:
    """Read a redirect's small body (kept in ``history``) so its connection is reused."""
    chunks: list[bytes] = []
    received = 0
    async for chunk in response.iter_raw():
        chunks.append(chunk)
        received += len(chunk)
        if received > REDIRECT_DRAIN:
            return  # not worth it: the connection will be closed instead
    response.body = b"".join(chunks)
