"""Chapter 1: when one of several fetches fails, its siblings are cancelled."""

import trio

import trio_webkit


async def slow(request: trio_webkit.Request) -> trio_webkit.Response:
    await trio.sleep(10)  # longer than this example will wait
    return trio_webkit.Response(200, body="too late\n")


async def closed_port() -> int:
    """A loopback port with nothing listening on it (so connecting fails)."""
    with trio.socket.socket() as sock:
        await sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def main() -> None:
    server = trio_webkit.Server(slow)
    async with trio.open_nursery() as server_nursery:
        listeners = await server_nursery.start(server.serve_tcp, 0, "127.0.0.1")
        good = f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}"
        bad = f"http://127.0.0.1:{await closed_port()}"
        urls = {"slow-1": good + "/1", "slow-2": good + "/2", "broken": bad + "/"}

        finished: list[str] = []
        started = trio.current_time()
        async with trio_webkit.Client() as client:

            async def fetch_one(name: str) -> None:
                await client.get(urls[name])
                finished.append(name)

            try:
                async with trio.open_nursery() as nursery:
                    for name in urls:
                        nursery.start_soon(fetch_one, name)
            except* trio_webkit.ConnectError as group:
                print("failed:", ", ".join(type(error).__name__ for error in group.exceptions))

            print("finished:", finished or "none")
            print("waited for the slow ones:", trio.current_time() - started > 5)
            print("connections still in use:", client.statistics().connections_active)

        # Stop the server now, cancelling the handlers still asleep.
        server_nursery.cancel_scope.cancel()


trio.run(main)
