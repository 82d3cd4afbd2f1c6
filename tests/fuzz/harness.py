"""Serving bytes on memory streams from plain (sync) test code, on a mock clock.

Hypothesis and pytest-trio do not combine directly, so every example runs
its own ``trio.run`` with ``MockClock(autojump_threshold=0)``: whenever all
tasks are blocked the clock jumps to the next deadline, so the server's
timeouts (408 after ``header_timeout``, the quiet close after
``keepalive_timeout``, the lingering after an error) cost no real time.

:func:`exchange` sends some pieces to :func:`serve_connection` (a small
pause before each), optionally half-closes, and returns everything the
server sent until it closed, what the recording handler saw, and how long
(in mock seconds) the server task took. The server task runs under a
``trio.fail_after`` sized from the config's timeouts: a server that does not
end by itself fails the example. A server that spins (runs without ever
blocking, so that the mock clock never moves and no timeout can fire) is
caught by counting task steps: more than :data:`MAX_STEPS` fails the example
(:func:`run_on_mock_clock`, which the client fuzz uses too).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import attrs
import trio
import trio.testing

import trio_webkit
from trio_webkit._response_sender import LINGER_SECONDS
from trio_webkit._server_connection import serve_connection

from support.memory import read_until_closed

T = TypeVar("T")

#: Small limits, and timeouts long enough that pauses between pieces (at most
#: a few tenths of a second in all) never trip them: an exchange's outcome
#: depends only on its bytes and on whether the client half-closed.
MAX_HEADER_BYTES = 4096
MAX_BODY_BYTES = 65536
CONFIG = trio_webkit.ServerConfig(
    access_log=False,
    max_header_bytes=MAX_HEADER_BYTES,
    max_body_bytes=MAX_BODY_BYTES,
    header_timeout=10.0,
    keepalive_timeout=5.0,
    body_timeout=10.0,
    send_timeout=10.0,
)

#: Task steps an exchange may take: under a hundred is typical; a busy loop
#: (a task that checkpoints but never blocks) reaches this in a fraction of a second.
MAX_STEPS = 10_000

#: The error statuses the server may answer a bad request with (never 500:
#: the recording handler never fails on its own).
ERROR_STATUSES = frozenset({400, 408, 413, 414, 431, 501, 505})


@attrs.frozen
class Seen:
    """One request as the handler saw it; ``body`` is None when reading it failed
    (or the handler did not read it)."""

    method: str
    target: str
    http_version: str
    body: bytes | None


class Spun(AssertionError):
    """A run took :data:`MAX_STEPS` task steps: something loops without ever blocking."""


class _StepCounter(trio.abc.Instrument):
    def __init__(self) -> None:
        self.steps = 0
        self.scope: trio.CancelScope | None = None
        self.tripped = False

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS and not self.tripped and self.scope is not None:
            self.tripped = True
            self.scope.cancel()


@attrs.frozen
class Exchange:
    received: bytes  # every byte the server sent, up to its close
    seen: list[Seen]  # what the handler saw, in order
    elapsed: float  # mock seconds from start until the server task ended

    @property
    def targets(self) -> list[str]:
        return [seen.target for seen in self.seen]


def time_bound(config: trio_webkit.ServerConfig, pauses: float) -> float:
    """The longest a server task may take: the pauses, one timeout, the linger."""
    timeouts = (config.header_timeout, config.keepalive_timeout, config.body_timeout)
    return pauses + max(t for t in timeouts if t is not None) + LINGER_SECONDS + 1.0


def run_on_mock_clock(async_fn: Callable[..., Awaitable[T]], *args: object) -> T:
    """``trio.run(async_fn, *args)`` on an autojumping mock clock, guarded against spinning.

    Raises :class:`Spun` when the run takes more than :data:`MAX_STEPS` task
    steps (then everything in it is cancelled first).
    """
    counter = _StepCounter()

    async def guarded() -> T | None:
        with trio.CancelScope() as counter.scope:
            return await async_fn(*args)
        return None

    clock = trio.testing.MockClock(autojump_threshold=0)
    result = trio.run(guarded, clock=clock, instruments=[counter])
    if counter.tripped or result is None:
        raise Spun(f"spun: {counter.steps} task steps without blocking, running {args!r}")
    return result


def exchange(
    pieces: Sequence[bytes],
    *,
    pauses: Sequence[float] = (),
    eof: bool = False,
    read_body: bool = True,
    config: trio_webkit.ServerConfig = CONFIG,
) -> Exchange:
    """Serve ``pieces`` (``pauses[i]`` mock seconds before piece ``i``) on a fresh connection.

    The handler records each request; with ``read_body`` it reads the body and
    echoes it, else it answers at once with an empty body and leaves the
    request body to the server (which drains it to keep the connection).
    """
    pauses = list(pauses) + [0.0] * (len(pieces) - len(pauses))
    return run_on_mock_clock(_exchange, list(pieces), pauses, eof, read_body, config)


async def _exchange(
    pieces: list[bytes],
    pauses: list[float],
    eof: bool,
    read_body: bool,
    config: trio_webkit.ServerConfig,
) -> Exchange:
    seen: list[Seen] = []

    async def handler(request: trio_webkit.Request) -> trio_webkit.Response:
        record = Seen(request.method, request.target, request.http_version, None)
        seen.append(record)
        if not read_body:
            return trio_webkit.Response(200)
        body = await request.read()  # a bad body raises: the server answers for it
        seen[-1] = attrs.evolve(record, body=body)
        return trio_webkit.Response(200, body=body)

    client, server = trio.testing.memory_stream_pair()
    start = trio.current_time()
    ended = start

    async def serve() -> None:
        nonlocal ended
        with trio.fail_after(time_bound(config, sum(pauses))):
            try:
                await serve_connection(server, handler, config)
            finally:
                await trio.aclose_forcefully(server)
        ended = trio.current_time()

    async def send() -> None:
        try:
            for piece, pause in zip(pieces, pauses, strict=True):
                if pause:
                    await trio.sleep(pause)
                if piece:
                    await client.send_all(piece)
            if eof:
                await client.send_eof()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the server closed first: what it answered is still read

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        nursery.start_soon(send)
        received = await read_until_closed(client)
    return Exchange(received, seen, ended - start)
