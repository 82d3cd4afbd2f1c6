"""Chapter 2: redirects are followed by the client, and recorded in ``history``."""

from urllib.parse import urlsplit

import trio

import trio_webkit
from trio_webkit import Request, Response, Router

router = Router()


@router.route("GET", "/library")
async def moved(request: Request) -> Response:
    return Response(301, [("Location", "/library/")])  # a relative Location


@router.route("GET", "/library/")
async def renamed(request: Request) -> Response:
    return Response(302, [("Location", "index.html")])  # relative to /library/


@router.route("GET", "/library/index.html")
async def index(request: Request) -> Response:
    return Response(200, body="Welcome to the library.\n")


@router.route("GET", "/loop")
async def loop(request: Request) -> Response:
    return Response(302, [("Location", "/loop")])  # a server bug: forever


class Consumer:
    def http_header(self, response: Response) -> None:
        print("http_header called for", response.status, path(response.url))

    def feed(self, data: bytes) -> None:
        print("fed", len(data), "bytes")

    def close(self) -> None:
        print("closed")


def path(url: str) -> str:
    return urlsplit(url).path  # the port changes from run to run: show the path


async def main() -> None:
    server = trio_webkit.Server(router)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve_tcp, 0, "127.0.0.1")
        base = f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}"

        async with trio_webkit.Client() as client:
            response = await client.get(base + "/library")
            for step in response.history:
                print(step.status, path(step.url), "->", step.headers["location"])
            print(response.status, path(response.url), repr(response.text))

            print("-- fetch with a consumer:")
            await client.fetch(base + "/library", Consumer())

            print("-- a redirect loop:")
            try:
                await client.get(base + "/loop")
            except trio_webkit.TooManyRedirects as error:
                print(type(error).__name__, "after", len(error.history), "redirect(s)")

        print("-- not following:")
        async with trio_webkit.Client(follow_redirects=False) as client:
            response = await client.get(base + "/library")
            print(response.status, response.headers["location"], response.history)

        await server.shutdown()


trio.run(main)
