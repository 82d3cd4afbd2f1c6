"""How-to: test a handler without sockets.

Three levels: call the handler; serve it over an in-memory stream and
speak HTTP to it with h11; add a mock clock so timeouts take no time.

This file is a pytest module (pytest-trio, ``trio_mode = true``), and also
a program: ``python testing_handlers.py`` runs the same tests.
"""

import h11
import trio
import trio.testing

import trio_webkit
from trio_webkit import Request, Response


async def greet(request: Request) -> Response:
    """The handler under test."""
    name = (await request.read()).decode() if request.method == "POST" else request.query
    return Response(200, body=f"hello, {name or 'world'}\n")


async def exchange(
    handler: trio_webkit.Handler,
    request: h11.Request,
    body: bytes = b"",
    config: trio_webkit.ServerConfig | None = None,
) -> tuple[h11.Response, bytes]:
    """Serve ``handler`` on a memory stream; send ``request``; return the answer."""
    client_end, server_end = trio.testing.memory_stream_pair()
    client = h11.Connection(h11.CLIENT)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio_webkit.serve_connection, server_end, handler, config)
        data = client.send(request) or b""
        if body:
            data += client.send(h11.Data(data=body)) or b""
        await client_end.send_all(data + (client.send(h11.EndOfMessage()) or b""))
        head, received = None, b""
        while True:
            event = client.next_event()
            if event is h11.NEED_DATA:
                client.receive_data(await client_end.receive_some())
            elif isinstance(event, h11.Response):
                head = event
            elif isinstance(event, h11.Data):
                received += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
        nursery.cancel_scope.cancel()  # done: stop serving the connection
    assert head is not None
    return head, received


def get(target: str) -> h11.Request:
    return h11.Request(method="GET", target=target, headers=[("Host", "test")])


async def test_call_the_handler() -> None:
    response = await greet(Request("GET", "/?ada"))
    assert (response.status, response.body) == (200, b"hello, ada\n")


async def test_http_over_a_memory_stream() -> None:
    head, body = await exchange(greet, get("/?grace"))
    assert head.status_code == 200
    assert body == b"hello, grace\n"
    assert (b"content-length", b"13") in head.headers


async def test_body_limit() -> None:
    config = trio_webkit.ServerConfig(max_body_bytes=4)
    post = h11.Request(
        method="POST", target="/", headers=[("Host", "test"), ("Content-Length", "10")]
    )
    head, _ = await exchange(greet, post, b"0123456789", config)
    assert head.status_code == 413


async def test_slow_request_head(autojump_clock: trio.testing.MockClock) -> None:
    """A client that sends half a request head gets 408 after ``header_timeout``."""
    config = trio_webkit.ServerConfig(header_timeout=10.0)
    client_end, server_end = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio_webkit.serve_connection, server_end, greet, config)
        start = trio.current_time()
        await client_end.send_all(b"GET / HTTP/1.1\r\nHost: te")  # ... and nothing more
        answer = await client_end.receive_some()
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert trio.current_time() - start == 10.0  # virtual seconds: no real waiting
        nursery.cancel_scope.cancel()


if __name__ == "__main__":  # the same tests, without pytest
    for test in (test_call_the_handler, test_http_over_a_memory_stream, test_body_limit):
        trio.run(test)
        print("passed:", test.__name__)
    clock = trio.testing.MockClock(autojump_threshold=0)
    trio.run(test_slow_request_head, clock, clock=clock)
    print("passed:", test_slow_request_head.__name__, "in", clock.current_time(), "virtual seconds")
