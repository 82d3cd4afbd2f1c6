"""Chapter 3: one task per connection, reused for each request on it."""

import trio

import trio_webkit

names: dict[trio.lowlevel.Task, str] = {}


async def which_task(request: trio_webkit.Request) -> trio_webkit.Response:
    # The handler runs in the task that serves this request's connection.
    task = trio.lowlevel.current_task()
    name = names.setdefault(task, f"connection task #{len(names) + 1}")
    return trio_webkit.Response(200, body=name)


async def main() -> None:
    server = trio_webkit.Server(which_task)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve_tcp, 0, "127.0.0.1")
        url = f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}/"

        # Two clients, so two connections, both kept alive between requests.
        async with trio_webkit.Client() as alice, trio_webkit.Client() as bob:
            for request in range(1, 3):
                for name, client in (("alice", alice), ("bob", bob)):
                    response = await client.get(url)
                    print(f"{name}, request {request}: served by {response.text}")

        print("connections accepted:", server.statistics().connections_total)
        await server.shutdown()


trio.run(main)
