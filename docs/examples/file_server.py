"""Chapter 4: serve a directory safely with FileServer."""

import os.path
import tempfile
from pathlib import Path

import trio

import trio_webkit
from trio_webkit.apps import FileServer

ATTEMPTS = [
    "/hello.txt",
    "/docs",  # a directory without its trailing slash
    "/docs/",  # a directory: no index.html, so a listing
    "/missing.txt",
    "/../secret.txt",  # the classic escape
    "/%2e%2e/secret.txt",  # the same, percent-encoded
    "/docs/..%2f..%2fsecret.txt",  # an encoded slash
    "/..%5csecret.txt",  # a backslash, for Windows-style paths
]


async def main(root: Path) -> None:
    server = trio_webkit.Server(FileServer(root, chunk_size=2048))
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve_tcp, 0, "127.0.0.1")
        base = f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}"
        async with trio_webkit.Client(follow_redirects=False) as client:
            for target in ATTEMPTS:
                response = await client.get(base + target)
                kind = (response.headers.get("content-type") or "").split(";")[0]
                extra = response.headers.get("location", kind)
                print(f"{target:28} {response.status} {extra}")
        await server.shutdown()


with tempfile.TemporaryDirectory() as top:
    Path(top, "secret.txt").write_text("the password\n")  # NOT under the root
    root = Path(top, "public")
    (root / "docs").mkdir(parents=True)
    (root / "hello.txt").write_text("hello\n")

    # The classic server joined the request path to its root:
    joined = os.path.normpath(os.path.join(root, "../secret.txt"))
    print("a naive join leaves the root:", not joined.startswith(str(root)))

    trio.run(main, root)
