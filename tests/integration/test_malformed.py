"""Malformed and smuggling-style requests against a real server on loopback.

Rules these tests hold the server to (RFC 9112 unless noted; h11 parses):

* A request that cannot be parsed, or whose framing is ambiguous, gets one
  error response with ``Connection: close``, and the connection closes: the
  bytes after the bad head are never read as another request (no desync).
  The handler never sees ``/smuggled``, and a new connection is served.
* Status per case: 400 in general; 414 when the request line alone exceeds
  ``max_header_bytes``, 431 when the head does; 413 when Content-Length (or a
  chunked body) exceeds ``max_body_bytes``; 505 for a major version other
  than 1 (``HTTP/0.9``, ``HTTP/2.0``: h11 parses any ``DIGIT.DIGIT``).
* Transfer-Encoding (§6.1, §6.3): codings are case-insensitive tokens with
  optional whitespace, so ``Chunked`` and ``chunked<SP>`` are chunked. When
  ``chunked`` is not the final coding (``gzip``, ``chunked, gzip``,
  ``identity``) the length cannot be determined and the server MUST answer
  400; chunked applied twice is invalid too. An unknown coding *before* a
  final chunked (``gzip, chunked``) is framed fine but not understood: 501.
  Content-Length together with Transfer-Encoding is the classic smuggling
  vector; the server rejects it (400; §6.3 allows rejecting, and requires
  closing in any case). An HTTP/1.0 request with Transfer-Encoding has
  faulty framing (§6.1): 400.
* Host (§3.2): missing in HTTP/1.1, repeated, or with an invalid value: 400.
* Lenient parsing that RFC 9112 allows (bare LF line ends §2.2, obs-fold
  replaced by SP §5.2, OWS around field values, repeated equal
  Content-Length values §6.3, case of a transfer coding) must still frame
  the request exactly: the tests pipeline a second request behind each such
  request and check both are served as sent.
* §2.2: a server SHOULD ignore at least one empty line before a request
  line; §2.5 (RFC 9110 §2.5): an HTTP/1.x message with a higher minor
  version is processed as HTTP/1.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import attrs
import pytest
import trio

import trio_webkit

from support.loopback import (
    fail_after,
    get_status,
    parse_responses,
    raw_exchange,
    running_server,
)

#: Small limits so that the size cases stay small and fast.
MAX_HEADER_BYTES = 1024
MAX_BODY_BYTES = 4096
CONFIG = trio_webkit.ServerConfig(
    access_log=False,
    max_header_bytes=MAX_HEADER_BYTES,
    max_body_bytes=MAX_BODY_BYTES,
    header_timeout=3.0,
    body_timeout=3.0,
    keepalive_timeout=3.0,
)

HOST = b"Host: x\r\n"
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
AFTER = b"GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


@attrs.frozen
class Seen:
    """What the handler saw of one request."""

    method: str
    target: str
    path: str
    http_version: str
    headers: list[tuple[str, str]]
    body: bytes | None  # None: reading the body failed


@attrs.define
class App:
    """A recording handler on a running server."""

    seen: list[Seen] = attrs.Factory(list)
    port: int = 0

    async def handler(self, request: trio_webkit.Request) -> trio_webkit.Response:
        record = Seen(
            request.method,
            request.target,
            request.path,
            request.http_version,
            list(request.headers.items()),
            None,
        )
        self.seen.append(record)
        body = await request.read()  # raises on a bad body: the server answers
        self.seen[-1] = attrs.evolve(record, body=body)
        return trio_webkit.Response(200, body=b"ok " + request.target.encode("latin-1"))

    @property
    def targets(self) -> list[str]:
        return [seen.target for seen in self.seen]


@pytest.fixture
async def app() -> AsyncIterator[App]:
    recorder = App()
    async with running_server(recorder.handler, CONFIG) as running:
        recorder.port = running.port
        yield recorder


def chunked_post(body: bytes, *, extra: bytes = b"", version: bytes = b"1.1") -> bytes:
    return (
        b"POST / HTTP/" + version + b"\r\n" + HOST + extra
        + b"Transfer-Encoding: chunked\r\n\r\n" + body
    )  # fmt: skip


def te_post(coding: bytes, body: bytes = b"3\r\nabc\r\n0\r\n\r\n") -> bytes:
    return b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: " + coding + b"\r\n\r\n" + body


def cl_post(value: bytes, body: bytes = b"abc") -> bytes:
    return b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: " + value + b"\r\n\r\n" + body


def get(line: bytes = b"GET / HTTP/1.1", headers: bytes = HOST) -> bytes:
    return line + b"\r\n" + headers + b"\r\n"


def case(
    request: bytes | list[bytes], status: int, case_id: str, *, half_close: bool = False
) -> object:
    return pytest.param(request, status, half_close, id=case_id)


# A chunked body "0\r\n\r\n" + SMUGGLED: chunked framing ends before SMUGGLED,
# Content-Length framing includes it.
_CL_TE_BODY = b"0\r\n\r\n" + SMUGGLED
# A chunked body that *contains* SMUGGLED: Content-Length 4 ends before it.
_TE_CL_BODY = b"%x\r\n%b\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED)
_LONG_TARGET = b"/" + b"a" * (2 * MAX_HEADER_BYTES)
_LONG_VALUE = b"v" * (2 * MAX_HEADER_BYTES)

REJECTED = [
    # --- Content-Length and Transfer-Encoding together: smuggling ------------
    case(
        b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: %d\r\n" % len(_CL_TE_BODY)
        + b"Transfer-Encoding: chunked\r\n\r\n" + _CL_TE_BODY,
        400, "cl-te-smuggle",
    ),
    case(
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n"
        + b"Content-Length: 4\r\n\r\n" + _TE_CL_BODY,
        400, "te-cl-smuggle",
    ),
    case(
        b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: %d\r\n" % len(_CL_TE_BODY)
        + b"Transfer-Encoding: CHUNKED\r\n\r\n" + _CL_TE_BODY,
        400, "cl-te-uppercase-smuggle",
    ),
    case(
        b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: %d\r\n" % len(_CL_TE_BODY)
        + b"Transfer-Encoding:\r\n chunked\r\n\r\n" + _CL_TE_BODY,
        400, "cl-te-obsfold-smuggle",
    ),
    case(
        b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: %d\r\n" % len(_CL_TE_BODY)
        + b"Transfer-Encoding : chunked\r\n\r\n" + _CL_TE_BODY,
        400, "cl-te-space-before-colon-smuggle",
    ),
    case(
        b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: %d\r\n" % len(_CL_TE_BODY)
        + b"Transfer-Encoding: \x0bchunked\r\n\r\n" + _CL_TE_BODY,
        400, "cl-te-vtab-smuggle",
    ),
    # --- Content-Length values ---------------------------------------------
    case(
        b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 0\r\nContent-Length: %d\r\n\r\n"
        % len(SMUGGLED) + SMUGGLED,
        400, "cl-conflicting-duplicates-smuggle",
    ),
    case(cl_post(b"0, %d" % len(SMUGGLED), SMUGGLED), 400, "cl-conflicting-list-smuggle"),
    case(cl_post(b"+3"), 400, "cl-plus-sign"),
    case(cl_post(b"-3"), 400, "cl-minus-sign"),
    case(cl_post(b"0x3"), 400, "cl-hex"),
    case(cl_post(b"1 2"), 400, "cl-inner-space"),
    case(cl_post(b"3a"), 400, "cl-trailing-junk"),
    case(cl_post(b""), 400, "cl-empty"),
    case(cl_post(b"%d" % (MAX_BODY_BYTES + 1), b""), 413, "cl-over-max-body"),
    # A valid 1*DIGIT numeral, far over max_body_bytes (RFC 9112 §6.3: expect
    # large numerals): too large, not malformed.
    case(cl_post(b"1" + b"0" * 20, b""), 413, "cl-over-max-body-21-digits"),
    case(
        b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 10\r\n\r\nabc",
        400, "cl-body-short-then-eof", half_close=True,
    ),
    # --- Transfer-Encoding values -------------------------------------------
    # §6.3 item 4: chunked not final → MUST 400 (it beats §6.1's SHOULD 501).
    case(te_post(b"gzip"), 400, "te-gzip-not-final-chunked"),
    case(te_post(b"chunked, gzip"), 400, "te-chunked-then-gzip"),
    case(te_post(b"chunked, identity"), 400, "te-chunked-then-identity"),
    case(te_post(b"identity"), 400, "te-identity"),
    case(te_post(b"xchunked"), 400, "te-xchunked"),
    case(te_post(b"chunkedx"), 400, "te-chunkedx"),
    case(te_post(b""), 400, "te-empty"),
    case(te_post(b"chunked, chunked"), 400, "te-chunked-twice-list"),
    case(
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n"
        + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        400, "te-chunked-twice-fields",
    ),
    case(
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n"
        + b"Transfer-Encoding: identity\r\n\r\n" + _TE_CL_BODY,
        400, "te-chunked-then-identity-fields-smuggle",
    ),
    case(te_post(b"gzip, chunked"), 501, "te-unknown-coding-before-chunked"),
    case(chunked_post(b"3\r\nabc\r\n0\r\n\r\n", version=b"1.0"), 400, "te-in-http10"),
    # --- chunked bodies ------------------------------------------------------
    case(chunked_post(b"zz\r\nabc\r\n0\r\n\r\n"), 400, "chunk-size-not-hex"),
    case(chunked_post(b"-3\r\nabc\r\n0\r\n\r\n"), 400, "chunk-size-negative"),
    case(chunked_post(b"0x3\r\nabc\r\n0\r\n\r\n"), 400, "chunk-size-0x-prefix"),
    case(chunked_post(b" 3\r\nabc\r\n0\r\n\r\n"), 400, "chunk-size-leading-space"),
    case(chunked_post(b"1" + b"0" * 20 + b"\r\nabc\r\n0\r\n\r\n"), 400, "chunk-size-overflow"),
    case(
        chunked_post(b"f" * 20 + b"\r\nabc\r\n0\r\n\r\n"),  # announces more than max_body_bytes
        413, "chunk-size-2**80-then-eof", half_close=True,
    ),
    case(chunked_post(b"3\r\nabcXX0\r\n\r\n" + SMUGGLED), 400, "chunk-data-without-crlf"),
    case(chunked_post(b"0\n\n" + SMUGGLED), 400, "chunk-bare-lf-smuggle"),
    case(chunked_post(b"3\nabc\n0\n\n"), 400, "chunk-bare-lf-then-eof", half_close=True),
    case(chunked_post(b"3\r\nabc\r\n"), 400, "chunk-no-last-chunk-then-eof", half_close=True),
    # RFC 9112 §7.1.1: limit chunk extensions, answer "an appropriate 4xx".
    # Not 414 (no URI involved) nor 431 (no header field): 400.
    case(
        chunked_post(b"3;" + b"e" * 100_000 + b"\r\nabc\r\n0\r\n\r\n"),
        400, "chunk-extension-oversize",
    ),
    case(chunked_post(b"0\r\nBad Trailer\r\n\r\n"), 400, "chunk-invalid-trailer"),
    case(
        chunked_post(b"%x\r\n%b\r\n0\r\n\r\n" % (MAX_BODY_BYTES + 1, b"x" * (MAX_BODY_BYTES + 1))),
        413, "chunked-body-over-max-body",
    ),
    # --- field syntax ---------------------------------------------------------
    case(get(headers=b" Host: x\r\n"), 400, "obs-fold-before-first-field"),
    case(get(headers=HOST + b"X: a\rY: b\r\n"), 400, "bare-cr-in-value"),
    case(b"GET / HTTP/1.1\r" + HOST + b"\r\n", 400, "bare-cr-line-end"),
    case(get(headers=HOST + b"X\x00Y: z\r\n"), 400, "nul-in-name"),
    case(get(headers=HOST + b"X: a\x00b\r\n"), 400, "nul-in-value"),
    case(get(headers=b"Host : x\r\n"), 400, "space-before-colon"),
    case(get(headers=b"Host\t: x\r\n"), 400, "tab-before-colon"),
    case(get(headers=HOST + b": z\r\n"), 400, "empty-field-name"),
    case(get(headers=HOST + b"X(Y): z\r\n"), 400, "invalid-char-in-name"),
    case(get(headers=HOST + b"H\xc3\xa9: z\r\n"), 400, "non-ascii-name"),
    case(get(headers=HOST + b"NoColonHere\r\n"), 400, "field-without-colon"),
    # --- Host ------------------------------------------------------------------
    case(get(headers=b""), 400, "http11-without-host"),
    case(get(headers=b"Host: a\r\nHost: b\r\n"), 400, "two-host-fields"),
    case(get(headers=b"Host: a b\r\n"), 400, "host-with-space"),
    case(get(headers=b"Host: user@evil\r\n"), 400, "host-with-userinfo"),
    # --- request line -------------------------------------------------------------
    case(get(b"G ET / HTTP/1.1"), 400, "method-with-space"),
    case(get(b"GET\x00 / HTTP/1.1"), 400, "method-with-nul"),
    case(get(b" / HTTP/1.1"), 400, "method-empty"),
    case(get(b"G(T / HTTP/1.1"), 400, "method-not-token"),
    case(get(b" GET / HTTP/1.1"), 400, "request-line-leading-space"),
    case(get(b"GET  / HTTP/1.1"), 400, "request-line-double-space"),
    case(get(b"GET / HTTP/1.1 "), 400, "request-line-trailing-space"),
    case(get(b"GET\t/\tHTTP/1.1"), 400, "request-line-tabs"),
    case(get(b"GET /a b HTTP/1.1"), 400, "target-with-space"),
    case(get(b"GET /a\x00b HTTP/1.1"), 400, "target-with-nul"),
    case(get(b"GET /a\x7fb HTTP/1.1"), 400, "target-with-del"),
    case(get(b"GET index.html HTTP/1.1"), 400, "target-relative"),
    case(get(b"GET * HTTP/1.1"), 400, "asterisk-not-options"),
    case(get(b"GET http:/x HTTP/1.1"), 400, "absolute-form-one-slash"),
    case(get(b"GET http:///x HTTP/1.1"), 400, "absolute-form-empty-authority"),
    case(get(b"GET ftp://x/ HTTP/1.1"), 400, "absolute-form-ftp"),
    case(b"GET /\r\n\r\n", 400, "http09-request-line"),
    case(b"GET /\r\n", 400, "http09-request-line-then-eof", half_close=True),
    case(get(b"GET / http/1.1"), 400, "version-lowercase"),
    case(get(b"GET / HTTP/1.x"), 400, "version-not-digit"),
    case(get(b"GET / HTTP/1.10"), 400, "version-two-digit-minor"),
    case(get(b"GET / HTTP/11"), 400, "version-no-dot"),
    case(get(b"GET / HTTP/0.9"), 505, "version-0.9"),
    case(get(b"GET / HTTP/2.0"), 505, "version-2.0"),
    case(get(b"GET / HTTP/3.0"), 505, "version-3.0"),
    case(b"GET /\r\n HTTP/1.1\r\n" + HOST + b"\r\n", 400, "request-line-folded"),
    # --- garbage ----------------------------------------------------------------------
    case(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 32, 400, "tls-client-hello"),
    case(b"hello world\r\n" + get(), 400, "garbage-line-before-request"),
    case(b"\x00\r\n" + get(), 400, "nul-before-request"),
    # --- sizes (max_header_bytes = 1024) ----------------------------------------------
    case(get(b"GET " + _LONG_TARGET + b" HTTP/1.1"), 414, "request-line-over-limit"),
    case(get(headers=HOST + b"X-Long: " + _LONG_VALUE + b"\r\n"), 431, "field-line-over-limit"),
    case(get(headers=HOST + b"A: b\r\n" * 300), 431, "too-many-fields"),
    # The same heads in two writes: the first alone is over the limit.
    case(
        [b"GET " + _LONG_TARGET, b" HTTP/1.1\r\n" + HOST + b"\r\n"],
        414, "request-line-over-limit-in-pieces",
    ),
    case(
        [b"GET / HTTP/1.1\r\n" + HOST + b"X-Long: " + _LONG_VALUE, b"\r\n\r\n"],
        431, "field-line-over-limit-in-pieces",
    ),
]  # fmt: skip


@fail_after(10)
@pytest.mark.parametrize(("request_bytes", "status", "half_close"), REJECTED)
async def test_rejected_with_status_then_closed(
    app: App, request_bytes: bytes | list[bytes], status: int, half_close: bool
) -> None:
    pieces = [request_bytes] if isinstance(request_bytes, bytes) else request_bytes
    data = await _exchange_in_pieces(app.port, pieces, half_close=half_close)
    # raw_exchange returned: the server closed the connection (EOF) in time.
    responses = parse_responses(data)
    assert [response.status for response in responses] == [status], data
    (response,) = responses
    assert response.complete, data
    assert response.closes, f"no Connection: close in {data!r}"
    assert "/smuggled" not in app.targets, app.seen
    # The server is still healthy: a new connection is served.
    assert await get_status(app.port) == 200
    assert app.targets[-1] == "/health"


async def _exchange_in_pieces(port: int, pieces: list[bytes], *, half_close: bool) -> bytes:
    # Pieces are sent with a pause between them, so the server reads them separately.
    return await raw_exchange(port, pieces, half_close=half_close, pause=0.05)


def test_the_rejected_table_is_large_enough() -> None:
    assert len(REJECTED) >= 40
    assert len({param.id for param in REJECTED}) == len(REJECTED)


# --- valid requests, however unusual, are served exactly as sent ----------------

VALID = [
    pytest.param(te_post(b"chunked "), ("POST", "/", b"abc"), id="te-chunked-trailing-space"),
    pytest.param(te_post(b"\tchunked\t"), ("POST", "/", b"abc"), id="te-chunked-tabs"),
    pytest.param(te_post(b"Chunked"), ("POST", "/", b"abc"), id="te-chunked-capitalised"),
    pytest.param(te_post(b"CHUNKED"), ("POST", "/", b"abc"), id="te-chunked-uppercase"),
    pytest.param(cl_post(b"  3  "), ("POST", "/", b"abc"), id="cl-surrounding-whitespace"),
    pytest.param(cl_post(b"003"), ("POST", "/", b"abc"), id="cl-leading-zeros"),
    pytest.param(
        chunked_post(b"3;name=value;flag\r\nabc\r\n0\r\n\r\n"),
        ("POST", "/", b"abc"),
        id="chunk-extensions",
    ),
    pytest.param(
        chunked_post(b"000A\r\n0123456789\r\n0\r\n\r\n"),
        ("POST", "/", b"0123456789"),
        id="chunk-size-uppercase-leading-zeros",
    ),
    pytest.param(
        chunked_post(b"3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n"),
        ("POST", "/", b"abc"),
        id="chunk-trailer",
    ),
    pytest.param(get(b"get / HTTP/1.1"), ("get", "/", b""), id="method-lowercase-is-a-token"),
    pytest.param(get(b"M-SEARCH / HTTP/1.1"), ("M-SEARCH", "/", b""), id="method-extension"),
    pytest.param(
        get(b"GET http://example.com/p?q=1 HTTP/1.1"),
        ("GET", "http://example.com/p?q=1", b""),
        id="absolute-form",
    ),
    pytest.param(get(b"GET //evil/x HTTP/1.1"), ("GET", "//evil/x", b""), id="double-slash-path"),
    pytest.param(get(b"OPTIONS * HTTP/1.1"), ("OPTIONS", "*", b""), id="options-asterisk"),
    pytest.param(
        get(headers=HOST + b"X: caf\xc3\xa9\r\n"), ("GET", "/", b""), id="obs-text-in-value"
    ),
]


@fail_after(10)
@pytest.mark.parametrize(("request_bytes", "expected"), VALID)
async def test_valid_request_is_served_exactly(
    app: App, request_bytes: bytes, expected: tuple[str, str, bytes]
) -> None:
    data = await raw_exchange(app.port, request_bytes + AFTER)
    responses = parse_responses(data)
    assert [response.status for response in responses] == [200, 200], data
    assert [(seen.method, seen.target, seen.body) for seen in app.seen] == [
        expected,
        ("GET", "/after", b""),
    ]


# --- leniency the RFC allows either way: served exactly, or rejected cleanly ---------

LENIENT = [
    pytest.param(b"GET /lf HTTP/1.1\nHost: x\n\n", ("GET", "/lf", b""), id="bare-lf-line-ends"),
    pytest.param(
        b"GET /lf HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", ("GET", "/lf", b""), id="mixed-line-ends"
    ),
    pytest.param(
        b"POST /lf HTTP/1.1\nHost: x\nContent-Length: 3\n\nabc",
        ("POST", "/lf", b"abc"),
        id="bare-lf-with-body",
    ),
    pytest.param(te_post(b"\r\n chunked"), ("POST", "/", b"abc"), id="te-obs-fold-without-cl"),
    pytest.param(
        get(headers=HOST + b"X-Folded: a\r\n \t b\r\n"), ("GET", "/", b""), id="obs-fold-in-value"
    ),
    pytest.param(cl_post(b"3, 3"), ("POST", "/", b"abc"), id="cl-equal-list"),
    pytest.param(
        b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        ("POST", "/", b"abc"),
        id="cl-equal-duplicates",
    ),
    pytest.param(get(headers=HOST + b"X: a\x01b\r\n"), ("GET", "/", b""), id="ctl-in-value"),
]


@fail_after(10)
@pytest.mark.parametrize(("request_bytes", "expected"), LENIENT)
async def test_lenient_request_is_served_exactly_or_rejected(
    app: App, request_bytes: bytes, expected: tuple[str, str, bytes]
) -> None:
    """RFC 9112 lets a server accept these (bare LF §2.2, obs-fold §5.2, equal
    Content-Length values §6.3) or reject them. Either is safe; a desync is not:
    accepted means both pipelined requests served as sent, rejected means one
    400 with ``Connection: close`` and nothing handled."""
    data = await raw_exchange(app.port, request_bytes + AFTER)
    responses = parse_responses(data)
    statuses = [response.status for response in responses]
    if statuses == [400]:
        assert responses[0].closes
        assert app.seen == []
    else:
        assert statuses == [200, 200], data
        assert [(seen.method, seen.target, seen.body) for seen in app.seen] == [
            expected,
            ("GET", "/after", b""),
        ]
    assert await get_status(app.port) == 200


@fail_after(10)
async def test_obs_fold_is_replaced_by_space_if_accepted(app: App) -> None:
    request = get(headers=HOST + b"X-Folded: a\r\n \t b\r\n")
    responses = parse_responses(await raw_exchange(app.port, request + AFTER))
    if [response.status for response in responses] != [400]:  # rejecting is fine too
        assert [response.status for response in responses] == [200, 200]
        assert ("X-Folded", "a b") in app.seen[0].headers


@fail_after(10)
async def test_absolute_form_path_and_query(app: App) -> None:
    request = get(b"GET http://example.com/p%20q?x=1 HTTP/1.1", b"Host: example.com\r\n")
    responses = parse_responses(await raw_exchange(app.port, request + AFTER))
    assert [response.status for response in responses] == [200, 200]
    assert app.seen[0].path == "/p q"


@fail_after(10)
@pytest.mark.parametrize("version", [b"1.2", b"1.9"])
async def test_higher_minor_version_is_served_as_http11(app: App, version: bytes) -> None:
    """RFC 9110 §2.5: process HTTP/1.x (x > 1) as the highest 1.x implemented.

    It stays keep-alive like HTTP/1.1: a pipelined request behind it is served.
    """
    request = get(b"GET /v HTTP/" + version)
    responses = parse_responses(await raw_exchange(app.port, request + AFTER))
    assert [response.status for response in responses] == [200, 200]
    assert app.targets == ["/v", "/after"]


@fail_after(10)
async def test_empty_line_before_request_line_is_ignored(app: App) -> None:
    """RFC 9112 §2.2: a server SHOULD ignore at least one empty line (CRLF) first."""
    responses = parse_responses(await raw_exchange(app.port, b"\r\n" + AFTER))
    assert [response.status for response in responses] == [200]
    assert app.targets == ["/after"]


@fail_after(10)
async def test_extra_crlf_after_a_post_body_is_ignored(app: App) -> None:
    """RFC 9112 §2.2: old clients send CRLF after a POST body; ignore it."""
    request = cl_post(b"3") + b"\r\n" + AFTER
    responses = parse_responses(await raw_exchange(app.port, request))
    assert [response.status for response in responses] == [200, 200]
    assert app.targets == ["/", "/after"]


@fail_after(10)
async def test_bad_request_behind_a_good_one_is_answered_in_order(app: App) -> None:
    """Pipelined: the good request is served, then the bad one gets 400 and close."""
    request = get(b"GET /first HTTP/1.1") + get(b"GET /a b HTTP/1.1") + SMUGGLED
    data = await raw_exchange(app.port, request)
    responses = parse_responses(data)
    assert [response.status for response in responses] == [200, 400], data
    assert responses[1].closes
    assert app.targets == ["/first"]


@fail_after(10)
async def test_server_survives_every_rejected_case(app: App) -> None:
    """All the rejected requests at once on parallel connections: no crash."""

    async def one(request: bytes | list[bytes], half_close: bool) -> None:
        pieces = [request] if isinstance(request, bytes) else request
        await _exchange_in_pieces(app.port, pieces, half_close=half_close)

    async with trio.open_nursery() as nursery:
        for param in REJECTED:
            request, _, half_close = param.values
            nursery.start_soon(one, request, half_close)
    assert "/smuggled" not in app.targets
    assert await get_status(app.port) == 200
