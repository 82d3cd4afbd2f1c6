"""ThreadBatch: concurrent callers share worker-thread trips, each gets its own answer.

The blocking function is held in its thread by a :class:`threading.Event`
while the test queues more callers, so what shares a trip is decided by
the test, not by timing.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import trio
import trio.testing

from trio_webkit.apps._thread_batch import ThreadBatch


class Recorder:
    """A blocking function that records each trip's thread and can be held."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.release.set()
        self.calls: list[tuple[int, int]] = []  # (argument, thread ident)

    def __call__(self, argument: int) -> int:
        self.release.wait(timeout=10)
        self.calls.append((argument, threading.get_ident()))
        if argument < 0:
            raise ValueError(f"negative: {argument}")
        return argument * 10

    def hold(self) -> None:
        self.release.clear()


def trip_sizes(batch: ThreadBatch[int, int]) -> list[int]:
    """The number of calls in each trip ``batch`` makes from now on."""
    sizes: list[int] = []
    run_all = batch._run_all

    def counted(calls: list[Any]) -> None:
        sizes.append(len(calls))
        run_all(calls)

    batch._run_all = counted  # type: ignore[method-assign]
    return sizes


async def run_into(batch: ThreadBatch[int, int], argument: int, answers: dict[int, object]) -> None:
    try:
        answers[argument] = await batch.run(argument)
    except ValueError as error:
        answers[argument] = error


async def test_one_call_runs_in_a_worker_thread() -> None:
    recorder = Recorder()
    batch = ThreadBatch(recorder)
    assert await batch.run(4) == 40
    assert recorder.calls[0][1] != threading.get_ident()


async def queue_behind_a_held_trip(
    batch: ThreadBatch[int, int], recorder: Recorder, first: int, rest: list[int]
) -> dict[int, object]:
    """Call ``first`` (its trip held in the thread), queue ``rest`` behind it, let go: answers."""
    answers: dict[int, object] = {}
    recorder.hold()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_into, batch, first, answers)
        await trio.testing.wait_all_tasks_blocked()  # ``first`` is out on its trip, held
        for argument in rest:
            nursery.start_soon(run_into, batch, argument, answers)
        await trio.testing.wait_all_tasks_blocked()
        assert recorder.calls == []  # nothing ran while the trip was held
        recorder.release.set()
    return answers


async def test_callers_queued_during_a_trip_share_the_next_one() -> None:
    recorder = Recorder()
    batch = ThreadBatch(recorder)
    trips = trip_sizes(batch)
    answers = await queue_behind_a_held_trip(batch, recorder, 0, [1, 2, 3, 4, 5])
    assert answers == {n: n * 10 for n in range(6)}
    assert trips == [1, 5]


async def test_an_error_goes_to_its_own_caller_only() -> None:
    recorder = Recorder()
    answers = await queue_behind_a_held_trip(ThreadBatch(recorder), recorder, 1, [2, -3, 4])
    assert answers[1] == 10 and answers[2] == 20 and answers[4] == 40
    assert isinstance(answers[-3], ValueError) and str(answers[-3]) == "negative: -3"


async def test_a_trip_takes_at_most_max_batch_calls() -> None:
    recorder = Recorder()
    batch = ThreadBatch(recorder, max_batch=3)
    trips = trip_sizes(batch)
    answers = await queue_behind_a_held_trip(batch, recorder, 0, list(range(1, 8)))
    assert answers == {n: n * 10 for n in range(8)}
    assert trips == [1, 3, 3, 1]


async def test_a_cancelled_queued_caller_leaves_and_the_rest_are_answered() -> None:
    recorder = Recorder()
    batch = ThreadBatch(recorder)
    answers: dict[int, object] = {}
    recorder.hold()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_into, batch, 1, answers)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(run_into, batch, 7, answers)
        quitter = trio.CancelScope()

        async def cancelled_caller() -> None:
            with quitter:
                await batch.run(2)

        nursery.start_soon(cancelled_caller)
        nursery.start_soon(run_into, batch, 3, answers)
        await trio.testing.wait_all_tasks_blocked()
        quitter.cancel()
        await trio.testing.wait_all_tasks_blocked()
        recorder.release.set()
    assert answers == {1: 10, 7: 70, 3: 30}
    assert 2 not in [argument for argument, _ in recorder.calls]


async def test_the_next_leader_cancelled_before_its_trip_hands_the_lead_on() -> None:
    """The caller woken to lead is cancelled before its trip: the one after it leads."""
    recorder = Recorder()
    batch = ThreadBatch(recorder)
    answers: dict[int, object] = {}
    trips = trip_sizes(batch)
    next_leader = trio.CancelScope()

    async def first() -> None:
        answers[1] = await batch.run(1)
        next_leader.cancel()  # 2 has just been woken to lead, and has not run yet

    async def woken_then_cancelled() -> None:
        with next_leader:
            await batch.run(2)

    recorder.hold()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(first)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(woken_then_cancelled)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(run_into, batch, 3, answers)
        await trio.testing.wait_all_tasks_blocked()
        recorder.release.set()
    assert next_leader.cancelled_caught
    assert answers == {1: 10, 3: 30}
    assert trips == [1, 1]  # 3 alone: 2 never ran
    assert batch._queue == [] and not batch._trip_out


async def test_a_leader_cancelled_during_its_trip_still_answers_the_others() -> None:
    recorder = Recorder()
    batch = ThreadBatch(recorder)
    answers: dict[int, object] = {}
    recorder.hold()
    async with trio.open_nursery() as nursery:
        leader_scope = trio.CancelScope()

        async def leader() -> None:
            with leader_scope:
                answers[1] = await batch.run(1)

        nursery.start_soon(leader)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(run_into, batch, 2, answers)
        await trio.testing.wait_all_tasks_blocked()
        leader_scope.cancel()  # the trip is out: it finishes, then the leader sees the cancel
        await trio.testing.wait_all_tasks_blocked()
        recorder.release.set()
    assert answers[2] == 20
    assert batch._queue == []


async def test_nothing_is_left_behind_after_a_burst() -> None:
    batch = ThreadBatch(lambda n: n + 1)
    results: list[int] = []

    async def call(n: int) -> None:
        results.append(await batch.run(n))

    async with trio.open_nursery() as nursery:
        for n in range(200):
            nursery.start_soon(call, n)
    assert sorted(results) == list(range(1, 201))
    assert batch._queue == [] and not batch._trip_out
    assert await batch.run(5) == 6  # and the next caller leads at once


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        ThreadBatch(int, max_batch=0)
