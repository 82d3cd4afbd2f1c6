"""Chapter 7: what server.shutdown() does to each connection."""

import trio

import trio_webkit
from trio_webkit import Request, Response, Router

router = Router()
started = {"quick": trio.Event(), "stuck": trio.Event()}  # set when each handler runs


@router.route("GET", "/hello")
async def hello(request: Request) -> Response:
    return Response(200, body="hello\n")


@router.route("GET", "/quick")
async def quick(request: Request) -> Response:
    started["quick"].set()
    await trio.sleep(0.5)  # finishes well within shutdown_timeout
    return Response(200, body="done\n")


@router.route("GET", "/stuck")
async def stuck(request: Request) -> Response:
    started["stuck"].set()
    await trio.sleep(60)  # would take far longer than shutdown_timeout
    return Response(200, body="too late\n")


async def in_flight(client: trio_webkit.Client, base: str, path: str) -> None:
    try:
        response = await client.get(base + path)
    except trio_webkit.ProtocolError:
        print(f"{path}: no answer, the connection was closed at shutdown_timeout")
    else:
        connection = response.headers["connection"]
        print(f"{path}: {response.status} {response.text!r}, Connection: {connection}")


async def idle_connection(
    port: int, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """One request on a raw connection, then idle; report when the server closes it."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(b"GET /hello HTTP/1.1\r\nHost: example\r\n\r\n")
        answer = b""
        while not answer.endswith(b"hello\n"):
            answer += await stream.receive_some()
        task_status.started()  # answered, and now idle (kept alive)
        while await stream.receive_some():  # b"": the server closed it
            pass
        print("idle connection: closed by the server")


async def main() -> None:
    config = trio_webkit.ServerConfig(shutdown_timeout=1.5)
    server = trio_webkit.Server(router, config)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve_tcp, 0, "127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        base = f"http://127.0.0.1:{port}"

        async with trio_webkit.Client() as client, trio.open_nursery() as clients:
            await clients.start(idle_connection, port)
            clients.start_soon(in_flight, client, base, "/quick")
            clients.start_soon(in_flight, client, base, "/stuck")
            for event in started.values():
                await event.wait()
            stats = server.statistics()
            print(f"open connections: {stats.connections_open}, busy: {stats.requests_active}")

            print("-- shutdown()")
            begun = trio.current_time()
            async with trio.open_nursery() as stopping:
                stopping.start_soon(server.shutdown)
                await trio.sleep(0.1)
                try:
                    await client.get(base + "/hello")
                except trio_webkit.ConnectError:
                    print("a new connection during the drain: refused")
            waited = trio.current_time() - begun
            print("-- shutdown() returned; it took at least shutdown_timeout:", waited >= 1.5)

        stats = server.statistics()
        print(f"open connections: {stats.connections_open}, served: {stats.requests_served}")


trio.run(main)
