"""Iterating a response body once: raw, or decoded with bounded pieces.

Plain classes rather than async generators: a user may ``break`` out of
``iter_bytes()`` at any point, and an abandoned async generator would be
finalised later by the garbage collector (trio warns about it); an
iterator object holds no suspended frame, so stopping early costs nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterator

from ._decoders import ContentDecoder
from ._errors import HTTPError


class BodyIterator:
    """Async iterator over a body's chunks, decoded when ``decoder`` is given."""

    def __init__(
        self,
        source: AsyncIterable[bytes] | bytes,
        decoder: ContentDecoder | None = None,
        *,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        self._whole = source if isinstance(source, bytes) else None
        self._chunks = None if isinstance(source, bytes) else source.__aiter__()
        self._decoder = decoder
        self._pieces: Iterator[bytes] = iter(())
        self._flushed = False
        self._context = {"method": method, "url": url}

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def aclose(self) -> None:
        """Stop iterating (so ``contextlib.aclosing`` works); nothing to release."""
        self._whole = None
        self._chunks = None
        self._decoder = None

    async def __anext__(self) -> bytes:
        if self._decoder is None:
            return await self._next_raw()
        try:
            return await self._next_decoded(self._decoder)
        except HTTPError as error:  # the decoder knows neither method nor URL
            raise error.with_context(**self._context) from error.__cause__

    async def _next_raw(self) -> bytes:
        if self._whole is not None:
            whole, self._whole = self._whole, None
            if whole:
                return whole
        if self._chunks is None:
            raise StopAsyncIteration
        return await self._chunks.__anext__()

    async def _next_decoded(self, decoder: ContentDecoder) -> bytes:
        while True:
            piece = next(self._pieces, None)
            if piece is not None:
                return piece
            if self._flushed:
                raise StopAsyncIteration
            try:
                chunk = await self._next_raw()
            except StopAsyncIteration:
                self._flushed = True
                self._pieces = decoder.flush()
            else:
                self._pieces = decoder.decode(chunk)
