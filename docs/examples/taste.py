"""A taste of trio_webkit: serve a folder and fetch a file from it."""

import tempfile
from pathlib import Path

import trio

import trio_webkit
from trio_webkit.apps import FileServer


async def main(folder: str) -> None:
    server = trio_webkit.Server(FileServer(folder))
    async with trio.open_nursery() as nursery:
        # start() returns once the server listens; port 0: any free port.
        listeners = await nursery.start(server.serve_tcp, 0, "127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        async with trio_webkit.Client() as client:
            response = await client.get(f"http://127.0.0.1:{port}/hello.txt")
        print(response.status, response.headers["content-type"])
        print(response.text, end="")
        await server.shutdown()  # the server task ends, so the nursery can


with tempfile.TemporaryDirectory() as folder:
    Path(folder, "hello.txt").write_text("Hello from a folder!\n")
    trio.run(main, folder)
