"""How-to: run the server as one task among your own, in your nursery."""

import trio

import trio_webkit
from trio_webkit import Request, Response, Router


def make_app(jobs: trio.MemorySendChannel[str]) -> Router:
    """The HTTP side: hand each submitted job to the worker."""
    router = Router()

    @router.route("POST", "/jobs")
    async def submit(request: Request) -> Response:
        job = (await request.read()).decode()
        await jobs.send(job)  # waits while the queue is full: backpressure on clients
        return Response(202, body=f"queued {job}\n")

    return router


async def worker(jobs: trio.MemoryReceiveChannel[str], done: list[str]) -> None:
    """Your own background task: does the jobs, until the queue is closed and empty."""
    with jobs:
        async for job in jobs:
            await trio.sleep(0.2)  # the work
            done.append(job.upper())


async def main() -> None:
    send_jobs, receive_jobs = trio.open_memory_channel[str](10)
    done: list[str] = []
    server = trio_webkit.Server(make_app(send_jobs))

    async with trio.open_nursery() as nursery:  # your nursery: it owns both
        nursery.start_soon(worker, receive_jobs, done)
        listeners = await nursery.start(server.serve_tcp, 0, "127.0.0.1")
        url = f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}/jobs"

        async with trio_webkit.Client() as client:
            for job in ("wash", "dry", "fold"):
                print((await client.post(url, body=job)).text, end="")

        # Stop in order: first no new requests, then no new jobs. The worker
        # finishes what is queued, and the nursery waits for it.
        await server.shutdown()
        send_jobs.close()
        print("server stopped; jobs still to do:", len(done) < 3)
    print("jobs done when the nursery ended:", done)


trio.run(main)
