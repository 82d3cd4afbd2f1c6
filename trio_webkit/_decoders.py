"""Streaming decoders for ``Content-Encoding: gzip`` and ``deflate``.

Theory of operation. A decoder is fed the body as it arrives
(:meth:`ContentDecoder.decode`, once per received chunk) and told when it
ended (:meth:`ContentDecoder.flush`). Both return a lazy iterator of decoded
pieces; the caller must exhaust each iterator before the next call, since
the work (and the state change) happens while it is iterated. The rules:

* **Bounded output.** Every piece is at most ``max_chunk`` bytes, however
  much a chunk expands: zlib is asked for at most ``max_chunk`` bytes at a
  time (``decompress(data, max_chunk)``) and the rest of the input waits in
  ``unconsumed_tail``. A "gzip bomb" (100 KB expanding to 100 MiB) is thus
  produced piece by piece, never as one huge ``bytes``. Empty pieces are
  never yielded; a call may yield nothing.
* **Bounded total.** With ``max_decoded`` set, more than that many decoded
  bytes raise :class:`ProtocolError` ("decompressed body larger than N
  bytes (max_decompressed_bytes) while decoding gzip") before the piece
  that crosses the line is yielded (the client's ``max_decompressed_bytes``
  is this limit; it adds the method and the URL). In a chain
  (below) every stage has the cap, so an intermediate layer cannot churn
  through gigabytes that the next layer shrinks again.
* **Errors are typed.** Corrupt data raises :class:`ProtocolError`
  (``"invalid gzip data: ..."``, ``"invalid deflate data: ..."``), never a
  raw :class:`zlib.error`. A compressed stream that has started but not
  ended when :meth:`~ContentDecoder.flush` is called raises
  :class:`IncompleteBody`: the body was cut short, and a short success would
  be a lie. Every error has ``phase="decode"``; the client adds the method
  and the URL.
* **Empty bodies are fine.** No bytes at all, then ``flush()``, decodes to
  nothing rather than failing: servers send ``Content-Encoding: gzip`` with
  empty 204/304-like bodies all the time.

Codings:

* ``gzip`` / ``x-gzip``: zlib with gzip framing (``wbits=16+MAX_WBITS``),
  CRC and length checked. Concatenated members (RFC 1952 §2.2, what
  ``cat a.gz b.gz`` makes) are decoded one after the other: after a member
  ends, any further byte starts a fresh member. Trailing bytes that are not
  a gzip member are therefore corrupt data (:class:`ProtocolError`), and a
  partial trailing member is a truncation (:class:`IncompleteBody`).
* ``deflate``: RFC 9110 means the zlib format (RFC 1950), but many servers
  send raw deflate (RFC 1951). The first two bytes decide: a valid zlib
  header (method 8, window <= 32 KiB, no preset dictionary, header checksum)
  means zlib, anything else raw. Bytes after the end of the deflate stream
  are ignored, as browsers and curl do: the stream's own end marker (and for
  zlib its Adler-32 checksum) already proves the content complete, and there
  is no "next member" they could belong to.
* ``identity`` (and empty items) mean nothing and are skipped.
* Several codings, ``Content-Encoding: gzip, deflate``, were applied by the
  sender in the order listed, so they are undone in reverse (deflate first,
  then gzip), each stage feeding the next.
* Any other coding (``br``, ``zstd``, ``compress``, ...) anywhere in the
  list makes :func:`decoder_for` return ``None``: the caller then hands the
  body over undecoded, with ``Content-Encoding`` left intact so that the
  user can tell what they got.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from ._errors import IncompleteBody, ProtocolError

DEFAULT_MAX_CHUNK = 65536
_PHASE = "decode"
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_WBITS = -zlib.MAX_WBITS


class ContentDecoder(Protocol):
    """What the client drives: feed the body through ``decode``, then ``flush``."""

    def decode(self, data: bytes) -> Iterator[bytes]:
        """Decode one received chunk of the body.

        Args:
            data: the next bytes of the encoded body (may be empty).

        Yields:
            Decoded pieces, each non-empty and at most ``max_chunk`` bytes.
        """
        ...

    def flush(self) -> Iterator[bytes]:
        """Finish at the end of the body.

        Yields:
            Whatever decoded output remains.

        Raises:
            IncompleteBody: the compressed stream stopped before its end.
        """
        ...


class _ZlibStage:
    """One zlib-based stage: the bounded inflate loop, the cap, error mapping."""

    _name = "zlib"

    def __init__(
        self, *, max_chunk: int = DEFAULT_MAX_CHUNK, max_decoded: int | None = None
    ) -> None:
        if max_chunk < 1:
            raise ValueError(f"max_chunk must be at least 1, not {max_chunk}")
        if max_decoded is not None and max_decoded < 0:
            raise ValueError(f"max_decoded must be None or >= 0, not {max_decoded}")
        self._max_chunk = max_chunk
        self._max_decoded = max_decoded
        self._zobj: zlib._Decompress | None = None
        self.received = 0  # encoded bytes fed in
        self.decoded = 0  # decoded bytes yielded

    def _inflate(self, zobj: zlib._Decompress, data: bytes) -> Iterator[bytes]:
        """Run ``data`` through ``zobj`` in pieces of at most ``max_chunk``."""
        while True:
            try:
                piece = zobj.decompress(data, self._max_chunk)
            except zlib.error as exc:
                raise ProtocolError(f"invalid {self._name} data: {exc}", phase=_PHASE) from exc
            if piece:
                yield self._count(piece)
            data = zobj.unconsumed_tail
            # A short piece means zlib ran out of input; a full one may leave
            # output pending inside zlib even with no tail left, so go again.
            if zobj.eof or (not data and len(piece) < self._max_chunk):
                return

    def _count(self, piece: bytes) -> bytes:
        self.decoded += len(piece)
        if self._max_decoded is not None and self.decoded > self._max_decoded:
            raise ProtocolError(
                f"decompressed body larger than {self._max_decoded} bytes"
                f" (max_decompressed_bytes) while decoding {self._name}",
                phase=_PHASE,
            )
        return piece

    def _truncated(self) -> IncompleteBody:
        return IncompleteBody(
            f"{self._name} stream ended early: the body is incomplete"
            f" ({self.received} encoded bytes received)",
            received=self.received,
            phase=_PHASE,
        )


class GzipDecoder(_ZlibStage):
    """Decodes ``gzip`` / ``x-gzip``, including concatenated members.

    Args:
        max_chunk: largest piece yielded.
        max_decoded: largest total decoded size, or ``None`` for no limit.
    """

    _name = "gzip"

    def decode(self, data: bytes) -> Iterator[bytes]:
        """Decode one received chunk (see :class:`ContentDecoder`)."""
        self.received += len(data)
        while data:
            if self._zobj is None or self._zobj.eof:
                # First member, or bytes after a finished one: a new member.
                self._zobj = zlib.decompressobj(_GZIP_WBITS)
            yield from self._inflate(self._zobj, data)
            data = self._zobj.unused_data if self._zobj.eof else b""

    def flush(self) -> Iterator[bytes]:
        """Finish (see :class:`ContentDecoder`); nothing fed at all is an empty body."""
        if self._zobj is not None and not self._zobj.eof:
            raise self._truncated()
        yield from ()


class DeflateDecoder(_ZlibStage):
    """Decodes ``deflate``, zlib-wrapped or raw (detected from the first two bytes).

    Args:
        max_chunk: largest piece yielded.
        max_decoded: largest total decoded size, or ``None`` for no limit.
    """

    _name = "deflate"

    def __init__(
        self, *, max_chunk: int = DEFAULT_MAX_CHUNK, max_decoded: int | None = None
    ) -> None:
        super().__init__(max_chunk=max_chunk, max_decoded=max_decoded)
        self._head = b""  # the first byte, while waiting for the second one

    def decode(self, data: bytes) -> Iterator[bytes]:
        """Decode one received chunk (see :class:`ContentDecoder`)."""
        self.received += len(data)
        if self._zobj is None:
            data = self._head + data
            if len(data) < 2:
                self._head = data
                return
            self._head = b""
            self._zobj = zlib.decompressobj(_ZLIB_WBITS if _is_zlib_header(data) else _RAW_WBITS)
        if self._zobj.eof or not data:
            return  # bytes after the end of the stream are ignored (module docstring)
        yield from self._inflate(self._zobj, data)

    def flush(self) -> Iterator[bytes]:
        """Finish (see :class:`ContentDecoder`); nothing fed at all is an empty body."""
        if self._head or (self._zobj is not None and not self._zobj.eof):
            raise self._truncated()
        yield from ()


def _is_zlib_header(data: bytes) -> bool:
    """Whether ``data`` starts with an RFC 1950 header we can decode."""
    cmf, flg = data[0], data[1]
    return (
        cmf & 0x0F == 8  # compression method: deflate
        and cmf >> 4 <= 7  # window size at most 32 KiB
        and not flg & 0x20  # no preset dictionary (HTTP has no way to name one)
        and (cmf << 8 | flg) % 31 == 0  # header checksum
    )


class DecoderChain:
    """Several decoders in a row: each one's output is the next one's input.

    Args:
        stages: the decoders in decoding order (the reverse of the header's order).
    """

    def __init__(self, stages: Sequence[ContentDecoder]) -> None:
        if not stages:
            raise ValueError("a DecoderChain needs at least one stage")
        self._stages = tuple(stages)

    def decode(self, data: bytes) -> Iterator[bytes]:
        """Decode one received chunk (see :class:`ContentDecoder`)."""
        return self._through(self._stages[0].decode(data), 1)

    def flush(self) -> Iterator[bytes]:
        """Flush each stage in turn, feeding its last output through the later ones."""
        for index, stage in enumerate(self._stages):
            yield from self._through(stage.flush(), index + 1)

    def _through(self, pieces: Iterator[bytes], start: int) -> Iterator[bytes]:
        """Feed ``pieces`` through the stages from ``start`` on, lazily."""
        if start == len(self._stages):
            yield from pieces
            return
        stage = self._stages[start]
        for piece in pieces:
            yield from self._through(stage.decode(piece), start + 1)


_FACTORIES: dict[str, Callable[..., ContentDecoder]] = {
    "gzip": GzipDecoder,
    "x-gzip": GzipDecoder,
    "deflate": DeflateDecoder,
}


def decoder_for(
    content_encoding: str | None,
    *,
    max_chunk: int = DEFAULT_MAX_CHUNK,
    max_decoded: int | None = None,
) -> ContentDecoder | None:
    """The decoder for a ``Content-Encoding`` value, or ``None`` for "leave the body as is".

    Args:
        content_encoding: the header's value; several header lines must be
            joined with ``", "`` in their order. Case and spaces do not matter.
        max_chunk: largest decoded piece yielded at a time.
        max_decoded: largest total decoded size (each stage of a chain), or
            ``None`` for no limit; more raises :class:`ProtocolError`.

    Returns:
        ``None`` when there is nothing to decode (no header, empty, only
        ``identity``) or when some listed coding is not supported (``br``,
        ``zstd``...): the caller then passes the body on undecoded with its
        ``Content-Encoding``. Otherwise a decoder, a :class:`DecoderChain`
        when several codings are listed.
    """
    if not content_encoding:
        return None
    codings = [token.strip().lower() for token in content_encoding.split(",")]
    codings = [coding for coding in codings if coding and coding != "identity"]
    if not codings or any(coding not in _FACTORIES for coding in codings):
        return None
    stages = [
        _FACTORIES[coding](max_chunk=max_chunk, max_decoded=max_decoded)
        for coding in reversed(codings)
    ]
    return stages[0] if len(stages) == 1 else DecoderChain(stages)
