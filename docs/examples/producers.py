"""How-to: write a producer, and use it on both sides."""

import csv
import io

import trio

import trio_webkit
from trio_webkit import Request, Response, Router

ROWS = [("city", "population"), ("Lagos", "15388000"), ("Lima", "10719000")]
cleaned_up = trio.Event()


async def csv_rows(send: trio.MemorySendChannel[bytes]) -> None:
    """A producer: send each chunk; return when done; raise if it fails."""
    for row in ROWS:
        line = io.StringIO()
        csv.writer(line).writerow(row)
        await send.send(line.getvalue().encode())  # waits while the client is slower


def numbers(count: int) -> trio_webkit.Producer:
    """A producer with parameters: a function that returns one."""

    async def produce(send: trio.MemorySendChannel[bytes]) -> None:
        for n in range(count):
            await send.send(b"%d\n" % n)

    return produce


async def ticker(send: trio.MemorySendChannel[bytes]) -> None:
    """A producer that never ends; cancelled when its client goes away."""
    try:
        n = 0
        while True:
            await send.send(b"tick %d\n" % n)
            n += 1
            await trio.sleep(0.01)
    finally:  # runs when the server cancels us: close files, release locks here
        print("ticker: cancelled after the client left; cleaned up")
        cleaned_up.set()


router = Router()


@router.route("GET", "/cities.csv")
async def cities(request: Request) -> Response:
    return Response(200, [("Content-Type", "text/csv")], producer=csv_rows)


@router.route("GET", "/numbers")
async def numbers_with_length(request: Request) -> Response:
    # The size is known in advance: say so, and the body is not chunked.
    return Response(200, [("Content-Length", "20")], producer=numbers(10))


@router.route("GET", "/ticks")
async def ticks(request: Request) -> Response:
    return Response(200, producer=ticker)


@router.route("POST", "/count-lines")
async def count_lines(request: Request) -> Response:
    return Response(200, body=str((await request.read()).count(b"\n")))


async def main() -> None:
    server = trio_webkit.Server(router, trio_webkit.ServerConfig(access_log=False))
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve_tcp, 0, "127.0.0.1")
        base = f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}"
        async with trio_webkit.Client() as client:
            response = await client.get(base + "/cities.csv")
            print(response.headers["transfer-encoding"], repr(response.text))

            response = await client.get(base + "/numbers")
            print("Content-Length:", response.headers["content-length"], repr(response.text))

            # The same producer type is a client's request body.
            response = await client.post(base + "/count-lines", body=numbers(1000))
            print("uploaded lines:", response.text)

            async with client.stream("GET", base + "/ticks") as response:
                async for chunk in response.iter_bytes():
                    print("client: got", repr(chunk), "and leaves")
                    break  # leaving the block closes the connection
        await cleaned_up.wait()
        await server.shutdown()


trio.run(main)
