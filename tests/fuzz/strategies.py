"""Hypothesis strategies shared by the server and client fuzzers: byte-level
mutations of a valid message, and its delivery in random pieces."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import attrs
from hypothesis import strategies as st

#: Bytes that matter to HTTP/1.1 framing and field syntax.
INTERESTING_BYTES = [b"\r", b"\n", b"\r\n", b"\x00", b" ", b"\t", b":", b",", b";", b"=", b'"',
                     b"\\", b"0", b"9", b"a", b"-", b"+", b"\x0b", b"\x0c", b"\x7f", b"\x80",
                     b"\xff", b"/"]  # fmt: skip

#: Lines spliced in at the start of a line, for either direction.
FRAMING_SPLICES = [
    b"Transfer-Encoding: chunked\r\n",
    b"Content-Length: 0\r\n",
    b"Content-Length: 5\r\n",
    b"Connection: close\r\n",
    b" folded\r\n",
    b"\tTransfer-Encoding: chunked\r\n",
    b"X: a\nTransfer-Encoding: chunked\r\n",
    b"\r\n",
    b"0\r\n\r\n",
]

MUTATIONS = ["replace", "insert", "delete", "dup-line", "drop-line", "case", "splice", "cut",
             "append"]  # fmt: skip


def _line_bounds(data: bytes, pos: int) -> tuple[int, int]:
    start = data.rfind(b"\n", 0, pos) + 1
    end = data.find(b"\n", pos)
    return start, len(data) if end < 0 else end + 1


@st.composite
def mutated(draw: st.DrawFn, data: bytes, splices: Sequence[bytes] = FRAMING_SPLICES) -> bytes:
    """``data`` after one to three mutations: flip, insert or delete bytes (CR,
    LF, NUL, SP, HTAB...), duplicate or drop a line, swap the case of a few
    bytes, splice in a line (a framing field, an obs-fold, a bare LF...), cut
    the end off, or append bytes."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(MUTATIONS))
        pos = draw(st.integers(0, max(0, len(out) - 1)))
        start, end = _line_bounds(bytes(out), pos)
        if kind == "replace" and out:
            out[pos : pos + 1] = draw(st.sampled_from(INTERESTING_BYTES))
        elif kind == "insert":
            out[pos:pos] = draw(st.sampled_from(INTERESTING_BYTES))
        elif kind == "delete":
            del out[pos : pos + draw(st.integers(1, 3))]
        elif kind == "dup-line":
            out[start:start] = out[start:end]
        elif kind == "drop-line":
            del out[start:end]
        elif kind == "case":
            out[pos : pos + 8] = bytes(out[pos : pos + 8]).swapcase()
        elif kind == "splice":
            out[start:start] = draw(st.sampled_from(list(splices)))
        elif kind == "cut":
            del out[pos:]
        elif kind == "append":
            out += draw(st.sampled_from([*INTERESTING_BYTES, *splices]))
    return bytes(out)


@attrs.frozen
class Delivery:
    """How the bytes travel: in ``pieces``, ``pauses[i]`` seconds before piece ``i``,
    then an EOF (the sender half-closes or closes) when ``eof``."""

    pieces: list[bytes]
    pauses: list[float]
    eof: bool

    @property
    def data(self) -> bytes:
        return b"".join(self.pieces)


@st.composite
def deliveries(draw: st.DrawFn, data: bytes, *, eof: bool | None = None) -> Delivery:
    """``data`` split at up to five random points, small pauses, EOF or not."""
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(data) - 1)), max_size=5))))
    bounds = [0, *[c for c in cuts if c < len(data)], len(data)]
    pieces = [data[a:b] for a, b in itertools.pairwise(bounds)] or [b""]
    pause = st.sampled_from([0.0, 0.0, 0.001, 0.05])
    pauses = draw(st.lists(pause, min_size=len(pieces), max_size=len(pieces)))
    return Delivery(pieces, pauses, draw(st.booleans()) if eof is None else eof)


def whole(data: bytes, *, eof: bool = True) -> Delivery:
    return Delivery([data], [0.0], eof)


def bytewise(data: bytes, *, eof: bool = True) -> Delivery:
    return Delivery([data[i : i + 1] for i in range(len(data))], [0.0] * len(data), eof)
