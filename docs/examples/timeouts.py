"""Chapter 6: the client's per-phase Timeout, a caller's deadline, slowloris."""

import trio

import trio_webkit
from trio_webkit import Request, Response, Router

router = Router()


@router.route("GET", "/stall")
async def stall(request: Request) -> Response:
    await trio.sleep(10)  # says nothing for far too long
    return Response(200, body="late\n")


async def trickle_dots(send: trio.MemorySendChannel[bytes]) -> None:
    for _ in range(100):  # one byte every 0.1 s: 10 s in all
        await send.send(b".")
        await trio.sleep(0.1)


@router.route("GET", "/trickle")
async def trickle(request: Request) -> Response:
    return Response(200, producer=trickle_dots)


@router.route("GET", "/fast")
async def fast(request: Request) -> Response:
    return Response(200, body="quick\n")


async def slowloris(port: int) -> bytes:
    """Send a request head one header line at a time, slowly; return the answer."""

    async def drip(stream: trio.abc.Stream) -> None:
        for number in range(20):  # 4 s in all, if nobody stops us
            await trio.sleep(0.2)
            await stream.send_all(b"X-Header-%d: still here\r\n" % number)

    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream, trio.open_nursery() as nursery:
        await stream.send_all(b"GET /fast HTTP/1.1\r\nHost: example\r\n")
        nursery.start_soon(drip, stream)
        answer = await stream.receive_some()  # the server's answer ends the attack
        nursery.cancel_scope.cancel()
    return answer


async def main() -> None:
    config = trio_webkit.ServerConfig(header_timeout=0.6)
    server = trio_webkit.Server(router, config)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve_tcp, 0, "127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        base = f"http://127.0.0.1:{port}"

        async with trio_webkit.Client(timeout=trio_webkit.Timeout(5, read=0.5)) as client:
            # 1. The client's own read timeout: 0.5 s of silence.
            try:
                await client.get(base + "/stall")
            except trio_webkit.ReadTimeout as error:
                print(
                    "1:",
                    type(error).__name__,
                    "in phase",
                    error.phase,
                    "- a TimeoutError:",
                    isinstance(error, TimeoutError),
                )

            # 2. A trickle never trips the read timeout (it is about silence),
            #    so the caller adds a deadline of its own for the whole thing.
            received = 0
            try:
                with trio.fail_after(1.0):
                    async with client.stream("GET", base + "/trickle") as response:
                        async for chunk in response.iter_bytes():
                            received += len(chunk)
            except trio.TooSlowError:
                print("2: the caller's fail_after fired; bytes had arrived:", received > 0)

            # 3. Either way the pool is consistent: nothing left in use, and
            #    the next request just works.
            print("3: connections in use:", client.statistics().connections_active)
            print("   next request:", (await client.get(base + "/fast")).text.strip())

        # 4. The server's side: a head that takes longer than header_timeout.
        answer = await slowloris(port)
        print("4: slowloris got:", answer.split(b"\r\n")[0].decode())

        nursery.cancel_scope.cancel()  # stop the server, and the stalled handler


trio.run(main)
