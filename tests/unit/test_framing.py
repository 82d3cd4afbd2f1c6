"""plan_response must frame responses exactly as h11 would.

The server writes response heads itself (``_framing.plan_response``) instead
of going through h11's send path, so these tests hold it to h11's rules
(``h11/_connection.py``: ``_keep_alive``, ``_body_framing``,
``_clean_up_response_headers_for_sending``) and RFC 9112 §6:

* Each case is sent two ways: by ``plan_response`` (its head, then the body
  encoded as ``plan.framing`` says), and by an ``h11.Connection(h11.SERVER)``
  that received the same raw request bytes and is given the handler's headers
  (plus ``Content-Length`` for a bytes body, which h11 leaves to its user).
  Both outputs are parsed by an ``h11.Connection(h11.CLIENT)`` that sent the
  same method; the decisions must agree: status, Content-Length value,
  Transfer-Encoding, ``Connection: close``, the body the client receives, and
  whether the connection can be reused afterwards.
* h11 only *sends* HTTP/1.1 requests, so the parsing client always sends an
  HTTP/1.1 request without ``Connection: close``; whether the connection
  survives is then decided by the response alone, which is what is compared.
  The server side sees the real request (HTTP/1.0, ``Connection: close``).
* HEAD carries the framing headers a GET would get, and no body; 204 and 304
  have no body, 204 never a Content-Length; a streamed body to an HTTP/1.0
  client is close-delimited (never chunked) with ``Connection: close``.
* Handler mistakes are refused with ValueError rather than written: a 1xx
  final status, a Content-Length contradicting a bytes body, a reason phrase
  or header that would break the head.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import h11
import pytest
import trio

from trio_webkit import Headers, Response, _framing
from trio_webkit._framing import Framing, ResponsePlan, plan_response

DATE = "Sun, 06 Nov 1994 08:49:37 GMT"
SERVER = "trio-webkit-test/1"
BODY = b"hello world"
CHUNKS = [b"hello", b" ", b"world"]


@dataclass(frozen=True)
class Case:
    id: str
    status: int = 200
    kind: str = "bytes"  # "bytes", "iter" (async iterable) or "producer"
    method: str = "GET"
    version: str = "1.1"
    request_connection: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = BODY
    # What plan_response must decide.
    framing: Framing = Framing.LENGTH
    keep_alive: bool = True


CASES = [
    # bytes bodies get Content-Length
    Case("get-bytes"),
    Case("get-empty-bytes", body=b""),
    Case("post-bytes-201", method="POST", status=201),
    Case("get-404-bytes", status=404),
    Case("get-bytes-request-close", request_connection="close", keep_alive=False),
    Case("get-bytes-request-Close-mixed", request_connection="Keep-Alive, Close", keep_alive=False),
    Case("get-bytes-http10", version="1.0", keep_alive=False),
    Case("get-bytes-handler-close", headers=[("Connection", "close")], keep_alive=False),
    Case("get-bytes-handler-cl-matches", headers=[("Content-Length", str(len(BODY)))]),
    # streamed bodies: chunked for HTTP/1.1, close-delimited for HTTP/1.0
    Case("get-iter", kind="iter", framing=Framing.CHUNKED),
    Case("get-producer", kind="producer", framing=Framing.CHUNKED),
    Case("get-iter-empty", kind="iter", body=b"", framing=Framing.CHUNKED),
    Case(
        "get-iter-request-close",
        kind="iter",
        request_connection="close",
        framing=Framing.CHUNKED,
        keep_alive=False,
    ),
    Case(
        "get-producer-handler-close",
        kind="producer",
        headers=[("Connection", "close")],
        framing=Framing.CHUNKED,
        keep_alive=False,
    ),
    Case("get-iter-http10", kind="iter", version="1.0", framing=Framing.CLOSE, keep_alive=False),
    Case(
        "get-producer-http10",
        kind="producer",
        version="1.0",
        framing=Framing.CLOSE,
        keep_alive=False,
    ),
    Case(
        "get-iter-handler-te-chunked",
        kind="iter",
        headers=[("Transfer-Encoding", "chunked")],
        framing=Framing.CHUNKED,
    ),
    Case(
        "get-iter-handler-te-chunked-http10",
        kind="iter",
        version="1.0",
        headers=[("Transfer-Encoding", "chunked")],
        framing=Framing.CLOSE,
        keep_alive=False,
    ),
    # a handler-set Content-Length is kept for streams
    Case("get-iter-handler-cl", kind="iter", headers=[("Content-Length", str(len(BODY)))]),
    Case("get-producer-handler-cl", kind="producer", headers=[("Content-Length", str(len(BODY)))]),
    Case(
        "get-producer-handler-cl-http10",
        kind="producer",
        version="1.0",
        headers=[("Content-Length", str(len(BODY)))],
        keep_alive=False,
    ),
    # HEAD: a GET's framing headers, no body
    Case("head-bytes", method="HEAD", framing=Framing.NONE),
    Case("head-iter", method="HEAD", kind="iter", framing=Framing.NONE),
    Case("head-producer", method="HEAD", kind="producer", framing=Framing.NONE),
    Case(
        "head-iter-http10",
        method="HEAD",
        kind="iter",
        version="1.0",
        framing=Framing.NONE,
        keep_alive=False,
    ),
    Case(
        "head-announced-length",
        method="HEAD",
        body=b"",
        headers=[("Content-Length", "12345")],
        framing=Framing.NONE,
    ),
    Case(
        "head-request-close",
        method="HEAD",
        request_connection="close",
        framing=Framing.NONE,
        keep_alive=False,
    ),
    Case("head-404", method="HEAD", status=404, framing=Framing.NONE),
    # 204 and 304: no body
    Case("get-204", status=204, body=b"", framing=Framing.NONE),
    Case("get-204-iter", status=204, kind="iter", body=b"", framing=Framing.NONE),
    Case("get-204-producer", status=204, kind="producer", body=b"", framing=Framing.NONE),
    Case(
        "get-204-http10",
        status=204,
        body=b"",
        version="1.0",
        framing=Framing.NONE,
        keep_alive=False,
    ),
    Case("head-204", method="HEAD", status=204, body=b"", framing=Framing.NONE),
    Case("get-304", status=304, body=b"", headers=[("ETag", '"v1"')], framing=Framing.NONE),
    Case("get-304-iter", status=304, kind="iter", body=b"", framing=Framing.NONE),
    Case(
        "get-304-announced-length",
        status=304,
        body=b"",
        headers=[("Content-Length", "12345")],
        framing=Framing.NONE,
    ),
]


# -- helpers ----------------------------------------------------------------


def _request_allows_keep_alive(case: Case) -> bool:
    tokens = {t.strip().lower() for t in (case.request_connection or "").split(",")}
    return case.version == "1.1" and "close" not in tokens


def _raw_request(case: Case) -> bytes:
    lines = [f"{case.method} /path HTTP/{case.version}", "Host: example.com"]
    if case.request_connection is not None:
        lines.append(f"Connection: {case.request_connection}")
    if case.method == "POST":
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _response(case: Case) -> Response:
    if case.kind == "bytes":
        return Response(case.status, case.headers, case.body)
    chunks = _body_chunks(case)
    if case.kind == "iter":

        async def body() -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

        return Response(case.status, case.headers, body())

    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        for chunk in chunks:
            await send.send(chunk)

    return Response(case.status, case.headers, producer=producer)


def _body_chunks(case: Case) -> list[bytes]:
    if case.kind == "bytes":
        return [case.body] if case.body else []
    return list(CHUNKS) if case.body else []


def _plan(case: Case, **overrides: Any) -> ResponsePlan:
    options: dict[str, Any] = {
        "method": case.method,
        "http_version": case.version,
        "keep_alive": _request_allows_keep_alive(case),
        "date": DATE,
        "server": SERVER,
    }
    options.update(overrides)
    return plan_response(_response(case), **options)


def _encode_body(plan: ResponsePlan, chunks: list[bytes]) -> bytes:
    if plan.framing is Framing.NONE:
        return b""
    if plan.framing is Framing.CHUNKED:
        encoded = [b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c]
        return b"".join(encoded) + b"0\r\n\r\n"
    return b"".join(chunks)


def _ours(case: Case) -> tuple[bytes, bool]:
    """What trio_webkit writes, and whether it closes the connection after."""
    plan = _plan(case)
    return plan.head + _encode_body(plan, _body_chunks(case)), not plan.keep_alive


def _h11s(case: Case) -> tuple[bytes, bool]:
    """What h11's server side writes for the same request and response."""
    server = h11.Connection(h11.SERVER)
    server.receive_data(_raw_request(case))
    request = server.next_event()
    assert isinstance(request, h11.Request)
    assert isinstance(server.next_event(), h11.EndOfMessage)

    headers = list(case.headers)
    names = {name.lower() for name, _ in headers}
    if case.kind == "bytes" and "content-length" not in names and case.status not in (204, 304):
        headers.append(("Content-Length", str(len(case.body))))
    headers += [("Date", DATE), ("Server", SERVER)]
    out = server.send(h11.Response(status_code=case.status, headers=headers))
    assert out is not None
    if case.method != "HEAD" and case.status not in (204, 304):
        for chunk in _body_chunks(case):
            data = server.send(h11.Data(data=chunk))
            assert data is not None
            out += data
    end = server.send(h11.EndOfMessage())
    assert end is not None
    return out + end, server.our_state is h11.MUST_CLOSE


@dataclass
class Parsed:
    status: int
    content_length: str | None
    transfer_encoding: str | None
    connection_close: bool
    headers: list[tuple[str, str]]
    body: bytes
    reusable: bool


def _parse(case: Case, wire: bytes, closes: bool) -> Parsed:
    """Parse a response as h11's client does, after sending ``case``'s method."""
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method=case.method, target="/path", headers=[("Host", "example.com")]))
    client.send(h11.EndOfMessage())
    client.receive_data(wire)
    if closes:
        client.receive_data(b"")
    response = client.next_event()
    assert isinstance(response, h11.Response), response
    body = b""
    while True:
        event = client.next_event()
        if isinstance(event, h11.Data):
            body += event.data
            continue
        assert isinstance(event, h11.EndOfMessage), (event, wire)
        break
    headers = [(n.decode().lower(), v.decode()) for n, v in response.headers]
    fields = Headers(headers)
    connection = {t.strip().lower() for t in fields.get_all("connection") for t in t.split(",")}
    return Parsed(
        status=response.status_code,
        content_length=fields.get("content-length"),
        transfer_encoding=fields.get("transfer-encoding"),
        connection_close="close" in connection,
        headers=sorted(h for h in headers if h[0] != "connection"),
        body=body,
        reusable=client.their_state is h11.DONE and not closes,
    )


# -- the table against h11 ---------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_same_decisions_as_h11(case: Case) -> None:
    ours = _parse(case, *_ours(case))
    theirs = _parse(case, *_h11s(case))
    assert ours == theirs


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_plan(case: Case) -> None:
    plan = _plan(case)
    assert plan.framing is case.framing
    assert plan.keep_alive is case.keep_alive
    parsed = _parse(case, plan.head + _encode_body(plan, _body_chunks(case)), not plan.keep_alive)
    assert parsed.connection_close is not case.keep_alive
    assert parsed.reusable is case.keep_alive
    sent_body = b"".join(_body_chunks(case))
    if case.method == "HEAD" or case.status in (204, 304):
        assert parsed.body == b""
    else:
        assert parsed.body == sent_body
    if plan.framing is Framing.LENGTH:
        assert plan.content_length == len(sent_body)


@pytest.mark.parametrize("kind", ["bytes", "iter", "producer"])
@pytest.mark.parametrize("version", ["1.1", "1.0"])
def test_head_has_the_framing_headers_of_get(kind: str, version: str) -> None:
    get = Case("get", kind=kind, version=version)
    head = Case("head", kind=kind, version=version, method="HEAD")
    get_head = _plan(get).head.split(b"\r\n")
    head_head = _plan(head).head.split(b"\r\n")
    assert head_head == get_head
    assert _plan(head).framing is Framing.NONE


# -- individual rules ----------------------------------------------------------


def _fields(plan: ResponsePlan) -> Headers:
    lines = plan.head.decode("latin-1").split("\r\n")
    assert lines[-2:] == ["", ""], "the head ends with an empty line"
    return Headers([tuple(line.split(": ", 1)) for line in lines[1:-2]])  # type: ignore[misc]


def _status_line(plan: ResponsePlan) -> str:
    return plan.head.decode("latin-1").split("\r\n", 1)[0]


@pytest.mark.parametrize("kind", ["bytes", "iter", "producer"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_204_never_has_content_length_or_transfer_encoding(kind: str, method: str) -> None:
    case = Case(
        "204",
        status=204,
        kind=kind,
        body=b"",
        method=method,
        headers=[("Content-Length", "0")],
    )
    fields = _fields(_plan(case))
    assert "content-length" not in fields
    assert "transfer-encoding" not in fields
    assert _plan(case).framing is Framing.NONE


def test_bytes_body_content_length_value() -> None:
    plan = _plan(Case("get", body=b"x" * 1000))
    assert _fields(plan).get_all("Content-Length") == ["1000"]
    assert plan.content_length == 1000


def test_streamed_body_with_content_length_has_no_transfer_encoding() -> None:
    plan = _plan(Case("s", kind="producer", headers=[("Content-Length", "11")]))
    fields = _fields(plan)
    assert fields.get_all("content-length") == ["11"]
    assert "transfer-encoding" not in fields
    assert (plan.framing, plan.content_length) == (Framing.LENGTH, 11)


def test_http10_streamed_body_is_close_delimited() -> None:
    plan = _plan(Case("s", kind="iter", version="1.0"))
    fields = _fields(plan)
    assert plan.framing is Framing.CLOSE
    assert "transfer-encoding" not in fields
    assert "content-length" not in fields
    assert fields["connection"] == "close"
    assert plan.keep_alive is False


@pytest.mark.parametrize("kind", ["iter", "producer"])
def test_close_delimited_never_keeps_alive(kind: str) -> None:
    # Even if the caller claims the connection may be reused, an HTTP/1.0
    # streamed body can only end by closing it.
    plan = _plan(Case("s", kind=kind, version="1.0"), keep_alive=True)
    assert plan.framing is Framing.CLOSE
    assert plan.keep_alive is False
    assert _fields(plan)["connection"] == "close"


def test_request_close_gives_connection_close() -> None:
    plan = _plan(Case("c", request_connection="close"))
    assert _fields(plan).get_all("connection") == ["close"]
    assert plan.keep_alive is False


def test_keep_alive_has_no_connection_header() -> None:
    plan = _plan(Case("k"))
    assert "connection" not in _fields(plan)
    assert plan.keep_alive is True


def test_handler_transfer_encoding_is_replaced_for_bytes() -> None:
    plan = _plan(Case("te", headers=[("Transfer-Encoding", "chunked")]))
    fields = _fields(plan)
    assert "transfer-encoding" not in fields
    assert fields["content-length"] == str(len(BODY))
    assert plan.framing is Framing.LENGTH


def test_handler_keep_alive_header_cannot_override_close() -> None:
    plan = _plan(Case("ka", request_connection="close", headers=[("Connection", "keep-alive")]))
    assert _fields(plan).get_all("connection") == ["close"]
    assert plan.keep_alive is False


@pytest.mark.parametrize("status", [100, 101, 102, 103, 199])
def test_interim_status_refused(status: int) -> None:
    with pytest.raises(ValueError):
        plan_response(
            Response(status),
            method="GET",
            http_version="1.1",
            keep_alive=True,
            date=DATE,
            server=SERVER,
        )


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("declared", ["0", "5", "100", "12"])
def test_content_length_contradicting_bytes_body_refused(method: str, declared: str) -> None:
    with pytest.raises(ValueError):
        _plan(Case("cl", method=method, headers=[("Content-Length", declared)]))


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "0x10", "\uff11\uff12"])
def test_invalid_content_length_refused(value: str) -> None:
    with pytest.raises(ValueError):
        _plan(Case("cl", kind="iter", headers=[("Content-Length", value)]))


def test_conflicting_content_lengths_refused() -> None:
    with pytest.raises(ValueError):
        _plan(Case("cl", kind="iter", headers=[("Content-Length", "5"), ("Content-Length", "6")]))


@pytest.mark.parametrize("reason", ["OK\r\nX-Injected: 1", "OK\nX: y", "OK\r", "\r\n"])
def test_reason_with_cr_or_lf_refused(reason: str) -> None:
    with pytest.raises(ValueError):
        plan_response(
            Response(200, reason=reason),
            method="GET",
            http_version="1.1",
            keep_alive=True,
            date=DATE,
            server=SERVER,
        )


@pytest.mark.parametrize("reason", ["OK\x00", "\x00"])
def test_reason_with_nul_refused(reason: str) -> None:
    # RFC 9112 §4: reason-phrase = *( HTAB / SP / VCHAR / obs-text ); h11's
    # client rejects the whole status line, so the response could not be read.
    with pytest.raises(ValueError):
        plan_response(
            Response(200, reason=reason),
            method="GET",
            http_version="1.1",
            keep_alive=True,
            date=DATE,
            server=SERVER,
        )


@pytest.mark.parametrize(
    ("status", "reason", "line"),
    [
        (200, None, "HTTP/1.1 200 OK"),
        (404, None, "HTTP/1.1 404 Not Found"),
        (200, "Fine", "HTTP/1.1 200 Fine"),
        (299, None, "HTTP/1.1 299 "),
    ],
)
def test_status_line(status: int, reason: str | None, line: str) -> None:
    plan = plan_response(
        Response(status, reason=reason),
        method="GET",
        http_version="1.0",
        keep_alive=False,
        date=DATE,
        server=SERVER,
    )
    assert _status_line(plan) == line


def test_non_latin1_header_value_refused() -> None:
    with pytest.raises(ValueError):
        _plan(Case("u", headers=[("X-Name", "€")]))


def test_date_and_server_added() -> None:
    fields = _fields(_plan(Case("d")))
    assert fields.get_all("date") == [DATE]
    assert fields.get_all("server") == [SERVER]


def test_date_and_server_kept_when_the_handler_set_them() -> None:
    case = Case("d", headers=[("Date", "Mon, 01 Jan 2001 00:00:00 GMT"), ("Server", "mine")])
    fields = _fields(_plan(case))
    assert fields.get_all("date") == ["Mon, 01 Jan 2001 00:00:00 GMT"]
    assert fields.get_all("server") == ["mine"]


def test_server_header_omitted_when_none() -> None:
    fields = _fields(_plan(Case("d"), server=None))
    assert "server" not in fields
    assert fields["date"] == DATE


def test_handler_headers_kept_in_order_with_their_case() -> None:
    case = Case("h", headers=[("X-B", "1"), ("set-cookie", "a=1"), ("Set-Cookie", "b=2")])
    head = _plan(case).head.decode("latin-1")
    assert "X-B: 1\r\nset-cookie: a=1\r\nSet-Cookie: b=2\r\n" in head


def test_repeated_header_sets_give_the_same_head_and_the_same_errors() -> None:
    """Handler header sets are remembered between responses: never their errors,
    and a remembered Connection: close still closes."""
    closing = [("Connection", "close"), ("X-A", "1")]
    for _ in range(3):
        plan = plan_response(
            Response(200, closing, b"ok"),
            method="GET", http_version="1.1", keep_alive=True, date="D", server=None,
        )  # fmt: skip
        assert not plan.keep_alive
        expected_end = b"X-A: 1\r\nContent-Length: 2\r\nDate: D\r\nConnection: close\r\n\r\n"
        assert plan.head.endswith(expected_end)
    for _ in range(3):
        with pytest.raises(ValueError, match="Content-Length"):
            plan_response(
                Response(200, [("Content-Length", "x")], b"ok"),
                method="GET", http_version="1.1", keep_alive=True, date="D", server=None,
            )  # fmt: skip
    for index in range(1000):  # many distinct sets: the memory stays bounded
        plan_response(
            Response(200, [("X-N", str(index))], b""),
            method="GET", http_version="1.1", keep_alive=True, date="D", server=None,
        )  # fmt: skip
    assert len(_framing._FIELDS_CACHE) <= _framing._FIELDS_CACHE_SIZE
