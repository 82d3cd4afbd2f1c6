"""Blocking calls for concurrent callers, sharing worker-thread trips.

A trip to a worker thread (:func:`trio.to_thread.run_sync`) costs a few
tens of microseconds of handing over and waking up, more than a ``stat``,
an ``open`` and a small ``read`` together. A busy file server has many
requests waiting for their lookups at once, so :class:`ThreadBatch` lets
them share trips: while a trip is out, new calls queue; when it comes back,
the first caller in the queue becomes the next *leader* and takes every
queued call (up to ``max_batch``) to the thread in one trip.

No task is started for this: each leader is a caller, waiting for its own
result anyway, and the trip runs in that caller's task. A caller cancelled
while it waits leaves the queue (handing the lead on if it had it); a trip
once started cannot be cancelled (as with :func:`trio.to_thread.run_sync`),
so every call it took gets its answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar, cast, final

import trio

__all__ = ["ThreadBatch"]

A = TypeVar("A")
R = TypeVar("R")


@final
class _Call(Generic[A, R]):
    """One caller's argument, and its answer once a trip ran it."""

    __slots__ = ("argument", "done", "error", "lead", "ran", "result")

    def __init__(self, argument: A) -> None:
        self.argument = argument
        self.done = trio.Event()  # set when answered, or when this caller must lead
        self.lead = False
        self.ran = False
        self.result: R | None = None
        self.error: BaseException | None = None

    def answer(self) -> R:
        if self.error is not None:
            raise self.error
        return cast(R, self.result)  # set when ran without an error


@final
class ThreadBatch(Generic[A, R]):
    """Run ``function(argument)`` in a worker thread, one trip per batch of callers.

    Args:
        function: a blocking function of one argument; it runs in a worker
            thread, one call after another within a trip. An exception it
            raises goes to that call's caller only.
        max_batch: at most this many calls per trip, so that no caller
            waits behind an unbounded queue.
        limiter: the worker threads the trips may use (trio's default
            limiter when None).
    """

    def __init__(
        self,
        function: Callable[[A], R],
        *,
        max_batch: int = 64,
        limiter: trio.CapacityLimiter | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be positive, not {max_batch}")
        self._function = function
        self._max_batch = max_batch
        self._limiter = limiter
        self._queue: list[_Call[A, R]] = []
        self._trip_out = False  # a leader is running a trip, or is being woken to

    async def run(self, argument: A) -> R:
        """``function(argument)``, run in a worker thread with the calls queued beside it.

        Args:
            argument: passed to the function.

        Returns:
            What the function returned for ``argument``.

        Raises:
            BaseException: whatever the function raised for ``argument``;
                :class:`trio.Cancelled` if cancelled while queued.
        """
        call: _Call[A, R] = _Call(argument)
        self._queue.append(call)
        if self._trip_out:
            try:
                await call.done.wait()
            except BaseException:
                self._leave(call)
                raise
            if call.ran:
                return call.answer()
        self._trip_out = True
        await self._lead(call)
        return call.answer()

    async def _lead(self, own: _Call[A, R]) -> None:
        """Take ``own`` and the queue's oldest calls to the thread, then hand the lead on."""
        self._queue.remove(own)
        batch = [own, *self._queue[: self._max_batch - 1]]
        del self._queue[: len(batch) - 1]
        try:
            await trio.to_thread.run_sync(self._run_all, batch, limiter=self._limiter)
        finally:
            # Cancelled before the trip began: the others go back, first in line.
            self._queue[:0] = [call for call in batch[1:] if not call.ran]
            for call in batch[1:]:
                if call.ran:
                    call.done.set()
            self._hand_lead_on()

    def _run_all(self, batch: list[_Call[A, R]]) -> None:
        """In the worker thread: every call of the batch, each answer kept apart."""
        for call in batch:
            try:
                call.result = self._function(call.argument)
            except Exception as error:
                call.error = error
            call.ran = True

    def _hand_lead_on(self) -> None:
        if self._queue:
            following = self._queue[0]
            following.lead = True
            following.done.set()
        else:
            self._trip_out = False

    def _leave(self, call: _Call[A, R]) -> None:
        """A queued caller gives up (cancelled): out of the queue, its lead handed on.

        (A caller woken to lead is rescheduled, not cancelled, by that
        wake-up; the lead check only keeps a lost lead from stalling
        everyone if that ever changes.)
        """
        if call in self._queue:
            self._queue.remove(call)
        if call.lead and not call.ran:
            self._hand_lead_on()
