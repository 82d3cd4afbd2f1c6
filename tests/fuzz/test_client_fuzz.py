"""Property-based fuzzing of the client against scripted servers (socketpairs, mock clock).

Every connection the client opens is one end of a ``socketpair`` (the pool's
``open_http_stream`` is replaced; a real socket rather than a memory stream,
so that the pool's check for data on an idle connection, ``looks_closed``,
works as in production) whose other end runs a script: the *first*
connection reads the request head and sends the fuzzed response, in random
pieces with small pauses, then either closes or keeps the connection open
and answers any further request on it with :data:`SECOND`; every later
connection answers :data:`SECOND`. The second request starts only once the
first script has sent everything. Responses start valid — Content-Length, chunked (with
extensions and trailers), close-delimited, gzip-encoded (one or two
members), HTTP/1.0 and 1.1, after 1xx interim responses, 204 and 304 — and
are then optionally mutated byte by byte.

Properties (:func:`check`):

* ``client.get`` returns a response or raises a :class:`trio_webkit.HTTPError`
  subclass, nothing else (no raw h11, zlib, ``IndexError``...), and never spins;
* a success's body is exactly the body the response's framing (and
  Content-Encoding) unambiguously carries, as :func:`reference` reads it, an
  independent strict reading of RFC 9112 §6.3 and §7; for an unmutated
  response, exactly the original body;
* a body cut short (by EOF, or by a server that stops sending) is never a
  success; nor is a gzip stream that is cut short or corrupt;
* afterwards the pool is consistent: no connection active, and a second
  request on the same client gets :data:`SECOND` — whatever the first
  response left on its connection (a reused connection must not hand the
  second request bytes that belonged to the first).
"""

from __future__ import annotations

import gzip
import itertools
import re
import zlib

import attrs
import pytest
import trio
import trio.testing
from hypothesis import assume, given
from hypothesis import strategies as st

import trio_webkit
from trio_webkit import _pool

# isort: split
from fuzz.harness import run_on_mock_clock
from fuzz.strategies import FRAMING_SPLICES, Delivery, bytewise, deliveries, mutated, whole

URL = "http://fuzz.invalid/resource"
SECOND = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond"
READ_TIMEOUT = 5.0
TIMEOUT = trio_webkit.Timeout(READ_TIMEOUT)

# --- running one fuzzed exchange ------------------------------------------------------------------


@attrs.frozen
class Outcome:
    status: int | None  # None: the first request failed
    body: bytes | None
    error: trio_webkit.HTTPError | None
    second: bytes | trio_webkit.HTTPError  # the second request's body, or its error
    active_after: int  # client.statistics().connections_active after both requests


async def _read_head(stream: trio.abc.Stream) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = await stream.receive_some()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return None
        if not chunk:
            return None
        data += chunk
    return data


async def _answer_second(stream: trio.abc.Stream) -> None:
    while await _read_head(stream) is not None:
        try:
            await stream.send_all(SECOND)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return


async def _first_server(stream: trio.abc.Stream, delivery: Delivery, sent: trio.Event) -> None:
    async with stream:
        try:
            if await _read_head(stream) is None:
                return
            for piece, pause in zip(delivery.pieces, delivery.pauses, strict=True):
                if pause:
                    await trio.sleep(pause)
                await stream.send_all(piece)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return  # the client gave up first
        finally:
            sent.set()
        if not delivery.eof:
            await _answer_second(stream)  # keep the connection; serve a reuse


async def _later_server(stream: trio.abc.Stream) -> None:
    async with stream:
        await _answer_second(stream)


async def _socket_pair() -> tuple[trio.SocketStream, trio.SocketStream]:
    client_socket, server_socket = trio.socket.socketpair()
    return trio.SocketStream(client_socket), trio.SocketStream(server_socket)


async def _fetch_twice(delivery: Delivery) -> Outcome:
    opened = 0
    sent = trio.Event()
    async with trio.open_nursery() as nursery:

        async def open_stream(url: object, **_: object) -> trio.abc.Stream:
            nonlocal opened
            client_end, server_end = await _socket_pair()
            if opened == 0:
                nursery.start_soon(_first_server, server_end, delivery, sent)
            else:
                nursery.start_soon(_later_server, server_end)
            opened += 1
            return client_end

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(_pool, "open_http_stream", open_stream)
            async with trio_webkit.Client(timeout=TIMEOUT, follow_redirects=False) as client:
                status = body = error = None
                try:
                    response = await client.get(URL)
                    status, body = response.status, response.content
                except trio_webkit.HTTPError as caught:
                    error = caught
                # Everything the first server says is on its way before the second
                # request: the client can tell whether that connection is clean.
                await sent.wait()
                second: bytes | trio_webkit.HTTPError
                try:
                    second = (await client.get(URL)).content
                except trio_webkit.HTTPError as caught:
                    second = caught
                active = client.statistics().connections_active
        nursery.cancel_scope.cancel()  # a kept-open first server, if any
    return Outcome(status, body, error, second, active)


def fetch(delivery: Delivery) -> Outcome:
    return run_on_mock_clock(_fetch_twice, delivery)


# --- the reference: what a response's framing unambiguously carries -------------------------------

_TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
_STATUS_LINE = re.compile(rb"HTTP/1\.[0-9] ([0-9]{3}) [\t \x21-\x7e\x80-\xff]*")
_FIELD_CHAR = rb"[^\x00\s]"
_FIELD_LINE = re.compile(
    rb"(" + _TOKEN + rb"):[ \t]*(" + _FIELD_CHAR + rb"+(?:[ \t]+" + _FIELD_CHAR + rb"+)*)?[ \t]*"
)
_QUOTED = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_EXT = _TOKEN + rb"(?:[ \t]*=[ \t]*(?:" + _TOKEN + rb"|" + _QUOTED + rb"))?"
_CHUNK_LINE = re.compile(
    rb"([0-9A-Fa-f]{1,20})(?:;[ \t]*" + _EXT + rb"(?:[ \t]*;[ \t]*" + _EXT + rb")*)?"
)
_LENGTH = re.compile(rb"[0-9]{1,20}")

OK, CUT, ANY = "ok", "cut", "any"


@attrs.frozen
class Verdict:
    """``ok``: a success must have exactly ``body``; ``cut``: a success is
    impossible (truncated, or an undecodable coding); ``any``: the bytes are
    invalid or ambiguous, any typed outcome will do."""

    kind: str
    body: bytes = b""


def reference(data: bytes, *, closed: bool) -> Verdict:
    """Read ``data`` (all the server sends; ``closed``: then it closes) strictly."""
    pos = 0
    while True:  # 1xx interim responses, then the final one
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:  # a bare LF might end the head for a lenient parser
            return Verdict(ANY if b"\n" in data[pos:] else CUT)
        lines = data[pos:end].split(b"\r\n")
        pos = end + 4
        status_line = _STATUS_LINE.fullmatch(lines[0])
        if any(b"\r" in line or b"\n" in line for line in lines) or status_line is None:
            return Verdict(ANY)
        fields = [_FIELD_LINE.fullmatch(line) for line in lines[1:]]
        if not all(fields):
            return Verdict(ANY)
        status = int(status_line[1])
        if status == 101:
            return Verdict(ANY)  # switching protocols nobody asked for
        if status >= 200:
            break
    values: dict[bytes, list[bytes]] = {}
    for field in fields:
        assert field is not None
        values.setdefault(field[1].lower(), []).append(field[2] or b"")
    lengths = values.get(b"content-length", [])
    codings = values.get(b"transfer-encoding", [])
    if len(lengths) > 1 or (lengths and not _LENGTH.fullmatch(lengths[0])):
        return Verdict(ANY)  # §6.3 item 5
    if codings and (lengths or len(codings) > 1 or codings[0].lower() != b"chunked"):
        return Verdict(ANY)  # §6.3 items 3 and 4: ambiguous or not chunked
    if status in (204, 304):  # §6.3 item 1: no content, whatever the fields say
        framed: Verdict = Verdict(OK, b"")
    elif codings:
        framed = _read_chunked(data, pos)
    elif lengths:
        length = int(lengths[0])
        framed = Verdict(CUT) if len(data) - pos < length else Verdict(OK, data[pos : pos + length])
    else:  # §6.3 item 8: until the server closes
        framed = Verdict(OK, data[pos:]) if closed else Verdict(CUT)
    if framed.kind != OK:
        return framed
    return _decode(framed.body, b", ".join(values.get(b"content-encoding", [])))


def _read_chunked(data: bytes, pos: int) -> Verdict:
    body = b""
    while True:
        line_end = data.find(b"\r\n", pos)
        if line_end < 0:
            return Verdict(ANY if b"\n" in data[pos:] else CUT)
        chunk_line = _CHUNK_LINE.fullmatch(data, pos, line_end)
        if chunk_line is None:
            return Verdict(ANY)
        size = int(chunk_line[1], 16)
        pos = line_end + 2
        if size == 0:
            break
        if len(data) < pos + size + 2:
            tail = data[pos + size :]
            return Verdict(CUT if b"\r\n".startswith(tail) else ANY)
        if data[pos + size : pos + size + 2] != b"\r\n":
            return Verdict(ANY)
        body += data[pos : pos + size]
        pos += size + 2
    while True:  # trailer fields, then the empty line
        line_end = data.find(b"\r\n", pos)
        if line_end < 0:
            return Verdict(ANY if b"\n" in data[pos:] else CUT)
        if line_end == pos:
            return Verdict(OK, body)
        if _FIELD_LINE.fullmatch(data, pos, line_end) is None:
            return Verdict(ANY)
        pos = line_end + 2


def _decode(body: bytes, content_encoding: bytes) -> Verdict:
    """Undo the codings (RFC 9110 §8.4: listed in the order applied) as the client does."""
    codings = [c.strip().lower() for c in content_encoding.split(b",")]
    codings = [c for c in codings if c and c != b"identity"]
    if any(c not in (b"gzip", b"x-gzip", b"deflate") for c in codings):
        return Verdict(OK, body)  # an unsupported coding: handed over undecoded
    if b"deflate" in codings:
        return Verdict(ANY)  # zlib or raw deflate: not modelled here
    for _ in codings:
        decoded = _gunzip(body)
        if decoded is None:
            return Verdict(CUT)
        body = decoded
    return Verdict(OK, body)


def _gunzip(data: bytes) -> bytes | None:
    """Concatenated gzip members (RFC 1952 §2.2); None if corrupt or cut short."""
    out = b""
    while data:
        member = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += member.decompress(data)
        except zlib.error:
            return None
        if not member.eof:
            return None
        data = member.unused_data
    return out


# --- the properties -------------------------------------------------------------------------------


def check(outcome: Outcome, verdict: Verdict) -> None:
    if outcome.error is None:
        assert verdict.kind != CUT, f"a success ({outcome.body!r}) from a response cut short "
        "or whose coding does not decode"
        if verdict.kind == OK:
            assert outcome.body == verdict.body
    assert outcome.active_after == 0
    assert outcome.second == SECOND[-6:], f"the second request got {outcome.second!r}"


# --- strategies: valid responses ------------------------------------------------------------------


@attrs.frozen
class Generated:
    data: bytes  # everything the server sends
    body: bytes  # what a success must return
    framing: str  # "length", "chunked", "close" or "none" (204, 304)
    head_size: int  # bytes up to the final response's body


_EXTRA_FIELDS = [
    (b"Server", b"fuzz/1.0"),
    (b"Date", b"Tue, 24 Nov 2026 22:00:00 GMT"),
    (b"Content-Type", b"text/plain; charset=utf-8"),
    (b"Set-Cookie", b"a=b; Path=/"),
    (b"Set-Cookie", b"c=d"),
    (b"X-Empty", b""),
    (b"Cache-Control", b"no-cache, no-store"),
    (b"Connection", b"keep-alive"),
]
_INTERIM = [
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
]
_CHUNK_EXTS = [b"", b"", b";a=b", b';n="q;\\"v"', b";flag"]


def _field(draw: st.DrawFn, name: bytes, value: bytes) -> bytes:
    name = draw(st.sampled_from([name, name.lower(), name.upper()]))
    before = draw(st.sampled_from([b" ", b"", b"\t"]))
    after = draw(st.sampled_from([b"", b"", b" "])) if value else b""
    return name + b":" + before + value + after + b"\r\n"


def _chunked(draw: st.DrawFn, body: bytes) -> bytes:
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(body) - 1)), max_size=4))))
    bounds = [0, *[c for c in cuts if c < len(body)], len(body)]
    out = b""
    for start, stop in itertools.pairwise(bounds):
        if stop > start:
            size = draw(st.sampled_from([b"%x", b"%X", b"0%x"])) % (stop - start)
            out += size + draw(st.sampled_from(_CHUNK_EXTS)) + b"\r\n" + body[start:stop] + b"\r\n"
    out += b"0" + draw(st.sampled_from(_CHUNK_EXTS)) + b"\r\n"
    if draw(st.booleans()):
        out += _field(draw, b"X-Checksum", b"abc")
    return out + b"\r\n"


def _gzip(draw: st.DrawFn, payload: bytes) -> bytes:
    if payload and draw(st.booleans()):  # two members, as `cat a.gz b.gz` makes
        cut = draw(st.integers(0, len(payload)))
        return gzip.compress(payload[:cut], mtime=0) + gzip.compress(payload[cut:], mtime=0)
    return gzip.compress(payload, mtime=0)


@st.composite
def valid_responses(draw: st.DrawFn) -> Generated:
    version = draw(st.sampled_from([b"1.1", b"1.1", b"1.1", b"1.0"]))
    status = draw(st.sampled_from([200, 200, 200, 201, 203, 206, 404, 410, 500, 503, 204, 304]))
    reason = draw(st.sampled_from([b"OK", b"", b"Some Reason", b"Caf\xe9"]))
    payload = draw(st.one_of(st.binary(max_size=120),
                             st.text("ab <>\n", max_size=300).map(str.encode)))  # fmt: skip
    coding = draw(st.sampled_from([None, None, b"gzip", b"x-gzip", b"GZIP"]))
    encoded = _gzip(draw, payload) if coding else payload
    fields = [_field(draw, n, v) for n, v in draw(st.lists(st.sampled_from(_EXTRA_FIELDS),
                                                           max_size=3))]  # fmt: skip
    if coding:
        fields.append(_field(draw, b"Content-Encoding", coding))
    if status in (204, 304):
        framing, body, expected = "none", b"", b""
        if status == 304 and draw(st.booleans()):  # the size the representation would have
            fields.append(_field(draw, b"Content-Length", b"%d" % len(encoded)))
    else:
        framing = draw(st.sampled_from(["length", "chunked", "close"] if version == b"1.1"
                                       else ["length", "close"]))  # fmt: skip
        expected = payload
        if framing == "length":
            fields.append(_field(draw, b"Content-Length", b"%d" % len(encoded)))
            body = encoded
        elif framing == "chunked":
            fields.append(_field(draw, b"Transfer-Encoding", b"chunked"))
            body = _chunked(draw, encoded)
        else:
            body = encoded
    fields = draw(st.permutations(fields))
    interim = b"".join(draw(st.lists(st.sampled_from(_INTERIM), max_size=2))) if version == b"1.1" \
        else b""  # fmt: skip
    head = interim + b"HTTP/%s %d %s\r\n" % (version, status, reason) + b"".join(fields) + b"\r\n"
    return Generated(head + body, expected, framing, len(head))


@st.composite
def valid_deliveries(draw: st.DrawFn) -> tuple[Generated, Delivery]:
    response = draw(valid_responses())
    eof = True if response.framing == "close" else None
    return response, draw(deliveries(response.data, eof=eof))


SPLICES = [*FRAMING_SPLICES, b"Content-Encoding: gzip\r\n", b"HTTP/1.1 100 Continue\r\n\r\n"]


# --- the tests -----------------------------------------------------------------------------


@given(valid_deliveries())
def test_valid_responses_give_exactly_their_body(case: tuple[Generated, Delivery]) -> None:
    response, delivery = case
    verdict = reference(response.data, closed=delivery.eof)
    assert verdict == Verdict(OK, response.body)  # the reference agrees with the generator
    outcome = fetch(delivery)
    assert outcome.error is None, outcome.error
    assert outcome.body == response.body
    check(outcome, verdict)


@given(st.data(), valid_responses())
def test_truncated_responses_are_never_a_success(data: st.DataObject, response: Generated) -> None:
    """Cut inside the body (or the head): an error, whether the server closes or goes silent."""
    end = len(response.data) - (response.framing == "close")  # close-delimited: EOF ends it
    cut = data.draw(st.integers(0, max(0, end - 1)))
    truncated = response.data[:cut]
    delivery = data.draw(deliveries(truncated))
    if response.framing == "close" and cut >= response.head_size and delivery.eof:
        return  # a close-delimited body cut by EOF is a shorter body: not detectable
    outcome = fetch(delivery)
    verdict = reference(truncated, closed=delivery.eof)
    assert outcome.error is not None or verdict.kind == ANY, (outcome, verdict)
    check(outcome, verdict)


@given(st.data(), valid_responses())
def test_mutated_responses_give_typed_errors_or_their_framed_body(
    data: st.DataObject, response: Generated
) -> None:
    mutant = data.draw(mutated(response.data, SPLICES))
    delivery = data.draw(deliveries(mutant))
    check(fetch(delivery), reference(mutant, closed=delivery.eof))


@given(st.data(), valid_responses(), st.sampled_from([4.9, 5.1]))
def test_a_server_stalling_past_the_read_timeout_is_an_error(
    data: st.DataObject, response: Generated, stall: float
) -> None:
    """``Timeout.read`` is inactivity (5 s here): a stall of 4.9 s anywhere in
    the response is waited out, one of 5.1 s is a ReadTimeout, never a short success."""
    delivery = data.draw(deliveries(response.data, eof=True))
    assume(len(delivery.pieces) > 1)
    where = data.draw(st.integers(1, len(delivery.pieces) - 1))
    pauses = [*delivery.pauses[:where], stall, *delivery.pauses[where + 1 :]]
    outcome = fetch(Delivery(delivery.pieces, pauses, eof=True))
    if stall < READ_TIMEOUT:
        assert outcome.error is None and outcome.body == response.body, outcome
    else:
        assert isinstance(outcome.error, trio_webkit.ReadTimeout), outcome
    check(outcome, reference(response.data, closed=True))


# --- regressions: failing examples the fuzzers found, kept as plain tests ------------------


def regression(data: bytes, *, eof: bool = True) -> None:
    check(fetch(whole(data, eof=eof)), reference(data, closed=eof))


def test_bytewise_delivery_of_a_chunked_gzip_response() -> None:
    body = gzip.compress(b"hello, world" * 10, mtime=0)
    data = (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n%b\r\n0\r\n\r\n" % (len(body), body)
    )
    outcome = fetch(bytewise(data, eof=False))
    assert outcome.body == b"hello, world" * 10
    check(outcome, reference(data, closed=False))


def test_bytes_after_a_complete_response_never_reach_the_next_request() -> None:
    """Found by the mutation fuzzer: a server sent more than the response's framing
    carries, in the same write. The client returned the connection to the pool
    with those bytes still in its parser, and the next request read them as its
    own response: here a complete forged one (a response desync)."""
    forged = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL"
    regression(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + forged, eof=False)


def test_a_byte_too_many_does_not_break_the_next_request() -> None:
    """The same, not malicious: one byte more than Content-Length. The next
    request on the pooled connection failed ("illegal status line:
    XHTTP/1.1 200 OK") instead of getting its response on a fresh connection."""
    regression(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nX", eof=False)


def test_content_encoding_in_two_fields_is_the_list_of_both() -> None:
    """Found by the mutation fuzzer (a duplicated ``Content-Encoding: gzip`` line).
    Two field lines mean the comma-joined list (RFC 9110 §5.3), here
    ``identity, gzip``: the body must be gunzipped. The client applied only the
    first field and returned the compressed bytes as a success."""
    packed = gzip.compress(b"hello", mtime=0)
    data = (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: identity\r\nContent-Encoding: gzip\r\n"
        + b"Content-Length: %d\r\n\r\n%b" % (len(packed), packed)
    )
    assert reference(data, closed=True) == Verdict(OK, b"hello")
    regression(data)
