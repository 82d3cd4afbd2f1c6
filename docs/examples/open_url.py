"""Chapter 5: one reading interface for http, file and data URLs; download()."""

import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import trio

import trio_webkit
from trio_webkit.apps import FileServer


async def copy(url: str, path: Path) -> None:
    """urlopen's loop: read 8 KiB at a time, write it out, count the bytes."""
    copied = 0
    async with trio_webkit.open_url(url) as source:  # leaving it closes the source
        async with await trio.open_file(path, "wb") as out:
            while data := await source.read(8192):
                await out.write(data)
                copied += len(data)
        kind = source.headers["content-type"]
        print(f"{urlsplit(source.url).scheme}: {source.status} {kind}, copied {copied} bytes")


async def main(folder: Path) -> None:
    server = trio_webkit.Server(FileServer(folder))
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve_tcp, 0, "127.0.0.1")
        base = f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}"

        await copy(base + "/page.html", folder / "copy-1.html")
        await copy((folder / "page.html").as_uri(), folder / "copy-2.html")
        await copy("data:text/plain;base64,aGVsbG8gd29ybGQ=", folder / "copy-3.txt")

        reports: list[tuple[int, int | None]] = []
        response = await trio_webkit.download(
            base + "/page.html",
            folder / "saved.html",
            progress=lambda received, total: reports.append((received, total)),
        )
        print("download:", response.status, "- last progress report:", reports[-1])

        try:
            await trio_webkit.download(base + "/nowhere.html", folder / "nowhere.html")
        except trio_webkit.HTTPStatusError as error:
            print("download:", error.response.status, "- raised", type(error).__name__)

        await server.shutdown()


with tempfile.TemporaryDirectory() as name:
    folder = Path(name)
    page = folder / "page.html"
    page.write_text("<p>" + "news " * 6000 + "</p>\n")  # 30008 bytes
    trio.run(main, folder)
    print("saved file is the page:", (folder / "saved.html").read_bytes() == page.read_bytes())
    print("anything saved for the 404:", (folder / "nowhere.html").exists())
