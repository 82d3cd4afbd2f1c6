"""Chapter 7: the task tree of a server that serves two requests and shuts down."""

import trio
import trio.testing

import trio_webkit

Task = trio.lowlevel.Task


class TaskTree(trio.abc.Instrument):
    """Print ``+ name`` when a task starts and ``- name`` when it ends,
    indented under the task whose nursery it belongs to.

    Trio runs the tasks that are ready at the same moment in a random order,
    on purpose. So that the picture is the same on every run, the events of
    each such batch are held back and printed grouped by task, in name order.
    """

    def __init__(self) -> None:
        self.depth: dict[Task, int] = {}  # only main and its descendants
        self.batch: dict[Task | None, list[str]] = {}
        self.running: Task | None = None

    def task_spawned(self, task: Task) -> None:
        nursery = task.parent_nursery
        parent = nursery.parent_task if nursery is not None else None
        if parent in self.depth:
            self.depth[task] = self.depth[parent] + 1
        elif task.name == "__main__.main":
            self.depth[task] = 0
        else:
            return  # one of Trio's own system tasks
        self._event(task, "+")

    def task_exited(self, task: Task) -> None:
        if task in self.depth:
            self._event(task, "-")

    def say(self, text: str) -> None:
        """Print ``text`` in its place among the task events."""
        self.batch.setdefault(self.running, []).append(text)

    def before_task_step(self, task: Task) -> None:
        self.running = task

    def before_io_wait(self, timeout: float) -> None:
        # Every task that was ready has had its turn: print what they did.
        for _task, lines in sorted(self.batch.items(), key=lambda item: _name(item[0])):
            print(*lines, sep="\n")
        self.batch.clear()

    def _event(self, task: Task, sign: str) -> None:
        self.say("  " * self.depth[task] + f"{sign} {_name(task)}")


def _name(task: Task | None) -> str:
    """``Server.serve_tcp`` rather than ``trio_webkit._server.Server.serve_tcp``."""
    return "" if task is None else task.coro.cr_code.co_qualname


async def greeting(send: trio.MemorySendChannel[bytes]) -> None:
    await send.send(b"hello, ")
    await send.send(b"world")


async def handler(request: trio_webkit.Request) -> trio_webkit.Response:
    return trio_webkit.Response(200, producer=greeting)


async def main(tree: TaskTree) -> None:
    server = trio_webkit.Server(handler, trio_webkit.ServerConfig(access_log=False))
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve_tcp, 0, "127.0.0.1")
        url = f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}/"
        async with trio_webkit.Client() as alice, trio_webkit.Client() as bob:
            for name, client in (("alice", alice), ("bob", bob)):
                tree.say(f"[{name}: GET /]")
                response = await client.get(url)
                tree.say(f"[{name}: {response.status} {response.text}]")
            # Both connections are idle by now, or about to be: wait until
            # they are, so that the picture is the same on every run.
            await trio.testing.wait_all_tasks_blocked()
            tree.say("[main: await server.shutdown()]")
            await server.shutdown()
            tree.say("[main: shutdown() returned]")


tree = TaskTree()
trio.run(main, tree, instruments=[tree])
