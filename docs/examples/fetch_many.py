"""Chapter 1: fetch several URLs at once, one task each, in a nursery."""

import trio

import trio_webkit

# Each path makes the server wait that long before it answers.
PATHS = ["/wait/0.6", "/wait/0.2", "/wait/0.4"]


async def slow(request: trio_webkit.Request) -> trio_webkit.Response:
    seconds = float(request.path.rsplit("/", 1)[1])
    await trio.sleep(seconds)
    return trio_webkit.Response(200, body=f"waited {seconds}s\n")


async def main() -> None:
    server = trio_webkit.Server(slow)
    async with trio.open_nursery() as server_nursery:
        listeners = await server_nursery.start(server.serve_tcp, 0, "127.0.0.1")
        base = f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}"

        results: dict[str, str] = {}
        async with trio_webkit.Client() as client:

            async def fetch_one(path: str) -> None:
                response = await client.get(base + path)
                print("done:", path)
                results[path] = response.text.strip()

            started = trio.current_time()
            async with trio.open_nursery() as nursery:  # waits for all its tasks
                for path in PATHS:
                    nursery.start_soon(fetch_one, path)
            elapsed = trio.current_time() - started

        for path in PATHS:  # in the order asked, whatever order they finished in
            print(path, "->", results[path])
        print("all three took less than their sum (1.2s):", elapsed < 1.2)
        await server.shutdown()


trio.run(main)
