"""Streaming Content-Encoding decoders (``trio_webkit._decoders``).

* ``decoder_for`` returns ``None`` when there is nothing to decode (no
  header, empty, ``identity``) and when any listed coding is unsupported
  (``br``, ``zstd``, ``compress``...): the body then stays encoded.
* gzip, x-gzip and deflate (zlib-wrapped *and* raw, told apart by the first
  two bytes) round-trip; so do concatenated gzip members and chains such as
  ``gzip, deflate`` (undone in reverse order).
* The output does not depend on how the input was split: byte by byte, odd
  sizes and all at once give the same bytes.
* Memory is bounded: no piece is larger than ``max_chunk`` and no piece is
  empty, even for a 100 MiB gzip bomb; ``max_decoded`` caps the total (per
  stage of a chain) with a ``ProtocolError``.
* Corrupt data is a ``ProtocolError`` (never a bare ``zlib.error``); a
  stream cut short is an ``IncompleteBody`` at ``flush()``, never a short
  success; an empty body decodes to nothing; bytes after the end of a
  deflate stream are ignored, after a gzip member they must be another member.
"""

from __future__ import annotations

import gzip
import os
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import pytest

from trio_webkit._decoders import (
    ContentDecoder,
    DecoderChain,
    DeflateDecoder,
    GzipDecoder,
    decoder_for,
)
from trio_webkit._errors import IncompleteBody, ProtocolError

Encoder = Callable[[bytes], bytes]

TEXT = b"".join(b"line %d: the quick brown fox jumps over the lazy dog\n" % i for i in range(400))
RANDOM = os.urandom(100_000)  # incompressible: stored blocks
PAYLOADS = {"empty": b"", "one-byte": b"x", "text": TEXT, "random": RANDOM}


def zlib_deflate(data: bytes, level: int = 6, wbits: int = 15) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, wbits)
    return compressor.compress(data) + compressor.flush()


def raw_deflate(data: bytes, level: int = 6) -> bytes:
    return zlib_deflate(data, level, -15)


def gzip_level(level: int) -> Encoder:
    return lambda data: gzip.compress(data, compresslevel=level)


def chain(*encoders: Encoder) -> Encoder:
    """Apply ``encoders`` in order, as a sender listing them in that order does."""

    def encode(data: bytes) -> bytes:
        for encoder in encoders:
            data = encoder(data)
        return data

    return encode


def pieces_of(decoder: ContentDecoder, chunks: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        yield from decoder.decode(chunk)
    yield from decoder.flush()


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def decode_all(header: str, body: bytes, size: int | None = None, **kw: int) -> bytes:
    decoder = decoder_for(header, **kw)
    assert decoder is not None
    return b"".join(pieces_of(decoder, [body] if size is None else split(body, size)))


# --- which decoder ---------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "identity",
        "IDENTITY",
        " , ",
        "identity, identity",
        "br",
        "zstd",
        "compress",
        "x-compress",
        "gzip, br",
        "br, gzip",
        "deflate, zstd, gzip",
        "gzip;q=1",
    ],
)
def test_nothing_to_decode_or_unsupported_gives_none(header: str | None) -> None:
    assert decoder_for(header) is None


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("gzip", GzipDecoder),
        ("x-gzip", GzipDecoder),
        ("GZip", GzipDecoder),
        (" gzip ", GzipDecoder),
        ("deflate", DeflateDecoder),
        ("identity, gzip", GzipDecoder),
        ("gzip, identity", GzipDecoder),
        ("gzip, deflate", DecoderChain),
        ("gzip,gzip", DecoderChain),
    ],
)
def test_decoder_kind(header: str, kind: type) -> None:
    assert isinstance(decoder_for(header), kind)


@pytest.mark.parametrize("max_chunk", [0, -1])
def test_max_chunk_must_be_positive(max_chunk: int) -> None:
    with pytest.raises(ValueError, match="max_chunk"):
        decoder_for("gzip", max_chunk=max_chunk)


def test_max_decoded_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="max_decoded"):
        decoder_for("deflate", max_decoded=-1)


# --- round trips -----------------------------------------------------------


@dataclass(frozen=True)
class Coding:
    id: str
    header: str
    encode: Encoder


CODINGS = [
    Coding("gzip", "gzip", gzip.compress),
    Coding("gzip-level-1", "gzip", gzip_level(1)),
    Coding("gzip-level-0-stored", "gzip", gzip_level(0)),
    Coding("x-gzip", "x-gzip", gzip.compress),
    Coding("GZIP-uppercase", "GZIP", gzip.compress),
    Coding("deflate-zlib", "deflate", zlib_deflate),
    Coding("deflate-zlib-level-1", "deflate", lambda d: zlib_deflate(d, 1)),
    Coding("deflate-zlib-level-9", "deflate", lambda d: zlib_deflate(d, 9)),
    Coding("deflate-zlib-level-0", "deflate", lambda d: zlib_deflate(d, 0)),
    Coding("deflate-zlib-small-window", "deflate", lambda d: zlib_deflate(d, 6, 9)),
    Coding("deflate-raw", "deflate", raw_deflate),
    Coding("deflate-raw-level-1", "deflate", lambda d: raw_deflate(d, 1)),
    Coding("deflate-raw-level-0-stored", "deflate", lambda d: raw_deflate(d, 0)),
    Coding("deflate-raw-level-9", "deflate", lambda d: raw_deflate(d, 9)),
    Coding("gzip,deflate", "gzip, deflate", chain(gzip.compress, zlib_deflate)),
    Coding("gzip,raw-deflate", "gzip,deflate", chain(gzip.compress, raw_deflate)),
    Coding("deflate,gzip", "deflate, gzip", chain(zlib_deflate, gzip.compress)),
    Coding("gzip,gzip", "gzip, gzip", chain(gzip.compress, gzip.compress)),
    Coding(
        "identity,x-gzip,identity,deflate",
        "identity, x-gzip, identity, deflate",
        chain(gzip.compress, raw_deflate),
    ),
    Coding(
        "concatenated-gzip",
        "gzip",
        lambda d: gzip.compress(d[:1000]) + gzip.compress(d[1000:5000]) + gzip.compress(d[5000:]),
    ),
    Coding(
        "concatenated-gzip-with-empty-members",
        "gzip",
        lambda d: gzip.compress(b"") + gzip.compress(d) + gzip.compress(b"") + gzip.compress(b""),
    ),
]


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
@pytest.mark.parametrize("coding", CODINGS, ids=[c.id for c in CODINGS])
def test_round_trip(coding: Coding, payload: bytes) -> None:
    assert decode_all(coding.header, coding.encode(payload)) == payload


# Splits cover: one byte at a time (every member and header boundary falls
# mid-call), sizes prime to every block size, and all at once.
SPLITS = [1, 2, 3, 7, 64, 1021, None]
SPLIT_CODINGS = [c for c in CODINGS if "level" not in c.id and "uppercase" not in c.id]


@pytest.mark.parametrize("size", SPLITS, ids=[f"split-{s}" for s in SPLITS])
@pytest.mark.parametrize("coding", SPLIT_CODINGS, ids=[c.id for c in SPLIT_CODINGS])
def test_how_the_input_is_split_does_not_matter(coding: Coding, size: int | None) -> None:
    body = coding.encode(TEXT[:6000])
    assert decode_all(coding.header, body, size) == TEXT[:6000]


def test_empty_input_chunks_are_harmless() -> None:
    decoder = decoder_for("gzip, deflate")
    assert decoder is not None
    body = zlib_deflate(gzip.compress(TEXT))
    chunks = [b""] + [part for piece in split(body, 100) for part in (piece, b"")]
    assert b"".join(pieces_of(decoder, chunks)) == TEXT


@pytest.mark.parametrize("max_chunk", [1, 7, 1000, 65536])
@pytest.mark.parametrize("size", [1, 37, None])
@pytest.mark.parametrize("coding", SPLIT_CODINGS, ids=[c.id for c in SPLIT_CODINGS])
def test_pieces_are_bounded_and_never_empty(
    coding: Coding, size: int | None, max_chunk: int
) -> None:
    # Zeros expand a lot: zlib often has output left after eating all input,
    # which is exactly where a careless loop would return early and lose data.
    payload = bytes(20_000) + TEXT[:3000]
    body = coding.encode(payload)
    decoder = decoder_for(coding.header, max_chunk=max_chunk)
    assert decoder is not None
    pieces = list(pieces_of(decoder, [body] if size is None else split(body, size)))
    assert all(0 < len(piece) <= max_chunk for piece in pieces)
    assert b"".join(pieces) == payload


# --- bounded memory: a gzip bomb ----------------------------------------------

BOMB_SIZE = 100 * 1024 * 1024


def compressed_zeros(wbits: int, size: int = BOMB_SIZE) -> bytes:
    """``size`` zero bytes compressed, without ever holding them all."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = bytes(1 << 20)
    parts = [compressor.compress(zeros) for _ in range(size // len(zeros))]
    return b"".join([*parts, compressor.flush()])


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    return compressed_zeros(16 + zlib.MAX_WBITS)


@pytest.mark.parametrize(
    ("header", "wrap"),
    [
        ("gzip", lambda bomb: bomb),
        ("gzip, gzip", gzip.compress),  # ~100 KB → ~0.3 KB: the chain must stay bounded too
    ],
)
def test_gzip_bomb_comes_out_in_bounded_pieces(
    gzip_bomb: bytes, header: str, wrap: Encoder
) -> None:
    body = wrap(gzip_bomb)
    assert len(body) < 150_000
    decoder = decoder_for(header, max_chunk=65536)
    assert decoder is not None
    started = time.perf_counter()
    tracemalloc.start()
    try:
        total = count = largest = 0
        for piece in pieces_of(decoder, split(body, 16384)):
            total += len(piece)
            count += 1
            largest = max(largest, len(piece))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == BOMB_SIZE
    assert largest == 65536
    assert count >= BOMB_SIZE // 65536
    assert peak < 4 * 1024 * 1024, f"peak traced memory {peak} bytes"
    assert time.perf_counter() - started < 10


def test_raw_deflate_bomb_comes_out_in_bounded_pieces() -> None:
    body = compressed_zeros(-zlib.MAX_WBITS, 16 * 1024 * 1024)
    decoder = decoder_for("deflate", max_chunk=4096)
    assert decoder is not None
    lengths = [len(piece) for piece in pieces_of(decoder, [body])]
    assert max(lengths) == 4096
    assert sum(lengths) == 16 * 1024 * 1024


# --- max_decoded -----------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib_deflate),
        ("gzip, deflate", chain(gzip.compress, zlib_deflate)),
    ],
)
def test_max_decoded_exceeded(header: str, encode: Encoder) -> None:
    body = encode(TEXT)
    with pytest.raises(ProtocolError) as info:
        decode_all(header, body, 100, max_decoded=len(TEXT) - 1)
    assert f"decompressed body larger than {len(TEXT) - 1} bytes" in str(info.value)
    assert info.value.phase == "decode"
    assert not isinstance(info.value, IncompleteBody)


@pytest.mark.parametrize("header", ["gzip", "deflate"])
def test_max_decoded_exactly_reached_is_fine(header: str) -> None:
    body = gzip.compress(TEXT) if header == "gzip" else raw_deflate(TEXT)
    assert decode_all(header, body, max_decoded=len(TEXT)) == TEXT


def test_max_decoded_stops_a_bomb_early(gzip_bomb: bytes) -> None:
    decoder = decoder_for("gzip", max_decoded=1_000_000)
    assert decoder is not None
    received = 0
    with pytest.raises(ProtocolError, match="larger than 1000000 bytes"):
        for piece in pieces_of(decoder, [gzip_bomb]):
            received += len(piece)
    assert received <= 1_000_000  # the piece crossing the line is never handed out


def test_max_decoded_applies_to_every_stage_of_a_chain() -> None:
    # The intermediate layer is megabytes of empty gzip members: the final
    # output is empty, but the work in between is still capped.
    intermediate = gzip.compress(b"") * 100_000
    body = gzip.compress(intermediate)
    assert decode_all("gzip, gzip", body) == b""
    with pytest.raises(ProtocolError, match="larger than 100000 bytes"):
        decode_all("gzip, gzip", body, max_decoded=100_000)


# --- corrupt data ----------------------------------------------------------


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0xFF]) + data[index + 1 :]


CORRUPT = [
    ("gzip", "gzip", b"this is not gzip at all"),
    ("gzip-bad-magic", "gzip", flip(gzip.compress(TEXT), 0)),
    ("gzip-bad-crc", "gzip", flip(gzip.compress(TEXT), -8)),
    ("gzip-bad-length", "gzip", flip(gzip.compress(TEXT), -1)),
    ("gzip-bad-body", "gzip", flip(gzip.compress(TEXT), 40)),
    ("gzip-trailing-garbage", "gzip", gzip.compress(TEXT) + b"garbage!"),
    ("gzip-trailing-zeros", "gzip", gzip.compress(TEXT) + bytes(16)),
    ("x-gzip-second-member-bad", "x-gzip", gzip.compress(b"a") + flip(gzip.compress(b"b"), 3)),
    ("deflate-zlib-bad-adler", "deflate", flip(zlib_deflate(TEXT), -1)),
    ("deflate-zlib-bad-body", "deflate", flip(zlib_deflate(TEXT), 30)),
    ("deflate-raw-bad-block-type", "deflate", b"\xff\xff\xff\xff"),
    ("deflate-text", "deflate", b"hello, world, not compressed"),
    ("chain-inner-bad", "gzip, deflate", zlib_deflate(b"not gzip inside a good deflate")),
]


@pytest.mark.parametrize("size", [1, None], ids=["byte-by-byte", "whole"])
@pytest.mark.parametrize(("header", "body"), [c[1:] for c in CORRUPT], ids=[c[0] for c in CORRUPT])
def test_corrupt_data_is_a_protocol_error(header: str, body: bytes, size: int | None) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_all(header, body, size)
    assert not isinstance(info.value, IncompleteBody)
    assert isinstance(info.value.__cause__, zlib.error)
    assert info.value.phase == "decode"
    assert str(info.value).startswith(("invalid gzip data: ", "invalid deflate data: "))


def test_corrupt_gzip_message() -> None:
    with pytest.raises(ProtocolError, match=r"^invalid gzip data: "):
        decode_all("gzip", b"\x1f\x8b garbage garbage garbage")
    with pytest.raises(ProtocolError, match=r"^invalid deflate data: "):
        decode_all("deflate", b"\xff\xff\xff\xff")


# --- truncation -----------------------------------------------------------


def cuts(body: bytes) -> list[int]:
    """Where to cut: inside the header, the data and the trailer."""
    return sorted({1, 2, 5, 10, len(body) // 2, len(body) - 4, len(body) - 1})


TRUNCATABLE = [
    ("gzip", gzip.compress(TEXT)),
    ("x-gzip", gzip.compress(b"")),
    ("deflate", zlib_deflate(TEXT)),
    ("deflate", raw_deflate(TEXT)),
    ("gzip, deflate", zlib_deflate(gzip.compress(TEXT))),
    ("gzip, deflate", raw_deflate(gzip.compress(TEXT))),
]


@pytest.mark.parametrize(
    ("header", "body", "cut"),
    [(h, b, cut) for h, b in TRUNCATABLE for cut in cuts(b)],
)
def test_truncated_stream_is_incomplete_at_flush(header: str, body: bytes, cut: int) -> None:
    decoder = decoder_for(header)
    assert decoder is not None
    decoded = b"".join(piece for chunk in split(body[:cut], 3) for piece in decoder.decode(chunk))
    assert TEXT.startswith(decoded)  # everything decodable so far was handed out
    with pytest.raises(IncompleteBody) as info:
        list(decoder.flush())
    assert info.value.phase == "decode"
    assert "incomplete" in str(info.value)


def test_truncated_second_gzip_member_is_incomplete() -> None:
    body = gzip.compress(b"first") + gzip.compress(b"second")[:-3]
    decoder = decoder_for("gzip")
    assert decoder is not None
    # The second member's data streams out; only its missing trailer is noticed.
    assert b"".join(decoder.decode(body)) == b"firstsecond"
    with pytest.raises(IncompleteBody):
        list(decoder.flush())


def test_incomplete_body_counts_encoded_bytes() -> None:
    decoder = GzipDecoder()
    list(decoder.decode(gzip.compress(TEXT)[:50]))
    with pytest.raises(IncompleteBody) as info:
        list(decoder.flush())
    assert info.value.received == 50
    assert info.value.expected is None


# --- edge cases decided in the module docstring ------------------------------


@pytest.mark.parametrize("header", ["gzip", "x-gzip", "deflate", "gzip, deflate"])
@pytest.mark.parametrize("chunks", [[], [b""], [b"", b""]], ids=["none", "one-empty", "two-empty"])
def test_empty_body_decodes_to_nothing(header: str, chunks: list[bytes]) -> None:
    decoder = decoder_for(header)
    assert decoder is not None
    assert list(pieces_of(decoder, chunks)) == []


@pytest.mark.parametrize("encode", [zlib_deflate, raw_deflate], ids=["zlib", "raw"])
def test_data_after_a_deflate_stream_is_ignored(encode: Encoder) -> None:
    body = encode(TEXT)
    assert decode_all("deflate", body + b"trailing junk") == TEXT
    decoder = DeflateDecoder()
    chunks = [body, b"more junk", gzip.compress(b"even a gzip member")]
    assert b"".join(pieces_of(decoder, chunks)) == TEXT


@pytest.mark.parametrize("level", range(10))
@pytest.mark.parametrize("wbits", range(9, 16))
def test_every_zlib_header_is_recognised(level: int, wbits: int) -> None:
    # Fed one byte at a time, so the detection must wait for the second byte.
    assert decode_all("deflate", zlib_deflate(TEXT[:500], level, wbits), 1) == TEXT[:500]


def test_decode_is_lazy_and_bounded_per_call() -> None:
    # One small call that expands a lot yields many pieces, one at a time.
    body = gzip.compress(bytes(1_000_000))
    decoder = decoder_for("gzip", max_chunk=10_000)
    assert decoder is not None
    pieces = decoder.decode(body)
    assert len(next(pieces)) == 10_000
    assert sum(len(piece) for piece in pieces) == 1_000_000 - 10_000
    assert list(decoder.flush()) == []


@pytest.mark.parametrize("max_chunk", [1, 1000, 65536])
@pytest.mark.parametrize("wbits", [31, 15, -15], ids=["gzip", "deflate-zlib", "deflate-raw"])
def test_flushed_data_comes_out_without_waiting_for_more(wbits: int, max_chunk: int) -> None:
    # A streaming sender (Z_SYNC_FLUSH after each message) must have each
    # message delivered by the call that received it, even when zlib has
    # eaten all the input and still holds output (a full piece, no tail).
    header = "gzip" if wbits == 31 else "deflate"
    decoder = decoder_for(header, max_chunk=max_chunk)
    assert decoder is not None
    compressor = zlib.compressobj(6, zlib.DEFLATED, wbits)
    messages = [bytes(50_000), TEXT[:3000], bytes(70_000) + b"end", b"x", bytes(100_000)]
    for message in messages:
        chunk = compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH)
        assert b"".join(decoder.decode(chunk)) == message
    assert b"".join(pieces_of(decoder, [compressor.flush()])) == b""


@pytest.mark.parametrize("header", ["gzip", "deflate"])
def test_every_prefix_yields_all_that_is_decodable(header: str) -> None:
    payload = bytes(30_000) + TEXT[:2000] + bytes(30_000)
    body = gzip.compress(payload) if header == "gzip" else raw_deflate(payload)
    wbits = 31 if header == "gzip" else -15
    for cut in range(2, len(body)):
        decoder = decoder_for(header, max_chunk=1000)
        assert decoder is not None
        expected = zlib.decompressobj(wbits).decompress(body[:cut])
        assert b"".join(decoder.decode(body[:cut])) == expected, cut
