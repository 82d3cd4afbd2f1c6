"""Chapter 1: fetch a page into a consumer object, and see a failure reported.

The server is started in the same program (on a free loopback port), so the
example needs no network and nothing else running.
"""

import trio

import trio_webkit

PAGE = "All the news that fits.\n" * 100  # 2400 bytes


class CountingConsumer:
    """The classic consumer: told about the header, fed the body, then closed."""

    def __init__(self) -> None:
        self.size = 0

    def http_header(self, response: trio_webkit.Response) -> None:  # optional
        print("status =>", response.status, response.reason)
        for name in ("content-type", "content-length"):
            print(name, "=", response.headers[name])

    def feed(self, data: bytes) -> None:
        self.size += len(data)

    def close(self) -> None:
        print(self.size, "bytes in body")


async def page(request: trio_webkit.Request) -> trio_webkit.Response:
    return trio_webkit.Response(200, body=PAGE)


async def closed_port() -> int:
    """A loopback port with nothing listening on it (so connecting fails)."""
    with trio.socket.socket() as sock:
        await sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def main() -> None:
    server = trio_webkit.Server(page)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve_tcp, 0, "127.0.0.1")
        port = listeners[0].socket.getsockname()[1]

        async with trio_webkit.Client(timeout=trio_webkit.Timeout(5)) as client:
            await client.fetch(f"http://127.0.0.1:{port}/", CountingConsumer())

            # A failure is an exception you can catch, not a callback to forget.
            try:
                await client.fetch(f"http://127.0.0.1:{await closed_port()}/", CountingConsumer())
            except trio_webkit.ConnectError as error:
                print("connection failed:", type(error).__name__, "in phase", error.phase)

        await server.shutdown()


trio.run(main)
