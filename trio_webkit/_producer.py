"""Producers: body sources that run as a task and push chunks into a channel.

Theory of operation: a producer is ``async def producer(send)``. Whoever
consumes the body (the server writing a response, the client writing an
upload) calls :func:`open_producer`, which opens a nursery *scoped to that one
body*, starts the producer in it with the send end of a bounded memory
channel, and hands back the receive end. The consumer writes each chunk to
the network before taking the next, so a slow peer fills the channel and
parks the producer in ``send()``: backpressure, with at most ``buffer_size``
chunks waiting in memory. When the consumer stops early (peer gone, timeout,
HEAD) leaving the block cancels the producer; nothing outlives the body.

The channel's end-of-stream means "the producer is done". If it raised, the
error is kept and raised when the block exits, after the chunks it sent
before failing: so a consumer that finishes the framing (the final ``0``
chunk) only *after* the block can never turn a failed producer into a
short success, and a chunk already taken is never cut mid-write.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import trio

#: ``async def producer(send: trio.MemorySendChannel[bytes]) -> None``
Producer = Callable[[trio.MemorySendChannel[bytes]], Awaitable[None]]

#: Chunks that may wait in the channel between producer and consumer.
DEFAULT_BUFFER = 1


@asynccontextmanager
async def open_producer(
    producer: Producer, buffer_size: int = DEFAULT_BUFFER
) -> AsyncIterator[trio.MemoryReceiveChannel[bytes]]:
    """Run ``producer`` in a nursery of its own; yield the channel it fills.

    Resource handling: the producer task lives exactly as long as the
    ``async with`` block; leaving the block early cancels it.

    Error handling: an exception the producer raises ends the channel (the
    chunks it sent before still arrive, in order) and is raised, as it is,
    when the block exits; it never interrupts the consumer mid-write. An
    exception raised inside the block (including ``trio.Cancelled``) wins
    and propagates as it is.
    """
    send, receive = trio.open_memory_channel[bytes](buffer_size)
    consumer_error: BaseException | None = None
    producer_errors: list[Exception] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_run_producer, producer, send, producer_errors)
        try:
            yield receive
        except BaseException as exc:
            # Kept out of the nursery so the caller sees its own exception
            # unwrapped (no ExceptionGroup around a timeout it raised itself).
            consumer_error = exc
        # Done, early or not: a producer still running has nobody to read it.
        # Cancel before closing the channel, so that a producer parked in
        # send() sees Cancelled (it was stopped) rather than an error of its own.
        nursery.cancel_scope.cancel()
        receive.close()
    if consumer_error is not None:
        raise consumer_error
    if producer_errors:
        raise producer_errors[0]


async def _run_producer(
    producer: Producer, send: trio.MemorySendChannel[bytes], errors: list[Exception]
) -> None:
    # Closed synchronously: ``async with`` can eat errors when cancelled (trio#746).
    with send:
        try:
            await producer(send)
        except Exception as error:  # handed to the consumer's side; Cancelled passes
            errors.append(error)
