"""``open_url``: one reading interface for http, https, file and data URLs (urlopen's idea)."""

# ruff: noqa: ASYNC109 -- ``timeout=`` is a per-phase policy, as on Client.

from __future__ import annotations

import base64
import mimetypes
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, final
from urllib.parse import unquote_to_bytes, urlsplit
from urllib.request import url2pathname

import trio

from ._body_iter import BodyIterator
from ._client import DEFAULT_TIMEOUT, Client, TimeoutLike
from ._errors import HTTPError, InvalidURL, UnsupportedScheme
from ._headers import Headers
from ._httpdate import format_http_date

#: What ``read()`` without a size returns at most per underlying chunk.
CHUNK = 65536


@final
class URLResource:
    """An opened URL: its status, headers and final URL, and its body to ``read``.

    Made by :func:`open_url`, valid inside its ``async with`` block. Read
    the body with :meth:`read`, or iterate it: ``async for chunk in
    resource`` gives chunks of up to 64 KiB.

    Attributes:
        url: the final URL (after redirects for http/https).
        status: the HTTP status (200 for file and data URLs).
        headers: response headers (for files: Content-Type, Content-Length,
            Last-Modified; for data URLs: Content-Type, Content-Length).
    """

    def __init__(self, url: str, status: int, headers: Headers, chunks: AsyncIterator[bytes]):
        self.url = url
        self.status = status
        self.headers = headers
        self._chunks = chunks
        self._buffer = bytearray()
        self._eof = False

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes of the body (``b""`` at its end); all of the rest when ``n < 0``.

        Like a file's ``read``: fewer than ``n`` bytes only at the end of the
        body, ``b""`` once it has ended.

        Args:
            n: how many bytes at most; negative for the whole rest of the body.

        Returns:
            The bytes read.

        Raises:
            HTTPError: reading the body failed (for http and https, a
                :class:`ReadTimeout`, :class:`IncompleteBody`...).
        """
        if n < 0:
            parts = [bytes(self._buffer)]
            self._buffer.clear()
            parts += [chunk async for chunk in self._chunks]
            self._eof = True
            return b"".join(parts)
        while len(self._buffer) < n and not self._eof:
            chunk = await anext(self._chunks, b"")
            if not chunk:
                self._eof = True
            self._buffer += chunk
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self.read(CHUNK)
        if not chunk:
            raise StopAsyncIteration
        return chunk


@asynccontextmanager
async def open_url(
    url: str, *, timeout: TimeoutLike = DEFAULT_TIMEOUT
) -> AsyncIterator[URLResource]:
    """Open ``url`` for reading: ``http``, ``https``, ``file`` or ``data``.

    ::

        async with trio_webkit.open_url("http://127.0.0.1:8000/") as page:
            print(page.status, page.headers["content-type"])
            first = await page.read(100)

    HTTP redirects are followed; a 4xx/5xx raises :class:`HTTPStatusError`
    (as ``urlopen`` raises HTTPError). The body is read lazily, in bounded
    memory; leaving the block closes the connection or the file.

    Args:
        url: an ``http``, ``https``, ``file`` or ``data`` URL.
        timeout: per-phase limits for http and https.

    Yields:
        A :class:`URLResource` with ``status``, ``headers``, ``url`` and
        ``read(n)``.

    Raises:
        UnsupportedScheme: any other scheme.
        HTTPError: the file cannot be opened, the data URL is malformed, or
            any client error for http/https.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        async with Client(timeout=timeout) as client, client.stream("GET", url) as response:
            response.raise_for_status()
            yield URLResource(
                response.url, response.status, response.headers, response.iter_bytes()
            )
    elif scheme == "file":
        async with _open_file(url) as resource:
            yield resource
    elif scheme == "data":
        yield _open_data(url)
    else:
        raise UnsupportedScheme(f"open_url does not speak {scheme or 'scheme-less'} URLs", url=url)


@asynccontextmanager
async def _open_file(url: str) -> AsyncIterator[URLResource]:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise InvalidURL(f"file URLs on another host ({parts.netloc}) are not supported", url=url)
    path = trio.Path(url2pathname(parts.path))
    try:
        stat = await path.stat()
        file = await path.open("rb")
    except OSError as error:
        raise HTTPError(f"cannot open {path}: {error.strerror}", url=url, phase="open") from error
    async with file:
        headers = Headers(
            [
                ("Content-Type", mimetypes.guess_type(str(path))[0] or "application/octet-stream"),
                ("Content-Length", str(stat.st_size)),
                ("Last-Modified", format_http_date(stat.st_mtime)),
            ]
        )
        yield URLResource(url, 200, headers, _FileChunks(file))


class _FileChunks:
    """A file's chunks as an async iterator (no generator left suspended on exit)."""

    def __init__(self, file: Any) -> None:
        self._file = file

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        chunk: bytes = await self._file.read(CHUNK)
        if not chunk:
            raise StopAsyncIteration
        return chunk


def _open_data(url: str) -> URLResource:
    """RFC 2397: ``data:[<mediatype>][;base64],<data>``."""
    header, comma, payload = url[len("data:") :].partition(",")
    if not comma:
        raise InvalidURL("a data URL needs a ',' before its data", url=url)
    is_base64 = header.endswith(";base64")
    media_type = header[: -len(";base64")] if is_base64 else header
    data = unquote_to_bytes(payload)
    if is_base64:
        try:
            data = base64.b64decode(data, validate=True)
        except ValueError as error:
            raise InvalidURL(f"invalid base64 in a data URL: {error}", url=url) from None
    headers = Headers(
        [
            ("Content-Type", media_type or "text/plain;charset=US-ASCII"),
            ("Content-Length", str(len(data))),
        ]
    )
    return URLResource(url, 200, headers, BodyIterator(data))
