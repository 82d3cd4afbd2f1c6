"""How-to: write a consumer; XMLPullParser is one as it is."""

from collections.abc import AsyncIterator
from xml.etree.ElementTree import XMLPullParser

import trio

import trio_webkit
from trio_webkit import Request, Response


async def feed_xml() -> AsyncIterator[bytes]:
    """A news feed, sent in pieces that cut through tags (as a network does)."""
    document = (
        "<feed>"
        + "".join(f"<item><title>Story {n}</title></item>" for n in range(1, 4))
        + "</feed>"
    )
    data = document.encode()
    for start in range(0, len(data), 17):
        yield data[start : start + 17]


async def feed(request: Request) -> Response:
    return Response(200, [("Content-Type", "application/xml")], body=feed_xml())


class Headlines:
    """A consumer: ``feed`` and ``close``, and (optional) ``http_header``.

    Parses while the body arrives and handles each item as soon as it is
    complete, then drops it: memory stays flat however long the feed.
    """

    def __init__(self) -> None:
        self.parser = XMLPullParser(events=("end",))
        self.count = 0

    def http_header(self, response: trio_webkit.Response) -> None:
        kind = response.headers.get("content-type", "")
        if not kind.endswith("xml"):  # raising here aborts the fetch
            raise ValueError(f"expected XML, got {kind!r}")

    def feed(self, data: bytes) -> None:
        self.parser.feed(data)
        for _event, element in self.parser.read_events():
            if element.tag == "item":
                self.count += 1
                print("headline:", element.findtext("title"))
                element.clear()  # done with it

    def close(self) -> None:
        self.parser.close()  # raises if the document was cut short
        print("end of feed:", self.count, "items")


async def main() -> None:
    server = trio_webkit.Server(feed)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve_tcp, 0, "127.0.0.1")
        url = f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}/feed.xml"
        async with trio_webkit.Client() as client:
            # 1. The parser itself is a consumer: fed the body, closed at its end.
            parser = XMLPullParser(events=("end",))
            await client.fetch(url, parser)
            tags = [element.tag for _event, element in parser.read_events()]
            print("XMLPullParser saw:", len(tags), "elements, the last one", tags[-1])

            # 2. A consumer of your own, acting on each item as it arrives.
            await client.fetch(url, Headlines())
        await server.shutdown()


trio.run(main)
