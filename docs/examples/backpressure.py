"""Chapter 4: backpressure, shown by experiment.

A file is sent in 2 KiB chunks by a producer task, to a deliberately slow
reader. The connection is an in-memory *lockstep* stream: it holds no
buffer at all (a socket would add the kernel's, a fixed few hundred KiB),
so what we count is exactly what the server keeps in memory.
"""

import math
import tempfile
from pathlib import Path

import trio
import trio.testing

import trio_webkit

CHUNK = 2048
CHUNKS = 8
produced = 0  # chunks the producer has handed over so far


def file_producer(path: Path) -> trio_webkit.Producer:
    """The classic FileProducer, as a task: read a chunk, send it, repeat."""

    async def produce(send: trio.MemorySendChannel[bytes]) -> None:
        global produced
        async with await trio.open_file(path, "rb") as file:
            while chunk := await file.read(CHUNK):
                await send.send(chunk)  # waits while the channel is full
                produced += 1

    return produce


def report(got: int) -> None:
    print(f"reader has {got} chunk(s), producer has sent {produced} ({produced - got} ahead)")


async def slow_http_reader(stream: trio.abc.Stream) -> None:
    await stream.send_all(b"GET /big HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        await trio.sleep(0.05)  # a slow reader: one write taken every 50 ms
        data += await stream.receive_some()
        _head, _, body = data.partition(b"\r\n\r\n")
        got = len(body) // CHUNK
        report(got)
        if got == CHUNKS:
            return


async def with_the_server(path: Path) -> None:
    async def handler(request: trio_webkit.Request) -> trio_webkit.Response:
        size = str(CHUNK * CHUNKS)
        return trio_webkit.Response(200, [("Content-Length", size)], producer=file_producer(path))

    client_end, server_end = trio.testing.lockstep_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio_webkit.serve_connection, server_end, handler)
        await slow_http_reader(client_end)


async def with_an_unbounded_buffer(path: Path) -> None:
    send, receive = trio.open_memory_channel[bytes](math.inf)  # never full
    async with trio.open_nursery() as nursery:
        nursery.start_soon(file_producer(path), send)
        got = 0
        async for _chunk in receive:
            await trio.sleep(0.05)
            got += 1
            report(got)
            if got == 3:
                print("... the whole file is in memory before the reader has a third of it")
                nursery.cancel_scope.cancel()


async def main(path: Path) -> None:
    global produced
    print("-- the server's bounded channel:")
    await with_the_server(path)
    produced = 0
    print("-- the same producer, with an unbounded buffer:")
    await with_an_unbounded_buffer(path)


with tempfile.TemporaryDirectory() as folder:
    big = Path(folder, "big.bin")
    big.write_bytes(b"x" * (CHUNK * CHUNKS))
    trio.run(main, big)
