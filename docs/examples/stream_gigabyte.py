"""How-to: stream 1 GiB each way in bounded memory, and measure it.

Usage: python stream_gigabyte.py [--mib N]    (default: 1024 MiB, i.e. 1 GiB)
"""

# docs-test-args: --mib 64

import argparse
import resource

import trio

import trio_webkit
from trio_webkit import Request, Response, Router

CHUNK = 64 * 1024
BLOCK = bytes(CHUNK)  # one chunk, sent again and again: we measure the transfer
LIMIT_MIB = 16  # what "bounded" means here: far below the size sent


def peak_rss_mib() -> float:
    """The process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def source(size: int) -> trio_webkit.Producer:
    """A producer of ``size`` bytes, one chunk at a time."""

    async def produce(send: trio.MemorySendChannel[bytes]) -> None:
        for _ in range(size // CHUNK):
            await send.send(BLOCK)  # waits while the peer is slower than us

    return produce


def make_app(size: int) -> Router:
    router = Router()

    @router.route("GET", "/big")
    async def download(request: Request) -> Response:
        return Response(200, [("Content-Length", str(size))], producer=source(size))

    @router.route("PUT", "/big")
    async def upload(request: Request) -> Response:
        received = 0
        async for chunk in request.stream():  # one chunk at a time, as it arrives
            received += len(chunk)
        return Response(200, body=str(received))

    return router


def report(direction: str, size: int, received: int, before: float) -> None:
    growth = peak_rss_mib() - before
    bounded = "less" if growth < LIMIT_MIB else "MORE"
    print(
        f"{direction}: {received == size} ({size >> 20} MiB); peak memory grew {bounded}"
        f" than {LIMIT_MIB} MiB"
    )


async def main(size: int) -> None:
    # The default limit on request bodies is 1 MiB; this server takes any size.
    config = trio_webkit.ServerConfig(max_body_bytes=None, access_log=False)
    server = trio_webkit.Server(make_app(size), config)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve_tcp, 0, "127.0.0.1")
        url = f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}/big"
        async with trio_webkit.Client(timeout=30) as client:
            before = peak_rss_mib()
            received = 0
            async with client.stream("GET", url) as response:
                async for chunk in response.iter_bytes():
                    received += len(chunk)  # count it, then let it go
            report("download, all received", size, received, before)

            before = peak_rss_mib()
            response = await client.put(url, body=source(size))  # a producer as the body
            report("upload, all received", size, int(response.text), before)
        await server.shutdown()


parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--mib", type=int, default=1024, help="MiB to send each way")
trio.run(main, parser.parse_args().mib << 20)
