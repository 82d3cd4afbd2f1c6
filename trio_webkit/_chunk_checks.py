"""What the server checks in a chunked request body beyond h11's own parsing.

h11 frames a chunked body: it reads the chunk sizes and hands over the
data. It is lenient in the bytes around the data, on purpose (for sloppy
servers' responses): whitespace after the chunk size, anything after a
``;`` as a chunk extension, bare LF line ends in the trailer section. A
front-end proxy that reads those bytes strictly frames the stream
differently, so the server takes the strict side (RFC 9112 §7.1):

* chunk line: ``chunk-size [chunk-ext] CRLF``, the size ``1*HEXDIG``, the
  extensions ``*( BWS ";" BWS token [ BWS "=" BWS ( token /
  quoted-string ) ] )``, no bare CR (§7.1, §7.1.1, §2.2);
* the end: ``last-chunk``, then trailer fields in the field-line grammar,
  each ending in CRLF, then CRLF (§7.1.2, §5, §2.2).

:class:`ChunkFramingCheck` does not parse: it follows h11 through the body,
using the lengths of h11's events to know which received bytes were framing,
and matches those bytes against the grammar above.
"""

from __future__ import annotations

import re

import h11

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
_EXTENSIONS = rb"(?:[ \t]*;[ \t]*%b(?:[ \t]*=[ \t]*(?:%b|%b))?)*" % (_TOKEN, _TOKEN, _QUOTED)
_CHUNK_LINE = re.compile(rb"([0-9A-Fa-f]+)%b" % _EXTENSIONS)
_BODY_END = re.compile(rb"0+%b\r\n(?:%b:[\t\x20-\x7e\x80-\xff]*\r\n)*\r\n" % (_EXTENSIONS, _TOKEN))
_CRLF = b"\r\n"


class ChunkFramingCheck:
    """Follows h11 through one chunked body; says what is wrong with its framing.

    Feed it every byte given to the parser (:meth:`received`) and every event
    the parser returned for the body (:meth:`data`, :meth:`end`).
    """

    __slots__ = ("announced", "chunks", "line_next", "pos", "raw")

    def __init__(self, buffered: bytes) -> None:
        self.raw = buffered  # received bytes not yet accounted for, from ``pos``
        self.pos = 0
        self.chunks = 0  # chunks started: each one after the first follows a CRLF
        self.announced = 0  # body bytes the chunk lines so far announce
        # A chunk line precedes the next data. (Not Data.chunk_start: h11 sets it
        # only when the line and the data were parsed in the same call.)
        self.line_next = True

    def received(self, data: bytes) -> None:
        """More bytes given to the parser."""
        self.raw = self.raw[self.pos :] + data
        self.pos = 0

    def data(self, event: h11.Data) -> str | None:
        """Account for a Data event; why its chunk line is invalid, or None."""
        pos = self.pos
        if self.line_next:
            if self.chunks:
                pos += len(_CRLF)  # h11 checked it is exactly CRLF
            line_end = self.raw.find(_CRLF, pos)
            line = _CHUNK_LINE.fullmatch(self.raw, pos, line_end) if line_end >= 0 else None
            if line is None:
                return "invalid chunk line"
            self.announced += int(line[1], 16)
            pos = line_end + len(_CRLF)
            self.chunks += 1
        self.pos = pos + len(event.data)
        self.line_next = event.chunk_end
        return None

    def end(self, unparsed: bytes) -> str | None:
        """The body ended, ``unparsed`` left over; why its end is invalid, or None."""
        pos = self.pos + (len(_CRLF) if self.chunks else 0)
        end = len(self.raw) - len(unparsed)
        if not _BODY_END.fullmatch(self.raw, pos, end):
            return "invalid last chunk or trailer section"
        return None
