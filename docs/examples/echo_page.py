"""Chapter 3: the echo server, answering each request with a page showing it."""

import re

import trio

import trio_webkit
from trio_webkit.apps import echo


def find(pattern: str, page: str) -> str:
    match = re.search(pattern, page)
    assert match is not None, pattern
    return match[1]


async def main() -> None:
    server = trio_webkit.Server(echo)
    async with trio.open_nursery() as nursery:
        # start() returns only once the server listens: no race, no sleep.
        listeners = await nursery.start(server.serve_tcp, 0, "127.0.0.1")
        url = f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}/hello?x=1"

        async with trio_webkit.Client() as client:
            page = (await client.post(url, body="<b>bold</b> & more")).text

        print(find(r'<pre id="request-line">(.*?)</pre>', page))
        print("headers:", ", ".join(re.findall(r"<th>(.*?)</th>", page)))
        print("body:", find(r'<pre id="body">(.*?)</pre>', page))
        await server.shutdown()


trio.run(main)
