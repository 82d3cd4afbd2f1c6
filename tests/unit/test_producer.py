"""open_producer: a producer task scoped to one body, behind a bounded channel.

* Chunks arrive in the order the producer sent them, then the channel ends.
* Backpressure: when nobody reads, the producer is parked in ``send()`` with
  at most ``buffer_size`` chunks waiting in the channel.
* Leaving the block early cancels the producer (its ``finally`` runs and it
  sees ``trio.Cancelled``); nothing outlives the block.
* A producer's exception propagates from the block's exit inside an
  ``ExceptionGroup`` (the nursery's); an exception raised inside the block
  propagates as it is, never wrapped.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from trio_webkit._producer import DEFAULT_BUFFER, open_producer


class Probe:
    """Records what a producer did."""

    def __init__(self) -> None:
        self.sent = 0
        self.cancelled = False
        self.finished = False
        self.finally_ran = False


def endless(probe: Probe):  # type: ignore[no-untyped-def]
    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        try:
            while True:
                await send.send(b"chunk %d" % probe.sent)
                probe.sent += 1
        except trio.Cancelled:
            probe.cancelled = True
            raise
        finally:
            probe.finally_ran = True

    return producer


async def test_chunks_arrive_in_order() -> None:
    expected = [b"chunk %d" % i for i in range(20)]

    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        for chunk in expected:
            await send.send(chunk)

    async with open_producer(producer) as chunks:
        received = [chunk async for chunk in chunks]
    assert received == expected


async def test_empty_producer_ends_the_channel() -> None:
    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        return

    async with open_producer(producer) as chunks:
        assert [chunk async for chunk in chunks] == []


async def test_channel_ends_when_the_producer_returns() -> None:
    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        await send.send(b"only")

    async with open_producer(producer) as chunks:
        assert await chunks.receive() == b"only"
        with pytest.raises(trio.EndOfChannel):
            await chunks.receive()


def test_default_buffer_is_small() -> None:
    assert 1 <= DEFAULT_BUFFER <= 16


@pytest.mark.parametrize("buffer_size", [1, 3, 8])
async def test_producer_is_parked_when_nobody_reads(buffer_size: int) -> None:
    probe = Probe()
    async with open_producer(endless(probe), buffer_size=buffer_size) as chunks:
        await trio.testing.wait_all_tasks_blocked()
        stats = chunks.statistics()
        assert stats.current_buffer_used == buffer_size
        assert stats.max_buffer_size == buffer_size
        assert stats.tasks_waiting_send == 1
        assert probe.sent == buffer_size

        # Each chunk read lets exactly one more in.
        for read in range(1, 4):
            assert await chunks.receive() == b"chunk %d" % (read - 1)
            await trio.testing.wait_all_tasks_blocked()
            assert probe.sent == buffer_size + read
            assert chunks.statistics().current_buffer_used == buffer_size
            assert chunks.statistics().tasks_waiting_send == 1
    assert probe.cancelled


async def test_default_buffer_bounds_chunks_in_flight() -> None:
    probe = Probe()
    async with open_producer(endless(probe)) as chunks:
        await trio.testing.wait_all_tasks_blocked()
        assert chunks.statistics().current_buffer_used == DEFAULT_BUFFER
        assert probe.sent == DEFAULT_BUFFER


async def test_leaving_early_cancels_the_producer() -> None:
    probe = Probe()
    async with open_producer(endless(probe)) as chunks:
        assert await chunks.receive() == b"chunk 0"
    assert probe.cancelled
    assert probe.finally_ran


async def test_leaving_without_reading_cancels_the_producer() -> None:
    probe = Probe()
    async with open_producer(endless(probe)):
        await trio.testing.wait_all_tasks_blocked()
    assert probe.cancelled
    assert probe.finally_ran


async def test_producer_cancelled_while_not_in_send() -> None:
    # A producer busy elsewhere (e.g. reading a file) is cancelled too.
    state = Probe()

    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        try:
            await send.send(b"first")
            await trio.sleep_forever()
        except trio.Cancelled:
            state.cancelled = True
            raise
        finally:
            state.finally_ran = True

    with trio.fail_after(5):
        async with open_producer(producer) as chunks:
            assert await chunks.receive() == b"first"
            await trio.testing.wait_all_tasks_blocked()
    assert state.cancelled
    assert state.finally_ran


async def test_no_task_outlives_the_block() -> None:
    probe = Probe()
    me = trio.lowlevel.current_task()
    before = len(me.child_nurseries)
    async with open_producer(endless(probe)) as chunks:
        assert len(me.child_nurseries) == before + 1
        await chunks.receive()
    assert probe.finally_ran
    assert len(me.child_nurseries) == before
    sent = probe.sent
    await trio.lowlevel.checkpoint()
    assert probe.sent == sent


class ProducerFailed(Exception):
    pass


async def test_producer_exception_propagates_after_its_chunks() -> None:
    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        await send.send(b"a")
        raise ProducerFailed("disk gone")

    received: list[bytes] = []
    with pytest.raises(ProducerFailed, match="disk gone"):  # as it is, not in a group
        async with open_producer(producer) as chunks:
            async for chunk in chunks:
                received.append(chunk)
    assert received == [b"a"]  # what it sent before failing still arrives


async def test_producer_failing_before_any_chunk() -> None:
    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        raise ProducerFailed("at once")

    received: list[bytes] = []
    with pytest.raises(ProducerFailed):
        async with open_producer(producer) as chunks:
            async for chunk in chunks:
                received.append(chunk)
    assert received == []


async def test_producer_failure_is_not_hidden_by_a_clean_block_exit() -> None:
    # The consumer sees the channel end and leaves normally: the failure must
    # still surface, so a failed body is never mistaken for a complete one.
    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        await send.send(b"partial")
        raise ProducerFailed("half way")

    with pytest.raises(ProducerFailed):
        async with open_producer(producer) as chunks:
            with trio.CancelScope(shield=True):
                while True:
                    try:
                        await chunks.receive()
                    except trio.EndOfChannel:
                        break


class ConsumerFailed(Exception):
    pass


@pytest.mark.parametrize("read_first", [False, True])
async def test_exception_inside_the_block_propagates_unwrapped(read_first: bool) -> None:
    probe = Probe()
    with pytest.raises(ConsumerFailed) as info:
        async with open_producer(endless(probe)) as chunks:
            if read_first:
                await chunks.receive()
            await trio.testing.wait_all_tasks_blocked()
            raise ConsumerFailed("peer gone")
    assert type(info.value) is ConsumerFailed
    assert str(info.value) == "peer gone"
    assert probe.cancelled
    assert probe.finally_ran


async def test_outer_cancellation_passes_through() -> None:
    probe = Probe()
    with trio.CancelScope() as scope:
        async with open_producer(endless(probe)) as chunks:
            await chunks.receive()
            scope.cancel()
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert probe.cancelled
    assert probe.finally_ran


async def test_outer_deadline_passes_through(autojump_clock: trio.testing.MockClock) -> None:
    probe = Probe()
    with trio.move_on_after(10) as scope:
        async with open_producer(endless(probe)) as chunks:
            await chunks.receive()
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert probe.finally_ran


async def test_fail_after_raises_too_slow_error_unwrapped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    probe = Probe()
    with pytest.raises(trio.TooSlowError):
        with trio.fail_after(10):
            async with open_producer(endless(probe)) as chunks:
                await chunks.receive()
                await trio.sleep_forever()
    assert probe.finally_ran
