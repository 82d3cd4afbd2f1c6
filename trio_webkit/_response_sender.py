"""Sending what is not a small bytes body: streamed bodies and error answers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable
from typing import TYPE_CHECKING, Protocol

import trio

from ._config import ServerConfig
from ._framing import Framing, ResponsePlan, plan_response
from ._producer import open_producer
from ._response import Response, reason_phrase
from ._server_state import ServerState

if TYPE_CHECKING:
    from ._deadlines import ScopeTimer, WatchedTimer

log = logging.getLogger("trio_webkit.server")

#: After an error answer: how long, and how much, unread input is drained.
LINGER_SECONDS = 2.0
LINGER_BYTES = 256 * 1024

#: What a stream raises when the peer is gone (or we closed it).
TRANSPORT_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError)


class Reject(Exception):
    """The request cannot be served: answer ``status`` and close."""

    def __init__(self, status: int, detail: str = "") -> None:
        super().__init__(status, detail)
        self.status = status
        self.detail = detail


class ClientGone(Exception):
    """The transport broke or a write timed out: nothing more can be said."""


class _Sink(Protocol):
    """The part of a server connection a streamed body is written to."""

    response_started: bool
    timer: ScopeTimer | WatchedTimer

    async def _send(self, data: bytes) -> None: ...


async def send_streamed(sink: _Sink, response: Response, plan: ResponsePlan) -> None:
    """Send a producer's or an async iterable's body with ``plan``'s framing.

    The head leaves with the first chunk, so a producer that fails before
    producing anything can still be answered with a 500.
    """
    writer = _ChunkWriter(sink, plan)
    if response.producer is not None:
        async with open_producer(response.producer) as chunks:
            await writer.write_all(chunks)
    else:
        body = response.body
        assert body is not None and not isinstance(body, bytes)
        try:
            await writer.write_all(body)
        finally:
            aclose = getattr(body, "aclose", None)
            if aclose is not None:  # an async generator: run its cleanup now
                await aclose()
    await writer.finish()


class _ChunkWriter:
    def __init__(self, sink: _Sink, plan: ResponsePlan) -> None:
        self.sink = sink
        self.plan = plan
        self.pending_head: bytes | None = plan.head
        self.sent = 0

    async def write_all(self, chunks: AsyncIterable[bytes]) -> None:
        async for chunk in chunks:
            if chunk:  # an empty chunk would end a chunked body
                await self._write_chunk(chunk)

    async def _write_chunk(self, chunk: bytes) -> None:
        self.sent += len(chunk)
        if self.plan.framing is Framing.CHUNKED:
            await self._write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
            return
        limit = self.plan.content_length
        if limit is not None and self.sent > limit:
            raise RuntimeError(f"the body is longer than its Content-Length {limit}")
        await self._write(chunk)

    async def finish(self) -> None:
        framing, expected = self.plan.framing, self.plan.content_length
        if framing is Framing.CHUNKED:
            await self._write(b"0\r\n\r\n")
        elif framing is Framing.LENGTH and self.sent != expected:
            raise RuntimeError(f"the body ended after {self.sent} of its {expected} bytes")
        elif self.pending_head is not None:
            await self._write(b"")

    async def _write(self, data: bytes) -> None:
        if self.pending_head is not None:
            data, self.pending_head = self.pending_head + data, None
            self.sink.response_started = True
        await self.sink._send(data)
        self.sink.timer.arm("handler", None)  # the producer may take its time


async def send_error_and_linger(
    stream: trio.abc.Stream,
    reject: Reject,
    config: ServerConfig,
    state: ServerState,
    client: tuple[str, int] | None,
) -> None:
    """Answer a rejected request, then linger so the client reads the answer.

    Runs after the connection's own scope, under scopes of its own: closing
    a socket with unread input makes the kernel send a reset, which can
    destroy the answer before the client reads it.
    """
    if reject.status >= 500:
        log.warning("answering %d to %s: %s", reject.status, client, reject.detail)
    plan = plan_response(
        error_response(reject.status),
        method="GET",
        http_version="1.1",
        keep_alive=False,
        date=state.date.current(),
        server=state.server_header,
    )
    limit = config.send_timeout
    with trio.move_on_after(float("inf") if limit is None else limit) as sending:
        try:
            await stream.send_all(plan.head + _error_body(reject.status))
        except TRANSPORT_ERRORS:
            return
    if not sending.cancelled_caught:
        await _linger(stream)


async def _linger(stream: trio.abc.Stream) -> None:
    with trio.move_on_after(LINGER_SECONDS):
        try:
            if isinstance(stream, trio.abc.HalfCloseableStream):
                await stream.send_eof()
            received = 0
            while received < LINGER_BYTES and (data := await stream.receive_some()):
                received += len(data)
        except (*TRANSPORT_ERRORS, trio.BusyResourceError):
            pass


def _error_body(status: int) -> bytes:
    return f"{status} {reason_phrase(status)}\n".encode()


def error_response(status: int) -> Response:
    """A short plain-text response for ``status``."""
    return Response(status, [("Content-Type", "text/plain; charset=utf-8")], _error_body(status))
