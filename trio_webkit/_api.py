"""Module-level shortcuts: one :class:`Client` per call."""

# ruff: noqa: ASYNC109 -- ``timeout=`` is a per-phase policy, as on Client.

from __future__ import annotations

import os
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio

from ._client import (
    DEFAULT_MAX_DECOMPRESSED,
    DEFAULT_TIMEOUT,
    Client,
    RequestBody,
    TimeoutLike,
)
from ._consumer import Consumer, maybe_await
from ._headers import HeadersLike
from ._response import Response

#: ``progress(received_bytes, total_bytes_or_None)``, plain or async.
Progress = Callable[[int, int | None], Awaitable[None] | None]


async def get(
    url: str,
    *,
    headers: HeadersLike = None,
    timeout: TimeoutLike = DEFAULT_TIMEOUT,
    follow_redirects: bool = True,
    max_redirects: int = 10,
    ssl_context: ssl.SSLContext | None = None,
    max_decompressed_bytes: int | None = DEFAULT_MAX_DECOMPRESSED,
) -> Response:
    """GET ``url`` with a one-off :class:`Client` and read the whole body.

    ``await trio_webkit.get("http://127.0.0.1:8000/")``

    Args:
        url: an absolute ``http`` or ``https`` URL.
        headers: extra request headers.
        timeout: per-phase limits (:class:`Timeout`, seconds, or ``None``).
        follow_redirects: follow 3xx redirects.
        max_redirects: more raise :class:`TooManyRedirects`.
        ssl_context: for https (default: verify with the system's CAs).
        max_decompressed_bytes: the largest decoded body (see :class:`Client`).

    Returns:
        The final :class:`Response`, ``content`` read.

    Raises:
        HTTPError: a subclass naming the method, URL and phase.
    """
    async with Client(
        timeout=timeout,
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        ssl_context=ssl_context,
        max_decompressed_bytes=max_decompressed_bytes,
    ) as client:
        return await client.get(url, headers=headers)


async def fetch(
    url: str,
    consumer: Consumer,
    *,
    method: str = "GET",
    headers: HeadersLike = None,
    body: RequestBody = None,
    timeout: TimeoutLike = DEFAULT_TIMEOUT,
    follow_redirects: bool = True,
    max_redirects: int = 10,
    ssl_context: ssl.SSLContext | None = None,
    max_decompressed_bytes: int | None = DEFAULT_MAX_DECOMPRESSED,
) -> Response:
    """Stream ``url``'s body into ``consumer`` (see :meth:`Client.fetch`).

    Args:
        url: an absolute ``http`` or ``https`` URL.
        consumer: ``feed(data)``, ``close()`` and optional
            ``http_header(response)``, each plain or async.
        method: the request method.
        headers: extra request headers.
        body: a request body, as for :meth:`Client.request`.
        timeout: per-phase limits.
        follow_redirects: follow 3xx redirects.
        max_redirects: more raise :class:`TooManyRedirects`.
        ssl_context: for https.
        max_decompressed_bytes: the largest decoded body (see :class:`Client`).

    Returns:
        The final :class:`Response` (its body went to the consumer).

    Raises:
        HTTPError: a subclass naming the method, URL and phase;
            ``consumer.close()`` is then not called.
    """
    async with Client(
        timeout=timeout,
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        ssl_context=ssl_context,
        max_decompressed_bytes=max_decompressed_bytes,
    ) as client:
        return await client.fetch(url, consumer, method=method, headers=headers, body=body)


async def download(
    url: str,
    path: str | os.PathLike[str],
    *,
    progress: Progress | None = None,
    headers: HeadersLike = None,
    timeout: TimeoutLike = DEFAULT_TIMEOUT,
    ssl_context: ssl.SSLContext | None = None,
    max_decompressed_bytes: int | None = DEFAULT_MAX_DECOMPRESSED,
) -> Response:
    """Save ``url``'s body to ``path``, in bounded memory; return the response.

    The body goes to a temporary file beside ``path`` that is renamed only
    once the whole body arrived, so a failed download never leaves a
    truncated file under the final name (nor any temporary file). A 4xx/5xx
    raises :class:`HTTPStatusError` and writes nothing. ``progress`` is
    called after each chunk with the bytes received so far and the total
    (``None`` when the server did not say).

    Args:
        url: an absolute ``http`` or ``https`` URL.
        path: where to save the body.
        progress: ``progress(received, total)``, plain or async.
        headers: extra request headers.
        timeout: per-phase limits.
        ssl_context: for https.
        max_decompressed_bytes: the largest decoded body (see :class:`Client`);
            a larger one raises :class:`ProtocolError` and leaves no file.

    Returns:
        The final :class:`Response` (its body is in the file).

    Raises:
        HTTPStatusError: a 4xx or 5xx answer; nothing is written.
        HTTPError: any other failure; no file is left behind.
    """
    target = Path(path)
    partial = target.with_name(f".{target.name}.part")
    async with Client(
        timeout=timeout, ssl_context=ssl_context, max_decompressed_bytes=max_decompressed_bytes
    ) as client:
        async with client.stream("GET", url, headers=headers) as response:
            response.raise_for_status()
            total = _content_length(response)
            try:
                await _save(response, partial, total, progress)
            except BaseException:
                with trio.move_on_after(5) as cleanup:  # bounded, and even when cancelled
                    cleanup.shield = True
                    await trio.Path(partial).unlink(missing_ok=True)
                raise
        await trio.Path(partial).replace(target)
    return response


async def _save(
    response: Response, path: Path, total: int | None, progress: Progress | None
) -> None:
    received = 0
    async with await trio.open_file(path, "wb") as file:
        async for chunk in response.iter_bytes():
            await file.write(chunk)
            received += len(chunk)
            if progress is not None:
                await maybe_await(progress(received, total))


def _content_length(response: Response) -> int | None:
    value = response.headers.get("content-length")
    if value is None or not value.isdigit() or response.headers.get("content-encoding"):
        return None  # decoded size unknown when the body is compressed
    return int(value)
