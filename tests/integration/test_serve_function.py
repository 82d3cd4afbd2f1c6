"""The one-line ``trio_webkit.serve`` and what a handler learns about its peer."""

from __future__ import annotations

import trio

import trio_webkit
from trio_webkit import Request, Response

from support.loopback import fail_after, raw_exchange


@fail_after(10)
async def test_serve_one_liner_reports_listeners_and_serves(nursery: trio.Nursery) -> None:
    seen: list[Request] = []

    async def handler(request: Request) -> Response:
        seen.append(request)
        return Response(200, body=f"{request.scheme} {request.client is not None}")

    listeners = await nursery.start(trio_webkit.serve, handler, 0, "127.0.0.1")
    host, port = listeners[0].socket.getsockname()[:2]
    raw = await raw_exchange(port, b"GET /x?y=1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    assert raw.endswith(b"http True")
    request = seen[0]
    assert request.client is not None and request.client[0] == host
    assert (request.path, request.query, request.headers["host"]) == ("/x", "y=1", "h")
    nursery.cancel_scope.cancel()
