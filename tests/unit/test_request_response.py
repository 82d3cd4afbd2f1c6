"""Request (what a handler receives) and Response (what it returns), built directly."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import trio

from trio_webkit import Headers, HTTPStatusError, Request, Response

# -- Request: target parts ----------------------------------------------------


@pytest.mark.parametrize(
    ("target", "path", "raw_path", "query"),
    [
        ("/a%20b/c?x=1&y=2", "/a b/c", "/a%20b/c", "x=1&y=2"),
        ("/", "/", "/", ""),
        ("/plain", "/plain", "/plain", ""),
        ("/p?", "/p", "/p", ""),
        ("/p?a=%20b&c", "/p", "/p", "a=%20b&c"),
        ("/a%2Fb", "/a/b", "/a%2Fb", ""),
        ("/a+b", "/a+b", "/a+b", ""),
        ("/caf%C3%A9", "/café", "/caf%C3%A9", ""),
        ("/p?q=?x", "/p", "/p", "q=?x"),
        ("http://h/p?q", "/p", "/p", "q"),
        ("http://h:8080/a%20b?x=1", "/a b", "/a%20b", "x=1"),
        ("http://h", "/", "/", ""),
        ("http://h?x=1", "/", "/", "x=1"),
        ("*", "*", "*", ""),
    ],
)
def test_target_parts(target: str, path: str, raw_path: str, query: str) -> None:
    request = Request("GET", target)
    assert request.target == target
    assert request.path == path
    assert request.raw_path == raw_path
    assert request.query == query


def test_invalid_utf8_in_path_does_not_crash() -> None:
    request = Request("GET", "/%FF%FE")
    assert request.raw_path == "/%FF%FE"
    assert isinstance(request.path, str)


def test_request_attributes() -> None:
    request = Request(
        "POST",
        "/x",
        headers=[("Host", "example.com"), ("X-A", "1")],
        http_version="1.0",
        client=("10.0.0.1", 5555),
        scheme="https",
    )
    assert request.method == "POST"
    assert request.http_version == "1.0"
    assert request.client == ("10.0.0.1", 5555)
    assert request.scheme == "https"
    assert isinstance(request.headers, Headers)
    assert request.headers["host"] == "example.com"


def test_request_defaults() -> None:
    request = Request("GET", "/")
    assert request.http_version == "1.1"
    assert request.scheme == "http"
    assert request.client is None
    assert request.headers.items() == []


def test_request_headers_from_a_dict() -> None:
    assert Request("GET", "/", headers={"Accept": "*/*"}).headers["accept"] == "*/*"


# -- Request: body ------------------------------------------------------------------


async def test_read() -> None:
    request = Request("POST", "/a%20b/c?x=1&y=2", body=b"hi")
    assert request.path == "/a b/c"
    assert request.raw_path == "/a%20b/c"
    assert request.query == "x=1&y=2"
    assert await request.read() == b"hi"


async def test_read_empty_body() -> None:
    assert await Request("GET", "/").read() == b""


async def test_stream() -> None:
    request = Request("POST", "/", body=b"some bytes")
    assert b"".join([chunk async for chunk in request.stream()]) == b"some bytes"


async def test_stream_from_a_receiver_keeps_chunks() -> None:
    pending = [b"one", b"two", b"three"]

    async def receive() -> bytes:
        await trio.lowlevel.checkpoint()
        return pending.pop(0) if pending else b""

    request = Request("POST", "/", body=receive)
    assert [chunk async for chunk in request.stream()] == [b"one", b"two", b"three"]


async def test_request_json() -> None:
    request = Request("POST", "/", body=json.dumps({"a": [1, 2], "é": None}).encode())
    assert await request.json() == {"a": [1, 2], "é": None}


async def test_json_invalid_raises_value_error() -> None:
    with pytest.raises(ValueError):
        await Request("POST", "/", body=b"{not json").json()


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("read", "read"),
        ("read", "stream"),
        ("stream", "read"),
        ("stream", "stream"),
        ("json", "read"),
        ("read", "json"),
    ],
)
async def test_reading_twice_raises(first: str, second: str) -> None:
    request = Request("POST", "/", body=b'{"a": 1}')

    async def consume(how: str) -> object:
        if how == "stream":
            return [chunk async for chunk in request.stream()]
        return await getattr(request, how)()

    await consume(first)
    with pytest.raises(RuntimeError):
        await consume(second)


async def test_reading_an_empty_body_twice_raises() -> None:
    request = Request("GET", "/")
    await request.read()
    with pytest.raises(RuntimeError):
        await request.read()


def test_request_repr() -> None:
    assert "GET" in repr(Request("GET", "/x"))


# -- Response -------------------------------------------------------------------


def test_response_defaults() -> None:
    response = Response()
    assert response.status == 200
    assert response.reason == "OK"
    assert response.body == b""
    assert response.content == b""
    assert response.producer is None
    assert isinstance(response.headers, Headers)
    assert response.history == []


def test_str_body_is_utf8_with_a_text_content_type() -> None:
    response = Response(200, body="héllo ✓")
    assert response.body == "héllo ✓".encode()
    assert response.content == "héllo ✓".encode()
    assert response.headers.get_all("content-type") == ["text/plain; charset=utf-8"]
    assert response.text == "héllo ✓"


def test_str_body_keeps_the_given_content_type() -> None:
    response = Response(200, [("Content-Type", "text/html; charset=utf-8")], "<p>é</p>")
    assert response.headers.get_all("Content-Type") == ["text/html; charset=utf-8"]
    assert response.body == "<p>é</p>".encode()


def test_str_body_does_not_change_the_callers_headers() -> None:
    shared = Headers([("Cache-Control", "no-store")])
    Response(200, shared, "text")
    assert shared.items() == [("Cache-Control", "no-store")]
    assert "content-type" not in Response(200, shared, b"bytes").headers


def test_bytes_body_gets_no_content_type() -> None:
    response = Response(200, body=b"\x00\x01")
    assert response.body == b"\x00\x01"
    assert "content-type" not in response.headers


def test_async_iterable_body_is_kept() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"a"

    body = chunks()
    response = Response(200, body=body)
    assert response.body is body
    with pytest.raises(RuntimeError):
        response.content  # noqa: B018


def test_producer() -> None:
    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        await send.send(b"x")

    response = Response(200, producer=producer)
    assert response.producer is producer
    assert response.body is None


@pytest.mark.parametrize("body", [b"x", "x"])
def test_producer_and_body_refused(body: bytes | str) -> None:
    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        pass

    with pytest.raises(ValueError):
        Response(200, body=body, producer=producer)


@pytest.mark.parametrize("status", [0, 99, 1000, -200, "200", 200.0, True, None])
def test_invalid_status_refused(status: object) -> None:
    with pytest.raises(ValueError):
        Response(status)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (200, "OK"),
        (201, "Created"),
        (204, "No Content"),
        (301, "Moved Permanently"),
        (404, "Not Found"),
        (405, "Method Not Allowed"),
        (500, "Internal Server Error"),
        (599, ""),
    ],
)
def test_default_reason(status: int, reason: str) -> None:
    assert Response(status).reason == reason


def test_custom_reason() -> None:
    assert Response(200, reason="Fine").reason == "Fine"


@pytest.mark.parametrize(
    ("content_type", "raw", "text"),
    [
        (None, "héllo".encode(), "héllo"),
        ("text/plain; charset=utf-8", "héllo".encode(), "héllo"),
        ("text/plain; charset=latin-1", "héllo".encode("latin-1"), "héllo"),
        ("text/plain; charset=ISO-8859-1", b"caf\xe9", "café"),
        ('text/html; charset="cp1252"', b"\x80", "€"),
        ("text/plain; charset=utf-16", "hi".encode("utf-16"), "hi"),
    ],
)
def test_text_uses_the_charset(content_type: str | None, raw: bytes, text: str) -> None:
    headers = [] if content_type is None else [("Content-Type", content_type)]
    response = Response(200, headers, raw)
    assert response.text == text


def test_text_with_invalid_bytes_does_not_crash() -> None:
    assert "\ufffd" in Response(200, body=b"ok \xff").text


def test_response_json() -> None:
    response = Response(200, [("Content-Type", "application/json")], b'{"a": [1, "b"]}')
    assert response.json() == {"a": [1, "b"]}


@pytest.mark.parametrize("status", [200, 201, 204, 301, 302, 304, 399])
def test_raise_for_status_returns_the_response(status: int) -> None:
    response = Response(status)
    assert response.raise_for_status() is response


@pytest.mark.parametrize("status", [400, 401, 404, 418, 499, 500, 502, 503, 599])
def test_raise_for_status_raises_for_4xx_and_5xx(status: int) -> None:
    response = Response(status, body=b"details")
    with pytest.raises(HTTPStatusError) as info:
        response.raise_for_status()
    assert info.value.response is response
    assert str(status) in str(info.value)


def test_response_repr() -> None:
    assert "404" in repr(Response(404))
