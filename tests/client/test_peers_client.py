"""The client against other servers: stdlib ``http.server``, hypercorn (Trio worker), TLS.

hypercorn and trustme are test dependencies: when one is missing these tests
*fail* saying how to install it (a peer silently skipped is a peer never
tested).
"""

from __future__ import annotations

import hashlib
import http.server
import json
from typing import Any

import pytest
import trio

import trio_webkit

from support.loopback import fail_after
from support.peers import (
    Receive,
    Scope,
    Send,
    hypercorn_server,
    running_tls_server,
    stdlib_server,
    tls_contexts,
)

GUARD = 10
BIG = hashlib.sha256(b"seed").digest() * (1024 * 1024 // 32 + 7)  # ~1 MiB, not a round size


# -- stdlib http.server -------------------------------------------------------------
class OldHandler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.0 answers: close-delimited bodies, or Content-Length."""

    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # stdlib's signature
        pass

    def do_GET(self) -> None:
        if self.path == "/close-delimited":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            for start in range(0, len(BIG), 50000):
                self.wfile.write(BIG[start : start + 50000])
                self.wfile.flush()
        elif self.path == "/length":
            self._send(200, b"with a length")
        elif self.path == "/empty-close-delimited":
            self.send_response(200)
            self.end_headers()
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/length")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send(404, b"not here")

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "12345")
        self.end_headers()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self._send(200, b"got " + body)

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class KeepAliveHandler(OldHandler):
    """HTTP/1.1 with Content-Length: connections stay open."""

    protocol_version = "HTTP/1.1"


@fail_after(GUARD)
async def test_stdlib_close_delimited_body_is_complete() -> None:
    async with stdlib_server(OldHandler) as server, trio_webkit.Client() as client:
        response = await client.get(f"{server.url}/close-delimited")
        streamed = bytearray()
        async with client.stream("GET", f"{server.url}/close-delimited") as streaming:
            async for chunk in streaming.iter_bytes():
                streamed += chunk
    assert response.status == 200
    assert response.http_version == "1.0"
    assert "content-length" not in response.headers
    assert response.content == BIG
    assert bytes(streamed) == BIG


@fail_after(GUARD)
async def test_stdlib_empty_close_delimited_body() -> None:
    async with stdlib_server(OldHandler) as server, trio_webkit.Client() as client:
        response = await client.get(f"{server.url}/empty-close-delimited")
    assert response.status == 200
    assert response.content == b""


@fail_after(GUARD)
async def test_stdlib_http10_content_length_and_a_new_connection_each_time() -> None:
    async with stdlib_server(OldHandler) as server, trio_webkit.Client() as client:
        responses = [await client.get(f"{server.url}/length") for _ in range(3)]
        stats = client.statistics()
    assert [r.text for r in responses] == ["with a length"] * 3
    assert stats.connections_opened == 3  # HTTP/1.0: the server closes each one
    assert stats.connections_idle == 0


@fail_after(GUARD)
async def test_stdlib_post_head_404_and_redirect() -> None:
    async with stdlib_server(OldHandler) as server, trio_webkit.Client() as client:
        posted = await client.post(f"{server.url}/form", body=b"a=1&b=2")
        head = await client.head(f"{server.url}/anything")
        missing = await client.get(f"{server.url}/nope")
        redirected = await client.get(f"{server.url}/redirect")
    assert posted.text == "got a=1&b=2"
    assert head.headers["content-length"] == "12345"
    assert head.content == b""
    assert missing.status == 404
    with pytest.raises(trio_webkit.HTTPStatusError):
        missing.raise_for_status()
    assert redirected.text == "with a length"
    assert redirected.url == f"{server.url}/length"


@fail_after(GUARD)
async def test_stdlib_http11_keep_alive_is_reused() -> None:
    async with stdlib_server(KeepAliveHandler) as server, trio_webkit.Client() as client:
        responses = [await client.get(f"{server.url}/length") for _ in range(3)]
        stats = client.statistics()
    assert [r.http_version for r in responses] == ["1.1"] * 3
    assert [r.text for r in responses] == ["with a length"] * 3
    assert stats.connections_opened == 1


@fail_after(GUARD)
async def test_module_level_get_against_stdlib() -> None:
    async with stdlib_server(OldHandler) as server:
        response = await trio_webkit.get(f"{server.url}/close-delimited")
    assert response.content == BIG


# -- hypercorn (Trio worker) ----------------------------------------------------------
async def asgi_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for index in range(10):
            await send({"type": "http.response.body", "body": b"%d;" % index, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/big":
        payload = BIG
    else:
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        payload = json.dumps(
            {
                "method": scope["method"],
                "path": path,
                "body": body.decode("latin-1"),
                "transfer-encoding": headers.get("transfer-encoding"),
            }
        ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})


@fail_after(GUARD)
async def test_hypercorn_get_keep_alive_and_big_body() -> None:
    async with hypercorn_server(asgi_app) as base, trio_webkit.Client() as client:
        first = await client.get(f"{base}/hello")
        big = await client.get(f"{base}/big")
        last = await client.get(f"{base}/again")
        stats = client.statistics()
    assert first.json()["path"] == "/hello"
    assert big.content == BIG
    assert last.status == 200
    assert stats.connections_opened == 1


@fail_after(GUARD)
async def test_hypercorn_chunked_response_streams() -> None:
    async with (
        hypercorn_server(asgi_app) as base,
        trio_webkit.Client() as client,
        client.stream("GET", f"{base}/stream") as response,
    ):
        chunks = [chunk async for chunk in response.iter_bytes()]
    assert response.headers.get("transfer-encoding") == "chunked"
    assert b"".join(chunks) == b"".join(b"%d;" % index for index in range(10))


@fail_after(GUARD)
async def test_hypercorn_uploads() -> None:
    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        for index in range(100):
            await send.send(b"%03d," % index)

    async with hypercorn_server(asgi_app) as base, trio_webkit.Client() as client:
        posted = await client.post(f"{base}/echo", body=b"bytes body")
        streamed = await client.put(f"{base}/echo", body=producer)
    assert posted.json()["body"] == "bytes body"
    assert posted.json()["method"] == "POST"
    echo = streamed.json()
    assert echo["method"] == "PUT"
    assert echo["transfer-encoding"] == "chunked"
    assert echo["body"] == "".join(f"{index:03d}," for index in range(100))


# -- TLS ------------------------------------------------------------------------------
async def tls_handler(request: trio_webkit.Request) -> trio_webkit.Response:
    if request.path == "/big":
        return trio_webkit.Response(200, body=BIG)
    return trio_webkit.Response(200, body=f"{request.scheme} {request.method} {request.path}")


@fail_after(GUARD)
async def test_https_with_a_trusted_ca() -> None:
    contexts = tls_contexts("127.0.0.1")
    async with (
        running_tls_server(tls_handler, contexts.server) as server,
        trio_webkit.Client(ssl_context=contexts.client) as client,
    ):
        first = await client.get(f"{server.url()}/hello")
        big = await client.get(f"{server.url()}/big")
        stats = client.statistics()
    assert first.text == "https GET /hello"
    assert first.url == f"{server.url()}/hello"
    assert big.content == BIG
    assert stats.connections_opened == 1  # kept alive over TLS too


@fail_after(GUARD)
async def test_https_sends_sni_and_checks_the_hostname() -> None:
    contexts = tls_contexts("localhost")
    async with (
        running_tls_server(tls_handler, contexts.server) as server,
        trio_webkit.Client(ssl_context=contexts.client) as client,
    ):
        response = await client.get(f"{server.url('localhost')}/named")
    assert response.text == "https GET /named"
    assert contexts.sni[-1] == "localhost"


@fail_after(GUARD)
async def test_https_default_context_does_not_trust_an_unknown_ca() -> None:
    contexts = tls_contexts("127.0.0.1")
    async with running_tls_server(tls_handler, contexts.server) as server:
        url = f"{server.url()}/secret"
        async with trio_webkit.Client() as client:
            with pytest.raises(trio_webkit.ConnectError) as caught:
                await client.get(url)
        with pytest.raises(trio_webkit.ConnectError):
            await trio_webkit.get(url)
        # The server shrugs off the failed handshakes and keeps serving.
        async with trio_webkit.Client(ssl_context=contexts.client) as client:
            after = await client.get(f"{server.url()}/after")
    error = caught.value
    assert error.url == url
    assert error.method == "GET"
    assert error.phase == "connect"
    assert str(error).startswith(f"GET {url}: ")
    assert "certificate" in str(error).lower()
    assert after.status == 200


@pytest.mark.parametrize("connect_to", ["127.0.0.1", "localhost"])
@fail_after(GUARD)
async def test_https_hostname_mismatch_is_a_connect_error(connect_to: str) -> None:
    contexts = tls_contexts("other.example")  # trusted CA, wrong name
    async with (
        running_tls_server(tls_handler, contexts.server) as server,
        trio_webkit.Client(ssl_context=contexts.client) as client,
    ):
        url = f"{server.url(connect_to)}/"
        with pytest.raises(trio_webkit.ConnectError) as caught:
            await client.get(url)
        stats = client.statistics()
    assert caught.value.url == url
    assert caught.value.phase == "connect"
    assert str(caught.value).startswith(f"GET {url}: ")
    assert stats.connections_idle == 0
    assert stats.connections_active == 0


@fail_after(GUARD)
async def test_http_to_a_tls_port_fails_cleanly() -> None:
    contexts = tls_contexts("127.0.0.1")
    async with (
        running_tls_server(tls_handler, contexts.server) as server,
        trio_webkit.Client() as client,
    ):
        with pytest.raises(trio_webkit.ProtocolError) as caught:
            await client.get(f"http://127.0.0.1:{server.port}/")
    assert caught.value.url == f"http://127.0.0.1:{server.port}/"
