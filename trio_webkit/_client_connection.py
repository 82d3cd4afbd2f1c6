"""One client HTTP/1.1 connection: h11 over a stream, one request at a time.

Theory of operation
-------------------
A :class:`ClientConnection` belongs either to the pool (idle) or to exactly
one request in progress. A request goes ``send_request`` (head, then the
body, each write under ``Timeout.write``), ``receive_head`` (skipping 1xx;
each wait under ``Timeout.read``), then ``receive_chunk`` until it returns
``b""``. ``read`` is inactivity: the limit restarts at every received
chunk; a total deadline is the caller's ``trio.fail_after``.

Every failure is converted here, once, into the error tree with the method,
URL and phase: h11's ``RemoteProtocolError`` → :class:`ProtocolError`; the
stream ending inside a body (h11 still in ``SEND_BODY``) →
:class:`IncompleteBody`, never a short success; a broken transport before
any response byte → :class:`ProtocolError` with ``.nothing_received`` set, which
the client retries once for idempotent requests on a reused connection.

``reusable()`` is true only when both sides finished the exchange cleanly;
the pool then calls ``start_next_cycle``. Anything else closes it.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Any, TypeVar

import h11
import trio

from ._errors import HTTPError, IncompleteBody, ProtocolError, ReadTimeout, WriteTimeout
from ._timeouts import Timeout, phase_limit
from ._urls import URL

RECEIVE_SIZE = 65536
MAX_RESPONSE_HEAD = 65536
#: 1xx responses skipped before the final one; more is a server in a loop.
MAX_INTERIM_RESPONSES = 20
_TRANSPORT_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError)
E = TypeVar("E", bound=HTTPError)


class ConnectionLost(ProtocolError):
    """The connection broke before any byte of the response arrived."""


class ClientConnection:
    """An HTTP/1.1 connection to one origin, used by one request at a time."""

    def __init__(self, stream: trio.abc.Stream, origin: tuple[str, str, int]) -> None:
        self.stream = stream
        self.origin = origin
        self.parser = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_RESPONSE_HEAD)
        self.requests = 0  # requests started on this connection
        self.idle_since = trio.current_time()
        self._context: dict[str, Any] = {}
        self._received_any = False

    # -- one exchange ------------------------------------------------------
    def start(self, method: str, url: URL) -> None:
        """Begin an exchange: error messages will name ``method`` and ``url``."""
        self.requests += 1
        self._context = {"method": method, "url": str(url)}
        self._received_any = False
        self._body_received = 0
        self._body_expected: int | None = None

    async def send_request(
        self,
        request: h11.Request,
        body: bytes | AsyncIterable[bytes] | None,
        limits: Timeout,
        *,
        expect_continue: bool = False,
    ) -> h11.Response | None:
        """Send the head and the body.

        With ``expect_continue`` the body waits for ``100 Continue`` (or one
        second of silence, as curl does); a final response that arrives
        instead is returned and the body is not sent.
        """
        head = self.parser.send(request)
        if isinstance(body, bytes | None) and not (expect_continue and body):
            await self._send(self._whole_body(head, body or b""), limits)
            return None
        await self._send(head, limits)
        if expect_continue and body:
            early = await self._await_continue(limits)
            if early is not None:
                return early
        if isinstance(body, bytes):
            await self._send(self.parser.send(h11.Data(data=body)), limits)
        elif body is not None:
            async for chunk in body:
                if chunk:
                    await self._send(self.parser.send(h11.Data(data=chunk)), limits)
        await self._send(self.parser.send(h11.EndOfMessage()), limits)
        return None

    def _whole_body(self, head: bytes | None, body: bytes) -> bytes:
        """Head, body and end of a small request as one write (one syscall)."""
        parts = [head or b""]
        if body:
            parts.append(self.parser.send(h11.Data(data=body)) or b"")
        parts.append(self.parser.send(h11.EndOfMessage()) or b"")
        return b"".join(parts)

    async def _await_continue(self, limits: Timeout) -> h11.Response | None:
        with trio.move_on_after(1.0):
            event = await self._next_event(limits)
            if isinstance(event, h11.Response):
                return event
        return None  # 100 Continue, or the server stayed silent: send the body

    async def receive_head(self, limits: Timeout) -> h11.Response:
        """The final response head (1xx interim responses are skipped, a few)."""
        for _ in range(MAX_INTERIM_RESPONSES + 1):
            event = await self._next_event(limits)
            if not isinstance(event, (h11.Response, h11.InformationalResponse)):
                raise self._error(ProtocolError, f"unexpected {type(event).__name__}", "read")
            if event.http_version[:2] != b"1.":  # h11 takes any d.d; RFC 9110 §2.5
                message = f"unsupported HTTP version {event.http_version.decode()}"
                raise self._error(ProtocolError, message, "read")
            if isinstance(event, h11.Response):
                for name, value in event.headers:
                    if name == b"content-length":
                        self._body_expected = int(value)
                return event
        # Each interim response is activity, so the read timeout would never end this.
        message = f"more than {MAX_INTERIM_RESPONSES} interim (1xx) responses"
        raise self._error(ProtocolError, message, "read")

    async def receive_chunk(self, limits: Timeout) -> bytes:
        """The next piece of the response body, ``b""`` at its end."""
        event = await self._next_event(limits)
        if isinstance(event, h11.Data):
            self._body_received += len(event.data)
            return bytes(event.data)
        if isinstance(event, h11.EndOfMessage):
            return b""
        raise self._error(ProtocolError, f"unexpected {type(event).__name__}", "read")

    async def _next_event(self, limits: Timeout) -> Any:
        parser = self.parser
        while True:
            state = parser.their_state  # h11 moves to ERROR when it raises
            try:
                event = parser.next_event()
            except h11.RemoteProtocolError as error:
                # Cut short only if the server closed; otherwise it sent garbage.
                cut_short = state if parser.trailing_data[1] else h11.ERROR
                raise self._protocol_error(str(error), state=cut_short) from error
            if event is not h11.NEED_DATA:
                if isinstance(event, h11.ConnectionClosed):
                    raise self._protocol_error("the server closed the connection")
                return event
            data = await self._receive(limits)
            parser.receive_data(data)

    async def _receive(self, limits: Timeout) -> bytes:
        def message() -> str:
            return f"no data for {limits.read}s while reading the response"

        with phase_limit(limits.read, ReadTimeout, message, phase="read", **self._context):
            try:
                data = await self.stream.receive_some(RECEIVE_SIZE)
            except _TRANSPORT_ERRORS as error:
                raise self._protocol_error(f"the connection broke: {error}") from error
        if data:
            self._received_any = True
        return bytes(data)

    async def _send(self, data: bytes | None, limits: Timeout) -> None:
        if not data:
            return

        def message() -> str:
            return f"the server accepted no data for {limits.write}s"

        with phase_limit(limits.write, WriteTimeout, message, phase="write", **self._context):
            try:
                await self.stream.send_all(data)
            except _TRANSPORT_ERRORS as error:
                raise self._protocol_error(f"the connection broke: {error}", "write") from error

    def _protocol_error(
        self, message: str, phase: str = "read", *, state: object = None
    ) -> ProtocolError:
        if not self._received_any:
            return self._error(ConnectionLost, f"no response: {message}", phase)
        if (state or self.parser.their_state) is h11.SEND_BODY:
            received, expected = self._body_received, self._body_expected
            of = f" of {expected}" if expected is not None else ""
            return IncompleteBody(
                f"the response body was cut short after {received}{of} bytes: {message}",
                received=received,
                expected=expected,
                phase=phase,
                **self._context,
            )
        return self._error(ProtocolError, message, phase)

    def _error(self, kind: type[E], message: str, phase: str) -> E:
        return kind(message, phase=phase, **self._context)

    # -- reuse -------------------------------------------------------------
    def reusable(self) -> bool:
        """Start the next cycle if this exchange ended cleanly; False if it did not."""
        parser = self.parser
        if parser.our_state is h11.DONE and parser.their_state is h11.DONE:
            if parser.trailing_data[0]:
                return False  # bytes past the response's end: the server is out of step
            parser.start_next_cycle()
            self.idle_since = trio.current_time()
            return True
        return False

    def looks_closed(self) -> bool:
        """An idle connection with something to read was closed by the server (or is broken)."""
        stream = self.stream
        while isinstance(stream, trio.SSLStream):
            stream = stream.transport_stream
        sock = getattr(stream, "socket", None)
        return sock is not None and bool(sock.is_readable())

    async def aclose(self) -> None:
        """Close the connection (forcefully: nobody waits for a polite goodbye)."""
        await trio.aclose_forcefully(self.stream)
