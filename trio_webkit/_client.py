"""Client: requests over a keep-alive pool, streaming, consumers, redirects.

The client runs no task of its own: every request runs in the caller's
task, under the caller's cancel scopes, so ``async with Client()`` never
wraps a user's error in an ExceptionGroup, and a ``trio.fail_after`` around
any call simply works. Leaving the ``async with`` closes the pool.
"""

# ruff: noqa: ASYNC109 -- ``timeout=`` selects a per-phase *policy* (the
# brief's API); the caller's own cancel scopes still apply on top of it.

from __future__ import annotations

import ssl
from collections.abc import AsyncIterable
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, TypeAlias, final

import h11

from ._client_connection import ClientConnection, ConnectionLost
from ._consumer import Consumer, maybe_await
from ._errors import HTTPError, TooManyRedirects
from ._headers import Headers, HeadersLike
from ._pool import ConnectionPool, Lease, PoolStatistics
from ._producer import Producer, open_producer
from ._redirects import REDIRECT_STATUSES, check_loop, is_redirect, next_request
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
#: Parsed URLs and prepared request heads kept per client (then the cache starts over).
CACHE_SIZE = 256

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
        # The request headers when the caller gives none (the defaults merged with
        # ``self.headers``), rebuilt whenever ``headers`` or ``decompress`` change.
        self._defaults_key: tuple[Any, ...] | None = None
        self._defaults = Headers()
        # ``(method, url) -> (h11.Request, expect 100-continue)`` for requests
        # with those default headers and no body: h11 validates a head once.
        self._prepared: dict[tuple[str, str], tuple[h11.Request, bool]] = {}

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

    def stream(
        self,
        method: str,
        url: str | URL,
        *,
        headers: HeadersLike = None,
        body: RequestBody = None,
        timeout: TimeoutLike = _UNSET,
    ) -> AbstractAsyncContextManager[Response]:
        """Send a request; yield the response with its body not read yet.

        Use it as ``async with client.stream(...) as response:``. Read the
        body with ``async for chunk in response.iter_bytes()``,
        ``iter_raw()`` or ``await response.read()`` inside the block. The
        connection goes back to the pool only if the body was read to the
        end; otherwise leaving the block closes it.

        Args:
            method: the request method.
            url: an absolute ``http`` or ``https`` URL.
            headers: sent with this request, over the client's own.
            body: as for :meth:`request`.
            timeout: this request's per-phase limits (default: the client's).

        Returns:
            An async context manager whose ``__aenter__`` sends the request
            (following redirects) and gives the final :class:`Response`,
            body unread.

        Raises:
            HTTPError: a subclass naming the method, URL and phase (when the
                block is entered).
        """
        return _Stream(self, method, url, headers, body, timeout)

    # -- one exchange ----------------------------------------------------
    async def _open(
        self,
        method: str,
        url: URL,
        text: str,
        headers: Headers,
        body: RequestBody,
        timeout: Timeout,
    ) -> tuple[Response, Lease]:
        """One request on a pooled connection (retried once if it was stale).

        Returns the response, body unread, and the lease of its connection:
        the caller must give it to ``self._pool.release`` exactly once.
        """
        may_retry = method in IDEMPOTENT
        pool = self._pool
        while True:
            lease = await pool.acquire(url, method, timeout)
            connection = lease.connection
            assert connection is not None
            try:
                connection.start(method, text)
                head = await self._send(connection, method, url, text, headers, body, timeout)
            except ConnectionLost:
                # The server closed a kept-alive connection as we reused it.
                if not (may_retry and lease.reused):
                    await pool.release(lease, failed=True)
                    raise
                may_retry = False
                await pool.release(lease, failed=False)  # not reusable: the pool closes it
                continue
            except BaseException:
                await pool.release(lease, failed=True)
                raise
            response = Response(
                head.status_code,
                None,
                connection.body(timeout),
                reason=head.reason.decode("latin-1"),
                http_version=head.http_version.decode("ascii"),
            )
            # h11 validated these: decoded only if someone reads them.
            response.headers = Headers._from_wire(head.headers)
            response.url = text
            response._method = method
            # Only a body that came with a Content-Encoding has anything to decode.
            response._decompress = self.decompress and _names_an_encoding(head)
            response._max_decoded = self.max_decompressed_bytes
            return response, lease

    async def _send(
        self,
        connection: ClientConnection,
        method: str,
        url: URL,
        text: str,
        headers: Headers,
        body: RequestBody,
        timeout: Timeout,
    ) -> h11.Response:
        if body is None and headers is self._defaults:
            request, expect = self._prepared_request(method, url, text, headers)
            payload: bytes | AsyncIterable[bytes] | Producer | None = None
        else:
            request, expect, payload = _prepare(method, url, headers, body)
        if not expect and (payload is None or isinstance(payload, bytes)):
            return await connection.exchange(request, payload, timeout)
        if callable(payload):  # a producer: runs in a nursery scoped to this upload
            async with open_producer(payload) as chunks:
                early = await connection.send_request(
                    request, chunks, timeout, expect_continue=expect
                )
        else:
            early = await connection.send_request(request, payload, timeout, expect_continue=expect)
        return early if early is not None else await connection.receive_head(timeout)

    def _prepared_request(
        self, method: str, url: URL, text: str, headers: Headers
    ) -> tuple[h11.Request, bool]:
        """The h11 event for a body-less request with the default headers, built once.

        h11 events are immutable, so one event can be sent on any number of
        connections: h11 still checks each connection's state and writes
        the head every time; only building and validating the event is saved.
        """
        key = (method, text)
        prepared = self._prepared.get(key)
        if prepared is None:
            request, expect, _ = _prepare(method, url, headers, None)
            if len(self._prepared) >= CACHE_SIZE:
                self._prepared.clear()
            prepared = self._prepared[key] = (request, expect)
        return prepared

    def _request_headers(self, headers: HeadersLike) -> Headers:
        """The headers to send: the defaults, the client's, then the call's own.

        With no headers of its own, a request shares one merged object,
        rebuilt when ``self.headers`` or ``self.decompress`` changed; nobody
        modifies it (redirects copy it).
        """
        if headers is not None:
            return self._merge_headers(headers)
        key = (self.decompress, tuple(self.headers.items()))
        if key != self._defaults_key:
            self._defaults = self._merge_headers(None)
            self._defaults_key = key
            self._prepared.clear()
        return self._defaults

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


_parsed_urls: dict[str, tuple[URL, str]] = {}


def _parse_cached(url: str) -> tuple[URL, str]:
    """The parsed URL and its text: parsing costs a few µs, clients ask for the same URLs."""
    parsed = _parsed_urls.get(url)
    if parsed is None:
        target = parse_url(url)
        if len(_parsed_urls) >= CACHE_SIZE:
            _parsed_urls.clear()
        parsed = _parsed_urls[url] = (target, str(target))
    return parsed


def _names_an_encoding(head: h11.Response) -> bool:
    """Whether the response head has a Content-Encoding field."""
    return any(name.lower() == b"content-encoding" for name, _ in head.headers.raw_items())


def _as_timeout(timeout: TimeoutLike) -> Timeout:
    if isinstance(timeout, Timeout):
        return timeout
    return Timeout(timeout)


def _replayable(body: RequestBody) -> bool:
    return body is None or isinstance(body, bytes | str) or callable(body)


def _prepare(
    method: str, url: URL, headers: Headers, body: RequestBody
) -> tuple[h11.Request, bool, bytes | AsyncIterable[bytes] | Producer | None]:
    """The h11 request event, whether it expects 100-continue, and the body to send."""
    wire_headers, payload = _request_body(headers, body)
    fields = [("Host", url.host_header), *wire_headers]
    request = h11.Request(method=method, target=url.target, headers=fields)
    expect = any(n.lower() == "expect" and v.lower() == "100-continue" for n, v in fields)
    return request, expect, payload


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


@final
class _Stream:
    """What :meth:`Client.stream` returns: the request is sent on ``__aenter__``.

    ``__aenter__`` follows redirects and returns the final response, its
    connection held by a pool lease; ``__aexit__`` gives the lease back,
    which keeps the connection only if the body was read to its end and the
    block did not raise (a cancelled or failed exchange closes it). A class
    rather than an ``@asynccontextmanager``: it runs once per request.
    """

    __slots__ = ("_args", "_client", "_entered", "_lease", "_response")

    def __init__(
        self,
        client: Client,
        method: str,
        url: str | URL,
        headers: HeadersLike,
        body: RequestBody,
        timeout: TimeoutLike,
    ) -> None:
        self._client = client
        self._args = (method, url, headers, body, timeout)
        self._entered = False
        self._lease: Lease | None = None
        self._response: Response | None = None

    async def __aenter__(self) -> Response:
        if self._entered:
            raise RuntimeError("a client.stream(...) block cannot be entered twice")
        self._entered = True
        client = self._client
        method, url, headers, body, timeout = self._args
        limits = client.timeout if timeout is _UNSET else _as_timeout(timeout)
        method = method.upper()
        if isinstance(url, str):
            target, text = _parse_cached(url)
        else:
            target = parse_url(url)
            text = str(target)
        request_headers = client._request_headers(headers)
        history: list[Response] = []
        seen: set[tuple[str, str]] | None = None  # (method, URL) sent, from the 1st redirect on
        while True:
            response, lease = await client._open(
                method, target, text, request_headers, body, limits
            )
            try:
                status = response.status
                if not (
                    client.follow_redirects
                    and status in REDIRECT_STATUSES
                    and is_redirect(status, response.headers)
                ):
                    if history:
                        response.history = history
                    self._response, self._lease = response, lease
                    return response
                location = response.headers.get("location")
                await _drain(response)
            except BaseException:
                await _end(client, response, lease, failed=True)
                raise
            await _end(client, response, lease, failed=False)
            history.append(response)
            if seen is None:
                seen = set()
                check_loop(seen, method, target)
            assert location is not None
            redirect = next_request(method, target, request_headers, status, location)
            if len(history) > client.max_redirects:
                raise TooManyRedirects(
                    f"more than {client.max_redirects} redirects",
                    history=history,
                    method=method,
                    url=text,
                )
            if check_loop(seen, redirect.method, redirect.url):
                raise TooManyRedirects(
                    f"redirect loop back to {redirect.url}",
                    history=history,
                    method=method,
                    url=text,
                )
            if not redirect.keep_body:
                body = None
            elif not _replayable(body):
                raise HTTPError(
                    f"a {status} redirect asks to send the body again, "
                    "but it was a one-shot async iterable (give bytes or a producer)",
                    method=method,
                    url=text,
                    phase="redirect",
                )
            method, target, request_headers = redirect.method, redirect.url, redirect.headers
            text = str(target)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        response, lease = self._response, self._lease
        if response is None or lease is None:
            return
        self._lease = None
        await _end(self._client, response, lease, failed=exc_type is not None)


async def _end(client: Client, response: Response, lease: Lease, *, failed: bool) -> None:
    """An exchange is over: a body not read whole is gone; the connection goes back (or closes)."""
    response.body = response.body if isinstance(response.body, bytes) else None
    await client._pool.release(lease, failed=failed)


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
