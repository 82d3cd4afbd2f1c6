"""Property-based fuzzing of the server connection (hypothesis, memory streams, mock clock).

Inputs start from valid pipelines of one to three requests (GET, HEAD,
OPTIONS, DELETE, bodies framed by Content-Length or chunked, origin-,
absolute- and asterisk-form targets, HTTP/1.0 and 1.1, header names in any
case, OWS, chunk extensions, trailers, ``Expect: 100-continue``,
``Connection: close``, ``Upgrade``; rarely a head or a body within a byte
or two of ``max_header_bytes`` / ``max_body_bytes``), are then optionally
*mutated* byte by byte (flip, insert, delete, duplicate or drop a line,
change case, splice in a framing field or CR/LF/NUL/SP/HTAB, cut, append),
and are delivered in random pieces with small pauses, with or without a
half-close at the end; ``test_random_bytes`` adds plain noise after a few
prefixes.

Properties checked on every example (:func:`check`):

* nothing escapes ``serve_connection``, and its task ends by itself within
  the pauses plus one timeout plus the linger (mock time), without spinning;
* what the client receives is a sequence of complete, well-formed responses
  (parsed by a real h11 client: no garbage after a response) or nothing;
* an error response (4xx/5xx) is the last one, says ``Connection: close``,
  and the connection closes after it; it is never a 500 (the handler never
  fails on its own);
* the handler sees exactly what the bytes unambiguously contain, as read by
  :func:`reference`, an independent strict parser of RFC 9112 written here
  with the server's documented choices (``_request_checks.py``): for "valid A
  then valid B" it sees A then B with their bodies, each answered 200 with
  its body echoed; once a request is bad, nothing after it is handled (no
  second request parsed out of a rejected one); a request whose head was
  fine but whose body is bad or cut short is seen (its body read fails) and
  answered with an error. Since the reference reads the bytes, not the
  pieces, this also checks that the outcome does not depend on how the bytes
  were split.
"""

from __future__ import annotations

import itertools
import re

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

# isort: split
from fuzz.harness import (
    CONFIG,
    ERROR_STATUSES,
    MAX_BODY_BYTES,
    MAX_HEADER_BYTES,
    Exchange,
    exchange,
    time_bound,
)
from fuzz.strategies import FRAMING_SPLICES, Delivery, deliveries, mutated

from support.loopback import parse_responses

MAX_BODY = MAX_BODY_BYTES
MAX_HEAD = MAX_HEADER_BYTES

# --- the reference: a strict RFC 9112 request parser ------------------------------------------

_TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
_REQUEST_LINE = re.compile(rb"(" + _TOKEN + rb") ([\x21-\x7e]+) HTTP/([0-9])\.([0-9])")
# RFC 9110 §5.5: field-vchar is VCHAR or obs-text; other CTLs (not NUL, CR,
# LF, and no whitespace but SP/HTAB between words) are tolerated as h11 does.
_FIELD_CHAR = rb"[^\x00\s]"
_FIELD_LINE = re.compile(
    rb"(" + _TOKEN + rb"):[ \t]*(" + _FIELD_CHAR + rb"+(?:[ \t]+" + _FIELD_CHAR + rb"+)*)?[ \t]*"
)
# RFC 9112 §7.1.1 chunk-ext, quoted-string from RFC 9110 §5.6.4. No BWS before
# the first ";" (h11 rejects it; tolerated, see test_smuggling_table.py).
_QUOTED = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_EXT = _TOKEN + rb"(?:[ \t]*=[ \t]*(?:" + _TOKEN + rb"|" + _QUOTED + rb"))?"
_CHUNK_LINE = re.compile(
    rb"([0-9A-Fa-f]{1,20})(?:;[ \t]*" + _EXT + rb"(?:[ \t]*;[ \t]*" + _EXT + rb")*)?"
)
_LENGTH = re.compile(rb"[0-9]{1,20}")
# RFC 3986 §3.2.2 host (reg-name or IP-literal) and optional port (RFC 9112 §3.2).
_HOST = re.compile(rb"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(:[0-9]*)?")


@attrs.frozen
class Expected:
    """What the handler must see and how the exchange must end."""

    served: tuple[tuple[str, str, bytes], ...]  # (method, target, body): each answered 200
    failed: tuple[str, str] | None = None  # a head accepted, its body bad or cut short
    #: The exchange ends with one error response; None: with or without one (a
    #: lone CR after the last request may begin an empty line, §2.2: a server
    #: may wait for its LF, and close quietly when none comes).
    error: bool | None = False
    #: For each accepted head (served, then failed): it announced a body and
    #: ``Expect: 100-continue``. Unread by the handler, such a body may not come
    #: at all, so the server closes after answering (h11's waiting flag).
    awaits_continue: tuple[bool, ...] = ()


@attrs.frozen
class _Head:
    method: bytes
    target: bytes
    framing: int | str  # a Content-Length, or "chunked"
    closes: bool
    awaits_continue: bool


def reference(data: bytes) -> Expected:
    """What a strict server must make of ``data`` (all of the client's bytes)."""
    served: list[tuple[str, str, bytes]] = []
    awaits: list[bool] = []
    pos = 0
    while True:
        while data.startswith(b"\r\n", pos):  # §2.2: empty lines before a request-line
            pos += 2
        if pos == len(data):
            return Expected(tuple(served), awaits_continue=tuple(awaits))
        if data[pos:] == b"\r":
            return Expected(tuple(served), error=None, awaits_continue=tuple(awaits))
        end = data.find(b"\r\n\r\n", pos)
        head = _parse_head(data[pos : end + 4]) if end >= 0 else None
        if head is None:  # bad, or incomplete: an error either way
            return Expected(tuple(served), error=True, awaits_continue=tuple(awaits))
        method, target = head.method.decode("latin-1"), head.target.decode("latin-1")
        awaits.append(head.awaits_continue)
        body_end = _read_body(data, end + 4, head.framing)
        if body_end is None:
            return Expected(tuple(served), (method, target), True, tuple(awaits))
        body, pos = body_end
        served.append((method, target, body))
        if head.closes:
            return Expected(tuple(served), awaits_continue=tuple(awaits))


def _parse_head(head: bytes) -> _Head | None:
    if len(head) > MAX_HEAD:
        return None
    lines = head[:-4].split(b"\r\n")
    if any(b"\r" in line or b"\n" in line for line in lines):
        return None  # §2.2: bare CR or LF
    request_line = _REQUEST_LINE.fullmatch(lines[0])
    if request_line is None:
        return None
    method, target, major, minor = request_line.groups()
    if major != b"1" or not _target_ok(method, target):
        return None  # 505 (RFC 9110 §2.5); §3.2
    fields: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        field = _FIELD_LINE.fullmatch(line)
        if field is None:  # includes obs-fold (§5.2) and whitespace before ':' (§5.1)
            return None
        fields.append((field[1].lower(), field[2] or b""))

    def values(name: bytes) -> list[bytes]:
        return [value for field_name, value in fields if field_name == name]

    hosts, lengths, codings = (
        values(b"host"),
        values(b"content-length"),
        values(b"transfer-encoding"),
    )
    http11 = minor != b"0"  # 1.x with x >= 1 is served as 1.1 (RFC 9110 §2.5)
    if len(hosts) > 1 or (http11 and not hosts) or not all(map(_HOST.fullmatch, hosts)):
        return None  # §3.2
    if len(lengths) > 1 or (lengths and not _LENGTH.fullmatch(lengths[0])):
        return None  # §6.3 item 5, RFC 9110 §8.6: one 1*DIGIT
    framing: int | str = 0
    if codings:  # §6.1, §6.3: only a lone chunked, in HTTP/1.1, without Content-Length
        if lengths or not http11 or len(codings) > 1 or codings[0].lower() != b"chunked":
            return None
        framing = "chunked"
    elif lengths:
        framing = int(lengths[0])
        if framing > MAX_BODY:
            return None  # 413
    # Like the server, any Connection value containing "close" closes (harmless).
    closes = not http11 or any(b"close" in value.lower() for value in values(b"connection"))
    expectations = [e.strip().lower() for v in values(b"expect") for e in v.split(b",")]
    announced = bool(codings) or (bool(lengths) and lengths[0] != b"0")
    awaits = http11 and announced and b"100-continue" in expectations
    return _Head(method, target, framing, closes, awaits)


def _target_ok(method: bytes, target: bytes) -> bool:
    """RFC 9112 §3.2: origin-form, asterisk-form (OPTIONS), authority-form
    (CONNECT) or an http(s) absolute-form, as ``_request_checks.target_form_ok``."""
    if target.startswith(b"/"):
        return True
    if target == b"*":
        return method == b"OPTIONS"
    if method == b"CONNECT":
        host, _, port = target.rpartition(b":")
        return bool(host) and port.isdigit() and b"/" not in target
    scheme, sep, rest = target.partition(b"://")
    return bool(sep) and scheme.lower() in (b"http", b"https") and bool(rest.split(b"/")[0])


def _read_body(data: bytes, pos: int, framing: int | str) -> tuple[bytes, int] | None:
    if framing == "chunked":
        return _read_chunked(data, pos)
    assert isinstance(framing, int)
    if len(data) - pos < framing:
        return None
    return data[pos : pos + framing], pos + framing


def _read_chunked(data: bytes, pos: int) -> tuple[bytes, int] | None:
    """RFC 9112 §7.1: chunks, last-chunk, trailer section, all lines CRLF-terminated."""
    body = b""
    while True:
        line_end = data.find(b"\r\n", pos)
        chunk_line = _CHUNK_LINE.fullmatch(data, pos, line_end) if line_end >= 0 else None
        if chunk_line is None:
            return None
        size = int(chunk_line[1], 16)
        pos = line_end + 2
        if size == 0:
            break
        if len(body) + size > MAX_BODY or data[pos + size : pos + size + 2] != b"\r\n":
            return None
        body += data[pos : pos + size]
        pos += size + 2
    while True:  # §7.1.2: trailer fields, then an empty line
        line_end = data.find(b"\r\n", pos)
        if line_end < 0:
            return None
        if line_end == pos:
            return body, pos + 2
        if _FIELD_LINE.fullmatch(data, pos, line_end) is None:
            return None
        pos = line_end + 2


# --- the properties ----------------------------------------------------------------------------


def check(served: Exchange, expected: Expected, *, pauses: float) -> None:
    """Assert that the server's behaviour on an exchange is what ``expected`` says."""
    assert served.elapsed <= time_bound(CONFIG, pauses), served.elapsed
    # Error answers are framed as for a GET whatever the request (a HEAD's too).
    methods = [seen.method for seen in served.seen if seen.body is not None]
    responses = parse_responses(served.received, [*methods, "GET"])  # raises on garbage
    statuses = [response.status for response in responses]
    assert all(response.complete for response in responses), responses
    errors = [index for index, status in enumerate(statuses) if status >= 400]
    if errors:
        assert errors == [len(responses) - 1], f"an error response is not the last: {statuses}"
        assert responses[-1].closes, responses[-1]
        assert statuses[-1] in ERROR_STATUSES, statuses
    handled = [(seen.method, seen.target, seen.body) for seen in served.seen]
    wanted: list[tuple[str, str, bytes | None]] = list(expected.served)
    if expected.failed is not None:
        wanted.append((*expected.failed, None))
    assert handled == wanted, f"the handler saw {handled}, the bytes hold {wanted}"
    ok = len(expected.served)
    assert statuses[:ok] == [200] * ok, statuses
    for response, (method, _, body) in zip(responses, expected.served, strict=False):
        assert response.body == (b"" if method == "HEAD" else body)
    allowed = [ok, ok + 1] if expected.error is None else [ok + expected.error]
    assert len(statuses) in allowed, f"statuses {statuses}, expected {expected}"


def check_unread(served: Exchange, expected: Expected, *, pauses: float) -> None:
    """The same for a handler that answers without reading the body: the server
    drains it. A bad or cut-short body then shows only after the answer went
    out: the connection closes, no error response. Never is a body (read or
    drained) parsed as a request."""
    assert served.elapsed <= time_bound(CONFIG, pauses), served.elapsed
    responses = parse_responses(served.received)  # every answer has Content-Length: 0
    statuses = [response.status for response in responses]
    assert all(response.complete for response in responses), responses
    heads = [(method, target) for method, target, _ in expected.served]
    if expected.failed is not None:
        heads.append(expected.failed)
    error = expected.error if expected.failed is None else False
    if True in expected.awaits_continue:  # the server closes after that one
        heads = heads[: expected.awaits_continue.index(True) + 1]
        error = False
    handled = [(seen.method, seen.target) for seen in served.seen]
    assert handled == heads, f"the handler saw {handled}, the bytes hold {heads}"
    assert statuses[: len(heads)] == [200] * len(heads), statuses
    allowed = [len(heads), len(heads) + 1] if error is None else [len(heads) + error]
    assert len(statuses) in allowed, f"statuses {statuses}, expected {expected}"
    if len(statuses) > len(heads):
        assert statuses[-1] in ERROR_STATUSES and responses[-1].closes, responses[-1]


# --- strategies: valid requests ------------------------------------------------------------------


@attrs.frozen
class Generated:
    data: bytes
    method: str
    target: str
    body: bytes
    closes: bool
    fate: str = "served"  # or "head-error" (too large a head or Content-Length), "body-error"


_TARGET_CHARS = st.sampled_from("abcxyzABC0189-._~!$&'()*+,;=:@%/")
_EXTRA_FIELDS = [
    (b"User-Agent", b"fuzz/1.0"),
    (b"Accept", b"*/*"),
    (b"X-Empty", b""),
    (b"X-List", b"a, b,c"),
    (b"Connection", b"keep-alive"),
    (b"Cookie", b"a=b; c=d"),
    (b"Upgrade", b"websocket"),  # the server never upgrades: an ordinary field for it
]
_CHUNK_EXTS = [b"", b"", b";a=b", b';n="q;\\"v"', b";flag;x=1", b"; a = b"]


def _name_case(draw: st.DrawFn, name: bytes) -> bytes:
    style = draw(st.sampled_from(["as-is", "lower", "upper", "mixed"]))
    if style == "lower":
        return name.lower()
    if style == "upper":
        return name.upper()
    if style == "mixed":
        flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
        return bytes(
            c ^ 0x20 if flip and chr(c).isalpha() else c
            for c, flip in zip(name, flips, strict=True)
        )
    return name


def _field(draw: st.DrawFn, name: bytes, value: bytes) -> bytes:
    before = draw(st.sampled_from([b" ", b" ", b"", b"\t", b"  "]))
    after = draw(st.sampled_from([b"", b"", b" ", b"\t"])) if value else b""
    return _name_case(draw, name) + b":" + before + value + after + b"\r\n"


def _chunked_body(draw: st.DrawFn, body: bytes) -> bytes:
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(body) - 1)), max_size=3))))
    bounds = [0, *[c for c in cuts if c < len(body)], len(body)]
    out = b""
    for start, stop in itertools.pairwise(bounds):
        if stop > start:
            size = b"%x" % (stop - start)
            size = draw(st.sampled_from([size, size.upper(), b"0" + size]))
            ext = draw(st.sampled_from(_CHUNK_EXTS))
            out += size + ext + b"\r\n" + body[start:stop] + b"\r\n"
    out += draw(st.sampled_from([b"0", b"000"])) + draw(st.sampled_from(_CHUNK_EXTS)) + b"\r\n"
    if draw(st.booleans()):
        out += _field(draw, b"X-Trailer", b"t")
    return out + b"\r\n"


def _target(draw: st.DrawFn, method: str) -> str:
    form = draw(st.sampled_from(["origin"] * 6 + ["absolute", "asterisk"]))
    if form == "asterisk" and method == "OPTIONS":
        return "*"
    path = "/" + "".join(draw(st.lists(_TARGET_CHARS, max_size=12)))
    path += draw(st.sampled_from(["", "?q=1", "?a=b&c"]))
    return "http://example.com" + path if form == "absolute" else path


@st.composite
def valid_requests(draw: st.DrawFn) -> Generated:
    """One request, valid; rarely one whose head or body is just over (or at) a size limit."""
    version = draw(st.sampled_from(["1.1", "1.1", "1.1", "1.0", "1.2"]))  # 1.2: served as 1.1
    framings = ["none", "length", "chunked"] if version != "1.0" else ["none", "length"]
    framing = draw(st.sampled_from(framings))
    methods = ["GET", "HEAD", "OPTIONS", "DELETE"] if framing == "none" else ["POST", "PUT", "GET"]
    method = draw(st.sampled_from(methods))
    target = _target(draw, method)
    body = b"" if framing == "none" else draw(st.binary(max_size=40))
    fate = "served"
    if framing != "none" and draw(st.integers(0, 19)) == 0:  # around max_body_bytes
        body = b"b" * (MAX_BODY + draw(st.integers(-1, 1)))
        fate = "served" if len(body) <= MAX_BODY else "head-error"
        if framing == "chunked" and fate != "served":
            fate = "body-error"  # the handler sees it; the 413 comes while it reads
    fields = []
    if version != "1.0" or draw(st.booleans()):
        host = draw(st.sampled_from([b"x", b"example.com:8080", b"[::1]", b"127.0.0.1"]))
        fields.append(_field(draw, b"Host", host))
    for name, value in draw(st.lists(st.sampled_from(_EXTRA_FIELDS), max_size=3, unique=True)):
        fields.append(_field(draw, name, value))
    closes = version == "1.0"
    if draw(st.integers(0, 4)) == 0:
        fields.append(_field(draw, b"Connection", b"close"))
        closes = True
    if body and version != "1.0" and draw(st.integers(0, 4)) == 0:
        fields.append(_field(draw, b"Expect", b"100-continue"))
    if framing == "length":
        fields.append(_field(draw, b"Content-Length", b"%d" % len(body)))
    elif framing == "chunked":
        coding = draw(st.sampled_from([b"chunked", b"Chunked", b"CHUNKED"]))
        fields.append(_field(draw, b"Transfer-Encoding", coding))
    fields = draw(st.permutations(fields))
    head = f"{method} {target} HTTP/{version}\r\n".encode() + b"".join(fields)
    if draw(st.integers(0, 19)) == 0:  # a head of max_header_bytes + delta (CRLFCRLF included)
        padding = b"X-Padding: "
        size = MAX_HEAD + draw(st.integers(-2, 2)) - len(head) - len(padding) - 4
        head += padding + b"p" * max(1, size) + b"\r\n"
        if len(head) + 2 > MAX_HEAD:
            fate = "head-error"
    head += b"\r\n"
    payload = _chunked_body(draw, body) if framing == "chunked" else body
    return Generated(head + payload, method, target, body, closes, fate)


@attrs.frozen
class Pipeline:
    data: bytes
    expected: Expected


@st.composite
def valid_pipelines(draw: st.DrawFn) -> Pipeline:
    """One to three requests back to back (sometimes an empty line between), and
    what the handler must see: up to the first that closes or fails."""
    requests = draw(st.lists(valid_requests(), min_size=1, max_size=3))
    data = b""
    served: list[tuple[str, str, bytes]] = []
    expected: Expected | None = None
    for request in requests:
        data += draw(st.sampled_from([b"", b"", b"", b"\r\n"])) + request.data
        if expected is not None:
            continue
        if request.fate == "head-error":
            expected = Expected(tuple(served), error=True)
        elif request.fate == "body-error":
            expected = Expected(tuple(served), (request.method, request.target), error=True)
        else:
            served.append((request.method, request.target, request.body))
            if request.closes:
                expected = Expected(tuple(served))
    return Pipeline(data, expected or Expected(tuple(served)))


#: Request-specific lines to splice in, besides the framing ones.
SPLICES = [
    *FRAMING_SPLICES,
    b"Host: y\r\n",
    b"Expect: 100-continue\r\n",
    b"GET /m HTTP/1.1\r\nHost: x\r\n\r\n",
]


def serve(delivery: Delivery, *, read_body: bool = True) -> Exchange:
    return exchange(delivery.pieces, pauses=delivery.pauses, eof=delivery.eof, read_body=read_body)


# --- the tests -----------------------------------------------------------------------------------


@given(st.data(), valid_pipelines())
def test_valid_pipelines_are_served_exactly(data: st.DataObject, pipeline: Pipeline) -> None:
    expected = reference(pipeline.data)  # agrees with the generator:
    assert attrs.evolve(expected, awaits_continue=()) == pipeline.expected
    delivery = data.draw(deliveries(pipeline.data))
    check(serve(delivery), expected, pauses=sum(delivery.pauses))


@given(st.data(), valid_pipelines())
def test_mutated_pipelines_match_the_strict_reading(
    data: st.DataObject, pipeline: Pipeline
) -> None:
    mutant = data.draw(mutated(pipeline.data, SPLICES))
    delivery = data.draw(deliveries(mutant))
    check(serve(delivery), reference(mutant), pauses=sum(delivery.pauses))


@given(st.data(), valid_pipelines(), st.booleans())
def test_bodies_left_unread_are_drained_never_parsed(
    data: st.DataObject, pipeline: Pipeline, mutate: bool
) -> None:
    """The handler ignores request bodies: the server drains each one to keep
    the connection, valid pipelines and mutated ones."""
    payload = data.draw(mutated(pipeline.data, SPLICES)) if mutate else pipeline.data
    delivery = data.draw(deliveries(payload))
    served = serve(delivery, read_body=False)
    check_unread(served, reference(payload), pauses=sum(delivery.pauses))


@given(st.data(), st.binary(max_size=200), st.sampled_from([b"", b"GET / HTTP/1.1\r\n", b"POST /"]))
def test_random_bytes(data: st.DataObject, noise: bytes, prefix: bytes) -> None:
    payload = prefix + noise
    delivery = data.draw(deliveries(payload))
    check(serve(delivery), reference(payload), pauses=sum(delivery.pauses))


@given(st.data(), valid_pipelines())
def test_long_pauses_end_in_timeouts_never_in_a_desync(
    data: st.DataObject, pipeline: Pipeline
) -> None:
    """Pauses up to past every timeout (mock seconds): an idle connection closes
    quietly, a stalled head or body gets 408. Whatever expires, the handler has
    seen a prefix of what the bytes hold, and every answer but a final error is 200."""
    delivery = data.draw(deliveries(pipeline.data))
    pauses = [data.draw(st.sampled_from([0.0, 0.0, 4.0, 6.0, 11.0])) for _ in delivery.pauses]
    slow = Delivery(delivery.pieces, pauses, delivery.eof)
    served = serve(slow)
    assert served.elapsed <= time_bound(CONFIG, sum(pauses)), served.elapsed
    expected = reference(pipeline.data)
    methods = [seen.method for seen in served.seen if seen.body is not None]
    responses = parse_responses(served.received, [*methods, "GET"])
    statuses = [response.status for response in responses]
    assert all(response.complete for response in responses), responses
    heads = [*expected.served, *([(*expected.failed, None)] if expected.failed else [])]
    handled = [(seen.method, seen.target, seen.body) for seen in served.seen]
    complete = [seen for seen in handled if seen[2] is not None]
    assert complete == list(expected.served[: len(complete)]), (handled, heads)
    if len(handled) > len(complete):  # the last one's body stalled, or was bad
        assert len(handled) == len(complete) + 1 and handled[-1][2] is None
        assert handled[-1][:2] == heads[len(complete)][:2], (handled, heads)
    assert statuses[: len(complete)] == [200] * len(complete), statuses
    assert len(statuses) - len(complete) in (0, 1), statuses
    if len(statuses) > len(complete):
        assert statuses[-1] in ERROR_STATUSES and responses[-1].closes, statuses


# --- regressions: failing examples the fuzzers found, kept as plain tests -----------------------


def regression(*pieces: bytes, eof: bool = True) -> None:
    """Check one exchange (pieces sent back to back) against the strict reading."""
    check(
        serve(Delivery(list(pieces), [0.0] * len(pieces), eof)),
        reference(b"".join(pieces)),
        pauses=0,
    )


GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize(
    "first",
    [
        b"\r",
        b"\r\n\r",
        GET + b"\r",
        GET + b"\r\n\r",
        GET[:-4] + b"\r\nContent-Length: 1\r\n\r\nx\r",
    ],
    ids=["cr", "crlf-cr", "after-get-cr", "after-get-crlf-cr", "after-body-cr"],
)
def test_empty_line_split_across_reads_is_still_ignored(first: bytes) -> None:
    """Found by the fuzzer: an empty line before a request line is ignored
    (RFC 9112 §2.2 SHOULD) -- unless its CR and LF arrive in different reads;
    then the server answered 400 (h11 sees a lone CR, "obviously" no request
    line). Where the bytes are split must not change the answer."""
    regression(first, b"\n" + GET)


def test_upgrade_request_with_a_body_then_eof_does_not_spin() -> None:
    """Found by the fuzzer: a request with an ``Upgrade`` field (h11 then waits
    for a protocol switch: ``their_state`` MIGHT_SWITCH_PROTOCOL, events PAUSED)
    and a body the handler read. Finishing the request body never saw DONE, and
    waited for more body: with the peer's EOF ``receive_some`` returns b""
    at once and the body timer is re-armed on every turn, so the connection's
    task spun at 100 % CPU forever. It must answer and close."""
    regression(b"POST / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nContent-Length: 1\r\n\r\nx")


def test_upgrade_request_with_a_body_keeps_the_connection_usable() -> None:
    """The same without EOF: the pipelined request after it was never answered;
    the connection idled until body_timeout, then closed."""
    regression(
        b"POST / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nContent-Length: 1\r\n\r\nx"
        b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n",
        eof=False,
    )


def test_http_1_2_request_without_host_is_rejected() -> None:
    """Found while checking the reference: an HTTP/1.2 request is served as
    HTTP/1.1 (RFC 9110 §2.5), so it needs a Host like one (RFC 9112 §3.2: MUST
    400). h11 requires Host only for exactly "1.1", and the server served
    ``GET / HTTP/1.2`` without Host with 200."""
    regression(b"GET / HTTP/1.2\r\n\r\n")
