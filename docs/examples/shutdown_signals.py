"""Chapter 7: stop gracefully on SIGINT or SIGTERM; a second signal stops at once."""

import signal
from collections.abc import AsyncIterator

import trio

import trio_webkit
from trio_webkit import Request, Response


async def serve_until_signalled(
    server: trio_webkit.Server,
    port: int,
    *,
    task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
) -> None:
    # Opened before the server starts: a signal from now on is queued, not fatal.
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        graceful = False
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(server.serve_tcp, port, "127.0.0.1")
            task_status.started(listeners)
            signum = await anext(signals)
            print(f"server: {signal.Signals(signum).name}, shutting down gracefully")
            nursery.start_soon(stop_at_next_signal, signals, nursery.cancel_scope)
            await server.shutdown()
            graceful = True
            nursery.cancel_scope.cancel()  # drained: stop waiting for a second signal
    print("server: stopped;", "every request finished" if graceful else "requests were cut short")


async def stop_at_next_signal(signals: AsyncIterator[int], serving: trio.CancelScope) -> None:
    signum = await anext(signals)
    print(f"server: {signal.Signals(signum).name} again, stopping at once")
    serving.cancel()  # cancels shutdown() and every connection task


async def demo(seconds: float, signals: list[signal.Signals]) -> None:
    """Start a request that takes ``seconds``; while it runs, send ``signals``."""
    in_flight = trio.Event()

    async def slow(request: Request) -> Response:
        in_flight.set()
        await trio.sleep(seconds)
        return Response(200, body="finished\n")

    outcome: list[str] = []

    async def client(url: str) -> None:
        try:
            response = await trio_webkit.get(url, timeout=None)
            outcome.append(f"{response.status} {response.text.strip()}")
        except trio_webkit.ProtocolError:
            outcome.append("the connection closed without an answer")

    server = trio_webkit.Server(slow)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(serve_until_signalled, server, 0)
        nursery.start_soon(client, f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}/")
        await in_flight.wait()
        for signum in signals:
            signal.raise_signal(signum)  # what `kill -TERM <pid>` or Ctrl-C does
            await trio.sleep(0.2)
    print("client:", *outcome)


async def main() -> None:
    print("-- one SIGTERM while a 0.5 s request is in flight:")
    await demo(0.5, [signal.SIGTERM])
    print("-- two Ctrl-Cs (SIGINT) while a 60 s request is in flight:")
    await demo(60, [signal.SIGINT, signal.SIGINT])


trio.run(main)
