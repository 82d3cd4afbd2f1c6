"""``serve --workers N``: N server processes sharing one port, and their supervisor.

Theory of operation
-------------------
The parent first *reserves* the port (:func:`reserve_port`): a socket
bound with ``SO_REUSEPORT`` but never listening, so it accepts nothing yet
holds the port (and resolves ``-p 0`` to a real port) for as long as the
parent lives. Each worker is a whole ``trio-webkit serve`` process started
with the hidden ``--worker`` flag: it binds its own listening socket on that
port with ``SO_REUSEPORT`` and the kernel spreads new connections among the
workers.

:class:`Supervisor` runs in one Trio task tree::

    supervisor nursery
    ├── signal forwarder         SIGINT/SIGTERM -> every live worker
    ├── announcer                prints the URL once every worker listens
    ├── stop timer               (once stopping) kills stragglers after a grace
    └── slots nursery
        └── one task per slot    start a worker, wait for it, restart it

A worker is ready when it prints its ``Serving on`` line on its stdout (a
pipe to the parent). Its stdin is a pipe from the parent that is never
written: when the parent dies, even by SIGKILL, the worker sees end-of-file
and shuts down gracefully, so no worker outlives its parent. Workers run in
their own process group, so a Ctrl-C on the terminal reaches only the
parent, which forwards it: a second signal is forwarded too (workers then
stop at once), exactly as a single server behaves. A worker still starting
(no signal handler yet) is stopped by closing its stdin instead.

A worker that exits while the parent is not stopping is logged and
restarted. One that exits within :data:`QUICK_EXIT` seconds of its start
counts as a quick failure; after :data:`MAX_QUICK_FAILURES` in a row the
parent gives up, stops the others and exits 1. Linux only (SO_REUSEPORT
spreading connections among listeners).
"""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import ExitStack

import attrs
import trio

from ._serving import EXIT_FAILURE, EXIT_OK, SIGNALS, announce_urls, note, print_error

#: A worker that dies sooner than this after its start failed "quickly".
QUICK_EXIT = 10.0
#: Quick failures in a row (in one slot) before the parent gives up.
MAX_QUICK_FAILURES = 3
#: Pause before restarting a worker that died.
RESTART_DELAY = 0.5
#: Longest wait for a new worker's ``Serving on`` line.
STARTUP_TIMEOUT = 30.0
#: After the first stop signal, workers still running this much later are killed
#: (a worker's own ``shutdown_timeout`` is 10 s).
STOP_GRACE = 15.0


@attrs.frozen
class Reservation:
    """Sockets bound (not listening) with SO_REUSEPORT, holding a port for the workers.

    Attributes:
        port: the reserved port (the real one when 0 was asked for).
        addresses: the local addresses it is reserved on.
    """

    port: int
    addresses: list[str]
    sockets: list[socket.socket] = attrs.field(repr=False)

    def close(self) -> None:
        """Release the port."""
        for sock in self.sockets:
            sock.close()


def reserve_port(host: str, port: int) -> Reservation:
    """Reserve ``port`` (any free one when 0) on every address of ``host``.

    A plain bind (``SO_REUSEADDR`` only) comes first, so that a port that
    another server listens on, even one using ``SO_REUSEPORT`` itself, is
    reported as in use instead of being silently shared with it.

    Raises:
        OSError: the name does not resolve, or the port is in use or not
            allowed.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    with ExitStack() as cleanup:
        sockets: list[socket.socket] = []
        addresses: list[str] = []
        for family, kind, proto, _, address in infos:
            wanted = port if not sockets else sockets[0].getsockname()[1]
            with socket.socket(family, kind, proto) as probe:
                _prepare(probe, family, reuse_port=False)
                probe.bind((address[0], wanted, *address[2:]))
                wanted = probe.getsockname()[1]
            sock = cleanup.enter_context(socket.socket(family, kind, proto))
            _prepare(sock, family, reuse_port=True)
            sock.bind((address[0], wanted, *address[2:]))
            sockets.append(sock)
            addresses.append(str(address[0]))
        cleanup.pop_all()
    return Reservation(sockets[0].getsockname()[1], addresses, sockets)


def _prepare(sock: socket.socket, family: int, *, reuse_port: bool) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)


def run_workers(command: Sequence[str], count: int, urls: Sequence[str]) -> int:
    """Run ``count`` workers of ``command`` until a signal; return the exit status."""
    return trio.run(Supervisor(command, count, urls).run)


class Supervisor:
    """Keeps ``count`` worker processes running until stopped by a signal.

    Args:
        command: the argv of one worker (a ``serve --worker`` command line).
        count: how many workers run at once.
        urls: printed once every worker is ready.

    Exit status of :meth:`run`: 0 when every worker stopped cleanly after
    the first signal; 1 when the parent gave up on a failing worker, or a
    worker stopped uncleanly (second signal, killed after the grace period).
    """

    def __init__(self, command: Sequence[str], count: int, urls: Sequence[str]) -> None:
        self.command = list(command)
        self.count = count
        self.urls = list(urls)
        self._workers: dict[int, _Worker] = {}
        self._ready: set[int] = set()
        self._all_ready = trio.Event()
        self._stopping = False
        self._failed = False
        self._nursery: trio.Nursery | None = None

    async def run(self) -> int:
        """Start the workers, supervise them, stop them on a signal; the exit status."""
        with trio.open_signal_receiver(*SIGNALS) as signals:
            async with trio.open_nursery() as self._nursery:
                self._nursery.start_soon(self._forward_signals, signals)
                self._nursery.start_soon(self._announce_when_ready)
                async with trio.open_nursery() as slots:
                    for slot in range(1, self.count + 1):
                        slots.start_soon(self._keep_running, slot)
                self._nursery.cancel_scope.cancel()  # every worker has ended
        return EXIT_FAILURE if self._failed else EXIT_OK

    async def wait_ready(self) -> None:
        """Return once every worker has said that it serves (at least once)."""
        await self._all_ready.wait()

    def stop(self, signum: int = signal.SIGTERM) -> None:
        """Stop every worker (and stop restarting them): send them ``signum``.

        A worker still starting has no signal handler yet (a SIGINT would
        kill its interpreter mid-import), so it is stopped by closing its
        stdin instead: it shuts down gracefully as soon as it is up.
        """
        first = not self._stopping
        self._stopping = True
        assert self._nursery is not None
        for worker in self._workers.values():
            if worker.process.returncode is not None:
                continue
            if worker.ready:
                worker.process.send_signal(signum)
            elif first:
                self._nursery.start_soon(worker.close_stdin)
        if first:
            self._nursery.start_soon(self._kill_after, STOP_GRACE)

    async def _forward_signals(self, signals: AsyncIterator[int]) -> None:
        async for signum in signals:
            if not self._stopping:
                name = signal.Signals(signum).name
                note(f"{name} received, stopping the workers (send again to stop at once)")
            self.stop(signum)

    async def _announce_when_ready(self) -> None:
        await self._all_ready.wait()
        if not self._stopping:
            announce_urls(self.urls)

    async def _kill_after(self, seconds: float) -> None:
        await trio.sleep(seconds)
        for slot, worker in self._workers.items():
            process = worker.process
            if process.returncode is None:
                note(f"worker {slot} (pid {process.pid}) still running after {seconds:g}s: killed")
                process.kill()
                self._failed = True

    async def _keep_running(self, slot: int) -> None:
        """Run the worker of ``slot``, restarting it until stopping or giving up."""
        quick_failures = 0
        while not self._stopping:
            started = trio.current_time()
            pid, status = await self._run_worker(slot)
            if self._stopping:
                if status != 0:
                    self._failed = True
                return
            quick = trio.current_time() - started < QUICK_EXIT
            quick_failures = quick_failures + 1 if quick else 1
            if quick_failures >= MAX_QUICK_FAILURES:
                print_error(
                    f"worker {slot} exited {quick_failures} times in a row soon after "
                    f"starting (last exit status {status}); giving up"
                )
                self._failed = True
                self.stop()
                return
            note(f"worker {slot} (pid {pid}) exited unexpectedly with status {status}; restarting")
            await trio.sleep(RESTART_DELAY)

    async def _run_worker(self, slot: int) -> tuple[int, int]:
        """Start one worker, wait until it exits; its PID and exit status.

        However this task ends (even cancelled), the worker is reaped: killed
        first if it still runs.
        """
        process = await trio.lowlevel.open_process(
            self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, process_group=0
        )
        worker = self._workers[slot] = _Worker(process)
        try:
            note(f"worker {slot} started (pid {process.pid})")
            if self._stopping:  # a signal came while it was starting
                await worker.close_stdin()
            if await _wait_ready(process):
                worker.ready = True
                self._ready.add(slot)
                if len(self._ready) == self.count:
                    self._all_ready.set()
            else:
                process.kill()  # silent or broken: never leave it half-started
            return process.pid, await process.wait()
        finally:
            del self._workers[slot]
            with trio.CancelScope(shield=True):
                if process.returncode is None:
                    process.kill()
                await process.wait()
                for pipe in (process.stdin, process.stdout):
                    if pipe is not None:
                        await pipe.aclose()


@attrs.define
class _Worker:
    """A worker process, and whether it has said that it serves."""

    process: trio.Process
    ready: bool = False

    async def close_stdin(self) -> None:
        """Close the pipe to its stdin: the worker shuts down gracefully at end-of-file."""
        if self.process.stdin is not None:
            await self.process.stdin.aclose()


async def _wait_ready(process: trio.Process) -> bool:
    """Whether the worker printed its first line (``Serving on ...``) in time."""
    assert process.stdout is not None
    seen = b""
    with trio.move_on_after(STARTUP_TIMEOUT):
        while b"\n" not in seen:
            chunk = await process.stdout.receive_some(4096)
            if not chunk:
                return False  # it exited (its own error is already on stderr)
            seen += chunk
        return seen.startswith(b"Serving on ")
    return False
