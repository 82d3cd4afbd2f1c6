"""Request smuggling and desync: pipelined pairs, h11's verdict next to ours.

Each row of :data:`REJECTED` is a *pair*: a first request malformed in a way
that matters for framing, then a valid ``GET /smuggled`` (placed where some
other parser would find a second request: after a body that Content-Length
frames differently from Transfer-Encoding, after a chunked body whose end a
lenient parser finds earlier, ...). For every row the test records

* **h11's own verdict**: a bare ``h11.Connection(h11.SERVER)`` fed the same
  bytes, answering 200 to each request it completes — the targets it would
  hand to an application, then how it stops (``rejects <status hint>``,
  ``waits`` for more data, ``closes``);
* **our verdict**: what :func:`serve_connection` answers (status), and which
  targets reached the handler.

Both are asserted. Ours must be one 4xx/5xx with ``Connection: close``, then
EOF, and ``/smuggled`` must never reach the handler — whether the pair
arrives in one piece or the second request arrives later, while the server
lingers after its answer (a lingering connection never parses anything).

Where we are stricter than h11 (rows whose h11 verdict serves ``/smuggled``
or ``/``), and why (RFC 9112 unless noted; the rules live in
``trio_webkit/_request_checks.py``):

* Content-Length together with Transfer-Encoding: h11 frames by
  Transfer-Encoding and keeps the connection open, so the bytes a
  Content-Length parser counts as body become a second request. §6.1 lets a
  server reject such a request, and requires closing in any case; §6.3 item
  3 calls it a likely smuggling attempt "ought to be handled as an error"
  (§11.2). We answer 400.
* Content-Length repeated or as a list of equal values: h11 accepts; §6.3
  item 5 allows that, but an intermediary that took the first of two values,
  or the sum, frames differently. We answer 400.
* obs-fold (§5.2: reject or replace by SP) and bare LF line ends (§2.2:
  MAY accept): h11 unfolds and accepts bare LF; a parser that does neither
  sees other fields (a Transfer-Encoding hidden in a folded or LF-separated
  line). We answer 400.
* Transfer-Encoding in an HTTP/1.0 request: h11 processes it as chunked (and
  closes); §6.1 says the framing MUST be treated as faulty. We answer 400.
* Transfer codings: h11 answers 501 to anything but exactly ``chunked``.
  When ``chunked`` is not the final coding (``chunked, identity``, a second
  Transfer-Encoding field, ``xchunked``) the length cannot be determined and
  §6.3 item 4 requires 400; an unknown coding before a final ``chunked`` is
  framed fine but not implemented: 501 (§6.1, RFC 9110 §15.6.2).

Rows marked ``[regression: was accepted]`` are h11 leniencies inside a
chunked body that the server once accepted (it served ``/smuggled``); the
server now checks the framing bytes around the chunk data
(``trio_webkit/_chunk_checks.py``):

* chunk-size followed by whitespace (``0 \\r\\n``): h11 accepts on purpose
  (for responses from sloppy servers); §7.1 allows nothing between
  chunk-size and CRLF except a chunk-ext.
* chunk extensions: h11 accepts ``;`` then anything but LF. An unterminated
  quoted-string, or a bare CR, is no chunk-ext (§7.1.1 grammar; §2.2: a bare
  CR makes the element invalid). A parser that honours quoted-strings reads
  past the CRLF h11 stops at: a desync.
* the trailer section: h11 reads it with bare-LF line ends allowed, so
  ``0\\r\\n\\n`` ends a chunked body for h11 but not for a CRLF-only parser,
  which reads the next request as trailer fields (§7.1.2 trailer fields use
  the field-line grammar and CRLF of §5 and §2.2, which the server enforces
  in the head).

The valid-but-unusual pairs of :data:`ACCEPTED` are served exactly as the
RFC frames them, both requests; :data:`TOLERATED` pairs (the RFC leaves the
choice open) are served exactly or rejected cleanly, never half of each.
Single malformed requests (without the pair structure) are covered by
``tests/integration/test_malformed.py``.
"""

from __future__ import annotations

import attrs
import h11
import pytest

# isort: split
from fuzz.harness import ERROR_STATUSES, Exchange, exchange

from support.loopback import parse_responses

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
NEXT = b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
LAST_CHUNK = b"0\r\n\r\n"


@attrs.frozen
class Row:
    id: str
    data: bytes  # the whole pair, as sent
    first: bytes  # the first request alone (the pair = first + the rest)
    h11: str  # "<targets h11 would hand over> | <how it stops>"
    status: int  # what we answer
    handled: tuple[str, ...]  # the targets that reach our handler
    why: str


def _post(fields: bytes, body: bytes, *, version: bytes = b"1.1") -> bytes:
    return b"POST / HTTP/" + version + b"\r\nHost: x\r\n" + fields + b"\r\n" + body


def _cl_te(te_field: bytes, *, te_first: bool = False) -> bytes:
    """Content-Length covering ``0\\r\\n\\r\\n`` + SMUGGLED, and some Transfer-Encoding.

    By Content-Length it is one request; by chunked framing the body ends
    after ``0\\r\\n\\r\\n`` and SMUGGLED is a second request.
    """
    length = b"Content-Length: %d\r\n" % len(LAST_CHUNK + SMUGGLED)
    fields = te_field + length if te_first else length + te_field
    return _post(fields, LAST_CHUNK)


def _chunked(body: bytes) -> bytes:
    return _post(b"Transfer-Encoding: chunked\r\n", body)


def row(
    id: str, first: bytes, h11: str, status: int, why: str, *, handled: tuple[str, ...] = ()
) -> object:
    data = first + SMUGGLED
    return pytest.param(Row(id, data, first, h11, status, handled, why), id=id)


H11_SMUGGLES = "/ /smuggled | waits"  # h11 alone would hand /smuggled to the application
BODY = ("/",)  # the head was fine: the handler saw "/", reading its body failed

REJECTED = [
    # --- Content-Length and Transfer-Encoding together (§6.1, §6.3 item 3, §11.2)
    row("cl-te", _cl_te(b"Transfer-Encoding: chunked\r\n"), H11_SMUGGLES, 400,
        "CL.TE: h11 frames by TE and keeps the connection; §6.1 lets us reject, §11.2"),
    row("te-cl", _cl_te(b"Transfer-Encoding: chunked\r\n", te_first=True), H11_SMUGGLES, 400,
        "TE.CL: the order of the fields does not matter"),
    row("cl-te-uppercase-value", _cl_te(b"Transfer-Encoding: CHUNKED\r\n"), H11_SMUGGLES, 400,
        "coding names are case-insensitive (§7): still CL+TE"),
    row("cl-te-mixed-case-name", _cl_te(b"tRaNsFeR-eNcOdInG: chunked\r\n"), H11_SMUGGLES, 400,
        "field names are case-insensitive (RFC 9110 §5.1): still CL+TE"),
    row("cl-te-tabs-around-value", _cl_te(b"Transfer-Encoding:\tchunked\t\r\n"), H11_SMUGGLES,
        400, "tabs are OWS around a field value (§5.1): still CL+TE"),
    row("cl-te-obs-fold-value", _cl_te(b"Transfer-Encoding:\r\n chunked\r\n"), H11_SMUGGLES, 400,
        "h11 unfolds into TE: chunked; a parser without obs-fold sees an empty TE; §5.2"),
    row("cl-te-space-before-colon", _cl_te(b"Transfer-Encoding : chunked\r\n"), "- | rejects 400",
        400, "§5.1: whitespace before the colon MUST be rejected with 400 (h11 agrees)"),
    row("cl-te-tab-before-colon", _cl_te(b"Transfer-Encoding\t: chunked\r\n"), "- | rejects 400",
        400, "§5.1, as the space; some parsers strip it and see TE"),
    row("cl-te-space-in-name", _cl_te(b"Transfer Encoding: chunked\r\n"), "- | rejects 400", 400,
        "a field name is a token (RFC 9110 §5.1): no space"),
    row("cl-te-vertical-tab-value", _cl_te(b"Transfer-Encoding: \x0bchunked\r\n"),
        "- | rejects 400", 400, "VT is no OWS; parsers that strip all isspace() see chunked"),
    row("cl-te-nul-in-value", _cl_te(b"Transfer-Encoding: chunked\x00\r\n"), "- | rejects 400",
        400, "RFC 9110 §5.5: NUL in a field value MUST be rejected or replaced"),
    row("cl-te-xchunked", _cl_te(b"Transfer-Encoding: xchunked\r\n"), "- | rejects 501", 400,
        "unknown final coding: length undeterminable, §6.3 item 4 requires 400 (h11: 501)"),
    row("cl-obs-fold-hides-te", _cl_te(b"X-Padding: a\r\n\tTransfer-Encoding: chunked\r\n"),
        "/ | waits", 400,
        "h11 folds TE into X-Padding's value; a parser without obs-fold sees CL+TE; §5.2"),
    row("cl-bare-lf-hides-te", _cl_te(b"X-Padding: a\nTransfer-Encoding: chunked\r\n"),
        H11_SMUGGLES, 400,
        "h11 splits at the bare LF and sees CL+TE; a CRLF-only parser sees one X-Padding "
        "field and frames by CL; §2.2 MAY accept bare LF, we do not"),
    row("cl-bare-cr-hides-te", _cl_te(b"X-Padding: a\rTransfer-Encoding: chunked\r\n"),
        "- | rejects 400", 400, "§2.2: a bare CR MUST make the element invalid (or become SP)"),
    # --- Transfer-Encoding values (§6.1, §6.3 item 4) ------------------------------------------
    row("te-chunked-identity", _post(b"Transfer-Encoding: chunked, identity\r\n", LAST_CHUNK),
        "- | rejects 501", 400, "chunked not final: §6.3 item 4 MUST 400 and close (h11: 501)"),
    row("te-identity-chunked", _post(b"Transfer-Encoding: identity, chunked\r\n", LAST_CHUNK),
        "- | rejects 501", 501, "final chunked, framed; an unknown coding before it: §6.1 501"),
    row("te-two-fields-chunked-identity",
        _post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", LAST_CHUNK),
        "- | rejects 501", 400,
        "two fields combine into 'chunked, identity' (RFC 9110 §5.3): §6.3 item 4, 400"),
    row("te-chunked-with-parameter", _post(b"Transfer-Encoding: chunked;q=1\r\n", LAST_CHUNK),
        "- | rejects 501", 400, "chunked takes no parameters (§7.1): not chunked, so 400"),
    row("te-in-http10", _post(b"Transfer-Encoding: chunked\r\n", LAST_CHUNK, version=b"1.0"),
        "/ | closes", 400,
        "§6.1: TE in an HTTP/1.0 message MUST be treated as faulty framing; h11 decodes it"),
    row("te-in-http10-keep-alive-with-cl",
        _post(b"Connection: keep-alive\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n"
              % len(LAST_CHUNK + SMUGGLED), LAST_CHUNK, version=b"1.0"),
        "/ | closes", 400, "§6.1: faulty 'even if a Content-Length is present'"),
    # --- Content-Length values (§6.3 item 5, RFC 9110 §8.6) --------------------------------------
    row("cl-twice-different",
        _post(b"Content-Length: 0\r\nContent-Length: %d\r\n" % len(SMUGGLED), b""),
        "- | rejects 400", 400, "§6.3 item 5: differing values MUST be rejected"),
    row("cl-twice-equal", _post(b"Content-Length: 3\r\nContent-Length: 3\r\n", b"abc"),
        H11_SMUGGLES, 400,
        "§6.3 item 5 MAY accept equal values; an intermediary that adds them frames "
        "differently, so we reject"),
    row("cl-list-equal", _post(b"Content-Length: 3, 3\r\n", b"abc"), H11_SMUGGLES, 400,
        "the list form of the same: h11 accepts, we reject"),
    row("cl-list-different", _post(b"Content-Length: 0, %d\r\n" % len(SMUGGLED), b""),
        "- | rejects 400", 400, "§6.3 item 5: MUST reject"),
    row("cl-plus-sign", _post(b"Content-Length: +3\r\n", b"abc"), "- | rejects 400", 400,
        "Content-Length = 1*DIGIT (RFC 9110 §8.6): strtol() would take +3"),
    row("cl-minus-zero", _post(b"Content-Length: -0\r\n", b""), "- | rejects 400", 400,
        "1*DIGIT: no sign"),
    row("cl-inner-space", _post(b"Content-Length: 3 6\r\n", b"abc"), "- | rejects 400", 400,
        "1*DIGIT: a parser that stops at the space reads 3"),
    row("cl-hex", _post(b"Content-Length: 0x3\r\n", b"abc"), "- | rejects 400", 400,
        "1*DIGIT: strtol(base=0) would read 3"),
    row("cl-nul-after-digits", _post(b"Content-Length: 3\x00\r\n", b"abc"), "- | rejects 400",
        400, "RFC 9110 §5.5: NUL; a C parser stops at it and reads 3"),
    row("cl-space-before-colon", _post(b"Content-Length : %d\r\n" % len(SMUGGLED), b""),
        "- | rejects 400", 400, "§5.1: MUST reject; a stripping parser sees the length"),
    row("cl-obs-fold-value", _post(b"Content-Length:\r\n %d\r\n" % len(SMUGGLED), b""),
        "/ | waits", 400,
        "h11 unfolds to the length (SMUGGLED is body); without obs-fold the field is empty "
        "and SMUGGLED a request; §5.2"),
    # --- line ends, NUL, folding in the head (§2.2, §5.2) --------------------------------------
    row("bare-lf-line-ends", b"GET / HTTP/1.1\nHost: x\n\n", H11_SMUGGLES, 400,
        "§2.2 MAY accept bare LF; a CRLF-only parser reads both requests as one head"),
    row("bare-lf-ends-head", b"GET / HTTP/1.1\r\nHost: x\r\n\n", H11_SMUGGLES, 400,
        "one bare LF as the empty line: for a CRLF-only parser SMUGGLED is more fields"),
    row("bare-cr-line-end", b"GET / HTTP/1.1\rHost: x\r\n\r\n", "- | rejects 400", 400,
        "§2.2: a bare CR is invalid"),
    row("nul-in-target", b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n", "- | rejects 400", 400,
        "§3.2: the request-target has no NUL"),
    row("obs-fold-at-first-field",
        b"POST / HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: x\r\n\r\n" + LAST_CHUNK,
        "- | rejects 400", 400, "§2.2: whitespace before the first field MUST be rejected"),
    # --- chunk-size and chunk-ext lines (§7.1, §7.1.1) -----------------------------------------
    row("chunk-size-leading-space", _chunked(b" 0\r\n\r\n"), "/ | rejects 400", 400,
        "chunk-size = 1*HEXDIG", handled=BODY),
    row("chunk-size-plus-sign", _chunked(b"+0\r\n\r\n"), "/ | rejects 400", 400,
        "1*HEXDIG: no sign", handled=BODY),
    row("chunk-size-0x-prefix", _chunked(b"0x0\r\n\r\n"), "/ | rejects 400", 400,
        "1*HEXDIG: strtol(base=16) skips 0x", handled=BODY),
    row("chunk-size-trailing-letter", _chunked(b"0g\r\n\r\n"), "/ | rejects 400", 400,
        "nothing but chunk-ext may follow chunk-size", handled=BODY),
    row("chunk-size-trailing-space", _chunked(b"0 \r\n\r\n"), H11_SMUGGLES, 400,
        "§7.1: chunk-size [chunk-ext] CRLF, no whitespace; h11 accepts it on purpose "
        "(for sloppy servers' responses) [regression: was accepted]", handled=BODY),
    row("chunk-size-trailing-tab", _chunked(b"0\t\r\n\r\n"), H11_SMUGGLES, 400,
        "as the space [regression: was accepted]", handled=BODY),
    row("chunk-size-2**64", _chunked(b"10000000000000000\r\n\r\n"), "/ | waits", 413,
        "a 64-bit parser wraps to 0 and ends the body, SMUGGLED follows; h11 waits for "
        "2**64 bytes; a chunk line announcing more than max_body_bytes is answered 413 at once",
        handled=BODY),
    row("chunk-ext-quote-spans-lines", _chunked(b'3;a="b\r\nabc\r\n0\r\n\r\n'), H11_SMUGGLES,
        400,
        "§7.1.1: chunk-ext-val is a token or a quoted-string; h11 accepts ';' and anything. A "
        "parser that honours quotes reads on past the CRLF [regression: was accepted]",
        handled=BODY),
    row("chunk-ext-unterminated-quote", _chunked(b'0;a="\r\n\r\n'), H11_SMUGGLES, 400,
        "the same on the last chunk [regression: was accepted]", handled=BODY),
    row("chunk-ext-bare-cr", _chunked(b"0;a\rb\r\n\r\n"), H11_SMUGGLES, 400,
        "§2.2: a bare CR makes the element invalid; a parser that ends lines at CR reads "
        "'b' as a trailer [regression: was accepted]", handled=BODY),
    row("chunk-ext-bare-lf", _chunked(b"0;a\nb\r\n\r\n"), "/ | rejects 400", 400,
        "a bare LF inside the chunk line (h11 rejects)", handled=BODY),
    row("chunk-data-longer-than-size", _chunked(b"3\r\nabcd\r\n0\r\n\r\n"), "/ | rejects 400",
        400, "chunk-data is followed by CRLF, exactly", handled=BODY),
    row("chunk-data-without-crlf", _chunked(b"3\r\nabc0\r\n\r\n"), "/ | rejects 400", 400,
        "the CRLF after chunk-data is not optional", handled=BODY),
    # --- the end of a chunked body: last-chunk and trailer section (§7.1.2) --------------------
    row("last-chunk-without-empty-line", _chunked(b"0\r\n"), "/ | rejects 400", 400,
        "SMUGGLED is read as trailer fields, its request line is no field line",
        handled=BODY),
    row("last-chunk-bare-lf-end", _chunked(b"0\r\n\n"), H11_SMUGGLES, 400,
        "h11 accepts a bare LF as the empty line ending the trailer section; a CRLF-only "
        "parser reads SMUGGLED as trailer fields (§2.2, §7.1.2) [regression: was accepted]",
        handled=BODY),
    row("trailer-field-bare-lf", _chunked(b"0\r\nX-Trailer: 1\n\n"), H11_SMUGGLES, 400,
        "bare LF line ends in the trailer section, as above [regression: was accepted]",
        handled=BODY),
]  # fmt: skip


# --- h11's verdict ------------------------------------------------------------------------------


def h11_verdict(data: bytes) -> str:
    """What a bare h11 server makes of ``data``: ``"<targets> | <how it stops>"``."""
    connection = h11.Connection(h11.SERVER)
    connection.receive_data(data)
    targets: list[str] = []
    while True:
        try:
            event = connection.next_event()
        except h11.RemoteProtocolError as error:
            ending = f"rejects {error.error_status_hint}"
            break
        if event is h11.NEED_DATA:
            ending = "waits"
            break
        if isinstance(event, h11.Request):
            targets.append(event.target.decode("latin-1"))
        elif isinstance(event, h11.EndOfMessage):
            connection.send(h11.Response(status_code=200, headers=[("Content-Length", "0")]))
            connection.send(h11.EndOfMessage())
            try:
                connection.start_next_cycle()
            except h11.LocalProtocolError:  # h11 must close (HTTP/1.0, Connection: close)
                ending = "closes"
                break
    return f"{' '.join(targets) or '-'} | {ending}"


# --- our verdict --------------------------------------------------------------------------------

DELIVERIES = ["whole", "second-later"]


def _serve(the_row: Row, delivery: str) -> Exchange:
    if delivery == "whole":
        return exchange([the_row.data])
    # The second request arrives while the server answers or lingers after the first.
    rest = the_row.data[len(the_row.first) :]
    return exchange([the_row.first, rest], pauses=[0.0, 0.5])


@pytest.mark.parametrize("the_row", REJECTED)
def test_h11_verdict_is_as_documented(the_row: Row) -> None:
    assert h11_verdict(the_row.data) == the_row.h11, the_row.why


@pytest.mark.parametrize("delivery", DELIVERIES)
@pytest.mark.parametrize("the_row", REJECTED)
def test_first_request_rejected_and_smuggled_never_handled(
    the_row: Row, delivery: str, request: pytest.FixtureRequest
) -> None:
    served = _serve(the_row, delivery)
    responses = parse_responses(served.received)  # EOF: the server closed
    detail = f"{the_row.why}\nreceived={served.received!r}\nhandled={served.targets}"
    assert "/smuggled" not in served.targets, detail
    assert [response.status for response in responses] == [the_row.status], detail
    (response,) = responses
    assert response.status in ERROR_STATUSES
    assert response.complete and response.closes, detail
    assert tuple(served.targets) == the_row.handled, detail


def test_the_table_is_large_and_shows_where_we_are_stricter() -> None:
    rows: list[Row] = [param.values[0] for param in REJECTED]  # type: ignore[attr-defined]
    assert len(rows) >= 25
    assert len({r.id for r in rows}) == len(rows)
    # Rows where h11 on its own would hand a second request (or an unchecked
    # first one) to the application: each is a place we are stricter.
    stricter = [r.id for r in rows if "rejects" not in r.h11]
    assert len(stricter) >= 10, stricter


# --- valid but unusual pairs: both requests served exactly -----------------------------------


@attrs.frozen
class Pair:
    id: str
    data: bytes
    h11: str
    served: tuple[tuple[str, bytes], ...]  # (target, body) as the handler must see them
    why: str


def pair(id: str, first: bytes, h11: str, body: bytes, why: str) -> object:
    served = (("/", body), ("/next", b""))
    return pytest.param(Pair(id, first + NEXT, h11, served, why), id=id)


H11_SERVES_BOTH = "/ /next | waits"

ACCEPTED = [
    pair("cl-leading-zeros", _post(b"Content-Length: 003\r\n", b"abc"), H11_SERVES_BOTH,
         b"abc", "1*DIGIT allows leading zeros; decimal, never octal (RFC 9110 §8.6)"),
    pair("cl-ows", _post(b"Content-Length: \t3 \r\n", b"abc"), H11_SERVES_BOTH, b"abc",
         "OWS around a field value is not part of it (§5.1)"),
    pair("te-chunked-capitalised", _chunked(b"3\r\nabc\r\n0\r\n\r\n").replace(
         b"chunked", b"Chunked"), H11_SERVES_BOTH, b"abc", "coding names are case-insensitive"),
    pair("te-chunked-ows", _post(b"Transfer-Encoding: \tchunked \r\n", b"3\r\nabc\r\n0\r\n\r\n"),
         H11_SERVES_BOTH, b"abc", "OWS around the value"),
    pair("chunk-size-leading-zeros", _chunked(b"0003\r\nabc\r\n000\r\n\r\n"), H11_SERVES_BOTH,
         b"abc", "1*HEXDIG: leading zeros, a last-chunk of several zeros"),
    pair("chunk-ext-quoted-string", _chunked(b'3;a="x;\\"y";b=c;flag\r\nabc\r\n0\r\n\r\n'),
         H11_SERVES_BOTH, b"abc", "§7.1.1: valid extensions, a quoted-pair and ';' in quotes"),
    pair("chunk-ext-bws-after-semicolon", _chunked(b"3; a = b\r\nabc\r\n0\r\n\r\n"),
         H11_SERVES_BOTH, b"abc", "§7.1.1: BWS around '=' and after ';'"),
    pair("trailer-field", _chunked(b"0\r\nX-Trailer: 1\r\n\r\n"), H11_SERVES_BOTH, b"",
         "§7.1.2: a trailer section (discarded)"),
    pair("empty-lines-between", _post(b"Content-Length: 3\r\n", b"abc") + b"\r\n\r\n",
         "/ | rejects 400", b"abc", "§2.2: a server SHOULD ignore empty lines before a "
         "request-line; h11 does not, we do (stricter the other way round)"),
    pair("expect-100-continue", _post(b"Content-Length: 3\r\nExpect: 100-continue\r\n", b"abc"),
         H11_SERVES_BOTH, b"abc", "the body arrived with the head: 100 Continue, then 200"),
]  # fmt: skip

#: The RFC leaves the choice open: served exactly, or rejected with nothing handled.
TOLERATED = [
    pair("trailer-obs-fold", _chunked(b"0\r\nX-Trailer: 1\r\n 2\r\n\r\n"), H11_SERVES_BOTH, b"",
         "§5.2: reject, or replace obs-fold by SP (h11 does; the trailer is discarded, "
         "and both readings end the trailer section at the same CRLF)"),
    pair("chunk-ext-bws-before-semicolon", _chunked(b"3 ; a=b\r\nabc\r\n0\r\n\r\n"),
         "/ | rejects 400", b"abc",
         "§7.1.1 allows BWS before ';' (RFC 9110 §5.6.3: recipients MUST parse it); h11 "
         "rejects it: safe, not a desync"),
]  # fmt: skip


@pytest.mark.parametrize("the_pair", ACCEPTED)
def test_valid_pair_is_served_exactly(the_pair: Pair) -> None:
    assert h11_verdict(the_pair.data) == the_pair.h11, the_pair.why
    served = exchange([the_pair.data], eof=True)
    responses = parse_responses(served.received)
    assert [response.status for response in responses] == [200, 200], served.received
    assert tuple((seen.target, seen.body) for seen in served.seen) == the_pair.served


@pytest.mark.parametrize("the_pair", TOLERATED)
def test_tolerated_pair_is_served_exactly_or_rejected(the_pair: Pair) -> None:
    assert h11_verdict(the_pair.data) == the_pair.h11, the_pair.why
    served = exchange([the_pair.data], eof=True)
    responses = parse_responses(served.received)
    statuses = [response.status for response in responses]
    if statuses == [200, 200]:
        assert tuple((seen.target, seen.body) for seen in served.seen) == the_pair.served
    else:
        assert statuses == [400] and responses[0].closes, served.received
        assert served.targets in ([], ["/"])
