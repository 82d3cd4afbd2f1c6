"""Chapter 7: a handler's exceptions stop at its connection's boundary."""

import logging
import sys
from types import TracebackType

import trio

import trio_webkit
from trio_webkit import Request, Response, Router

router = Router()
STOCK = {"apples": 3}
PRICES = {"apples": 0.5}


@router.route("GET", "/boom")
async def boom(request: Request) -> Response:
    raise ValueError("a bug in the handler")


@router.route("GET", "/two-bugs")
async def two_bugs(request: Request) -> Response:
    async def fail(message: str) -> None:
        raise RuntimeError(message)

    async with trio.open_nursery() as nursery:  # both children fail: a group of two
        nursery.start_soon(fail, "one")
        nursery.start_soon(fail, "two")
    return Response(200)


@router.route("GET", "/fruit")
async def fruit(request: Request) -> Response:
    name = request.query
    found: dict[str, float] = {}

    async def look_up(table: dict[str, float], what: str) -> None:
        await trio.sleep(0.01)  # (a database, in real life)
        found[what] = table[name]  # KeyError for a fruit we do not know

    missing = False
    try:
        async with trio.open_nursery() as nursery:  # both look-ups at once
            nursery.start_soon(look_up, STOCK, "stock")
            nursery.start_soon(look_up, PRICES, "price")
    except* KeyError:  # what the handler expects, it handles
        missing = True
    if missing:
        return Response(404, body=f"we know no price for {name}\n")
    return Response(200, body=f"{name}: {found['stock']:g} at {found['price']}\n")


async def countdown(send: trio.MemorySendChannel[bytes]) -> None:
    for n in (3, 2, 1):
        await send.send(b"%d..." % n)
    raise OSError("the disk went away")  # after the response has started


@router.route("GET", "/countdown")
async def with_a_failing_producer(request: Request) -> Response:
    return Response(200, producer=countdown)


class Brief(logging.Formatter):
    """The server's log without tracebacks: one line per exception and group member.

    The members of a group are sorted: children that fail at the same moment
    run, and so fail, in an order Trio deliberately varies.
    """

    def formatException(
        self, ei: tuple[type[BaseException], BaseException, TracebackType | None]
    ) -> str:
        error = ei[1]
        members = sorted(f"    {type(e).__name__}: {e}" for e in getattr(error, "exceptions", ()))
        return "\n".join([f"  {type(error).__name__}: {error}", *members])


async def main() -> None:
    server = trio_webkit.Server(router, trio_webkit.ServerConfig(access_log=False))
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve_tcp, 0, "127.0.0.1")
        base = f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}"
        async with trio_webkit.Client() as client:
            for path in ("/boom", "/two-bugs", "/fruit?apples", "/fruit?kiwis", "/countdown"):
                try:
                    response = await client.get(base + path)
                except trio_webkit.IncompleteBody as error:
                    print(f"client: GET {path} -> IncompleteBody after {error.received} bytes")
                else:
                    print(f"client: GET {path} -> {response.status} {response.text!r}")
            response = await client.get(base + "/fruit?apples")
            print(f"client: GET /fruit?apples again -> {response.status}")
        print("server: connections accepted:", server.statistics().connections_total)
        await server.shutdown()
    print("main: the nursery ended normally")


log_handler = logging.StreamHandler(sys.stdout)
log_handler.setFormatter(Brief("server log: %(message)s"))
logging.getLogger("trio_webkit.server").addHandler(log_handler)
trio.run(main)
