"""One client HTTP/1.1 connection: h11 over a stream, one request at a time.

Theory of operation
-------------------
A :class:`ClientConnection` belongs either to the pool (idle) or to exactly
one request in progress. A request goes ``send_request`` (head, then the
body, each write under ``Timeout.write``), ``receive_head`` (skipping 1xx;
each wait under ``Timeout.read``), then reads :meth:`ClientConnection.body`
to its end. ``exchange`` does the first two for the common request (no
body, or bytes, and no ``Expect``). ``read`` is inactivity: the limit
restarts at every received chunk; a total deadline is the caller's
``trio.fail_after``.

Every failure is converted here, once, into the error tree with the method,
URL and phase: h11's ``RemoteProtocolError`` → :class:`ProtocolError`; the
stream ending inside a body (h11 still in ``SEND_BODY``) →
:class:`IncompleteBody`, never a short success; a broken transport before
any response byte → :class:`ProtocolError` with ``.nothing_received`` set, which
the client retries once for idempotent requests on a reused connection.

``reusable()`` is true only when both sides finished the exchange cleanly;
the pool then calls ``start_next_cycle``. Anything else closes it.

A response h11 already parsed is not parsed again (:mod:`._response_cache`
says why that is exact): ``exchange`` watches its request and the response's
first receive, and either replays the events h11 gave for those very bytes
before (then ``reusable()`` starts the next cycle with a fresh parser, once
the replay was read to its end) or records h11's events, kept at
``reusable()`` if h11 completed the exchange cleanly from that one receive.

(Longer than most modules: the timeouts, the socket fast paths and the
replay all serve the one exchange, and read best next to it.)

Timeouts, and what they cost
----------------------------
Every wait on the peer is limited by a :class:`trio.CancelScope` around that
one ``await``: ``write`` around each send, ``read`` around each receive (so
it limits inactivity, not the total), no scope at all for a phase whose
limit is ``None``. After h11 itself, scopes and trio's per-call socket
bookkeeping are the largest costs of a small request, so a wait that cannot
happen gets no scope:

* the body is read one receive per chunk, each under its own scope, except
  that a receive on a plain TCP socket that already has data (or EOF)
  waiting gets none: trio's socket receive only waits when there is
  nothing to read, so that scope could never expire (a poll is far cheaper
  than a scope, and a download is mostly such receives);
* the request of :meth:`ClientConnection.exchange` is written straight to a
  plain TCP socket, which takes a small request whole without waiting;
  only what it cannot take at once is sent under the ``write`` scope;
* waiting for the response head on a plain TCP socket waits for
  readability first and then reads (the answer is never there the moment
  the request left), under the ``read`` scope.

A limit of 0, which fails even a wait that would not happen, always gets
its scope.

A plain :class:`trio.SocketStream` is used through its socket, skipping the
stream's per-call bookkeeping (a generator-based context manager that only
translates ``OSError``) and, for those two steps, the trio socket's too (a
failed receive before every wait, and a trip through the scheduler after
every send: trio's socket calls are each a checkpoint, and the wait for the
response already is one; a caller already cancelled still sends nothing).
The connection takes the stream's file descriptor over into a standard
socket of its own when it is created (:func:`~._connect.own_socket`), and
translates ``OSError`` itself, to the very errors the stream would have
raised (:func:`~._connect.stream_error`). Any other stream (TLS, memory
streams in tests) is used through the :class:`trio.abc.Stream` interface.

Error context (method, URL) is kept as two attributes and only turned into
a message when an error is raised.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import Any, TypeVar, cast

import h11
import trio

from ._connect import own_socket, readability_check, stream_error
from ._errors import HTTPError, IncompleteBody, ProtocolError, ReadTimeout, WriteTimeout
from ._response_cache import MAX_RECEIVED, MAX_SENT, ResponseCache
from ._timeouts import Timeout

RECEIVE_SIZE = 65536
MAX_RESPONSE_HEAD = 65536
#: 1xx responses skipped before the final one; more is a server in a loop.
MAX_INTERIM_RESPONSES = 20
_TRANSPORT_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError)
#: Events are immutable; the end of a request body needs no new one each time.
_END_OF_MESSAGE = h11.EndOfMessage()
E = TypeVar("E", bound=HTTPError)


class ConnectionLost(ProtocolError):
    """The connection broke before any byte of the response arrived."""


def _new_parser() -> h11.Connection:
    """h11 for a client connection at the start of its first cycle."""
    return h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_RESPONSE_HEAD)


class ClientConnection:
    """An HTTP/1.1 connection to one origin, used by one request at a time."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        origin: tuple[str, str, int],
        responses: ResponseCache | None = None,
    ) -> None:
        self.stream = stream
        self.origin = origin
        self.parser = _new_parser()
        self.requests = 0  # requests started on this connection
        self.idle_since = trio.current_time()
        self._method: str | None = None
        self._url: str | None = None
        self._received_any = False
        self._body_received = 0
        self._head: h11.Response | None = None  # the final response head, once received
        self._interim = 0  # 1xx responses skipped in this exchange
        # Responses h11 parsed before (see _response_cache): while an exchange is
        # watched, what it sent, its first receive and h11's events; or the
        # known events being replayed instead of parsing that receive again.
        self._responses = responses
        self._sent: bytes | None = None
        self._received: bytes | None = None
        self._events: list[Any] = []
        self._replay: Iterator[Any] | None = None
        # A plain TCP stream: used through its sockets (see the module docstring).
        self._own: socket.socket | None = None
        self._plain: trio.socket.SocketType | None = None
        if type(stream) is trio.SocketStream:
            self.stream, self._own = own_socket(stream)
            self._plain = self.stream.socket
        transport = self.stream
        while isinstance(transport, trio.SSLStream):
            transport = transport.transport_stream
        sock = self._own or getattr(transport, "socket", None)
        self._readable = None if sock is None else readability_check(sock)

    # -- one exchange ------------------------------------------------------
    def start(self, method: str, url: object) -> None:
        """Begin an exchange: error messages will name ``method`` and ``url``."""
        self.requests += 1
        self._method = method
        self._url = url if isinstance(url, str) else str(url)
        self._received_any = False
        self._body_received = 0
        self._head = None
        self._interim = 0
        self._sent = None
        self._received = None
        self._replay = None

    async def exchange(
        self, request: h11.Request, body: bytes | None, limits: Timeout
    ) -> h11.Response:
        """Send a request with no body or a bytes one, and receive the final response head.

        What ``send_request`` then ``receive_head`` do (for a request without
        ``Expect: 100-continue``); on a plain TCP socket the request is
        written straight to it (see the module docstring).
        """
        sent = data = self._whole_body(self.parser.send(request), body)
        own = self._own
        if own is not None and limits.write != 0:
            await trio.lowlevel.checkpoint_if_cancelled()  # as the socket's send would
            data = self._send_now(own, data)
        await self._send(data, limits)  # what the socket could not take at once
        if self._responses is not None and len(sent) <= MAX_SENT:
            self._sent = sent  # watch this exchange: its response may be known
            self._events.clear()
        return await self.receive_head(limits)

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
        parser = self.parser
        head = parser.send(request)
        if body is None or (isinstance(body, bytes) and not (expect_continue and body)):
            await self._send(self._whole_body(head, body), limits)
            return None
        await self._send(head, limits)
        if expect_continue and body:
            early = await self._await_continue(limits)
            if early is not None:
                return early
        if isinstance(body, bytes):
            await self._send(parser.send(h11.Data(data=body)), limits)
        else:
            async for chunk in body:
                if chunk:
                    await self._send(parser.send(h11.Data(data=chunk)), limits)
        await self._send(parser.send(_END_OF_MESSAGE), limits)
        return None

    def _whole_body(self, head: bytes | None, body: bytes | None) -> bytes:
        """Head, body and end of a small request as one write (one syscall)."""
        parser = self.parser
        if not body:
            end = parser.send(_END_OF_MESSAGE)
            return head + end if head and end else head or end or b""
        parts = [head or b"", parser.send(h11.Data(data=body)) or b""]
        parts.append(parser.send(_END_OF_MESSAGE) or b"")
        return b"".join(parts)

    async def _await_continue(self, limits: Timeout) -> h11.Response | None:
        with trio.move_on_after(1.0):
            event = await self._next_event(limits)
            if isinstance(event, h11.Response):
                return event
        return None  # 100 Continue, or the server stayed silent: send the body

    async def receive_head(self, limits: Timeout) -> h11.Response:
        """The final response head (1xx interim responses are skipped, a few)."""
        while self._interim <= MAX_INTERIM_RESPONSES:
            event = await self._next_event(limits)
            if not isinstance(event, (h11.Response, h11.InformationalResponse)):
                raise self._error(ProtocolError, f"unexpected {type(event).__name__}", "read")
            if event.http_version[:2] != b"1.":  # h11 takes any d.d; RFC 9110 §2.5
                message = f"unsupported HTTP version {event.http_version.decode()}"
                raise self._error(ProtocolError, message, "read")
            if isinstance(event, h11.Response):
                self._head = event
                return event
            self._interim += 1
        # Each interim response is activity, so the read timeout would never end this.
        message = f"more than {MAX_INTERIM_RESPONSES} interim (1xx) responses"
        raise self._error(ProtocolError, message, "read")

    def body(self, limits: Timeout) -> ResponseBody:
        """The body of the response whose head :meth:`receive_head` returned."""
        return ResponseBody(self, limits)

    async def _next_event(self, limits: Timeout) -> Any:
        replay = self._replay
        if replay is not None:
            return next(replay)
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
                if type(event) is h11.ConnectionClosed:
                    raise self._protocol_error("the server closed the connection")
                if self._sent is not None:
                    self._events.append(event)
                return event
            data = await self._receive(limits)
            if self._sent is not None:
                replay = self._recall(data)
                if replay is not None:
                    return next(replay)
            # h11 copies what it is given into its buffer: a bytearray is fine.
            parser.receive_data(cast(bytes, data))

    def _recall(self, data: bytes | bytearray) -> Iterator[Any] | None:
        """In a watched exchange: h11's events for ``data`` if it parsed it before.

        They are replayed instead of parsing ``data`` again. Only the first
        receive can be looked up; a second one means the response was
        split (and a large one that it is too large): this exchange will
        not be remembered.
        """
        if self._received is not None or len(data) > MAX_RECEIVED:
            self._sent = None
            return None
        received = data if type(data) is bytes else bytes(data)
        assert self._sent is not None and self._responses is not None
        events = self._responses.find(self._sent, received)
        if events is None:
            self._received = received
            return None
        self._sent = None
        self._replay = replay = iter(events)
        return replay

    async def _receive(self, limits: Timeout) -> bytes | bytearray:
        seconds = limits.read
        own = self._own
        data: bytes | bytearray
        if own is not None and self._head is None and seconds != 0:
            # Awaiting a response head, which is not there yet: wait, then read.
            data = await self._wait_and_receive(own, seconds)
        elif seconds is None or (seconds > 0 and self._ready()):
            # No limit, or data (or EOF) already waiting: this receive cannot wait.
            data = await self._receive_some()
        else:
            # A scope per receive: ``read`` limits each silence, not the total.
            with trio.CancelScope(relative_deadline=seconds) as scope:
                data = await self._receive_some()
            if scope.cancelled_caught:
                message = f"no data for {seconds}s while reading the response"
                raise self._error(ReadTimeout, message, "read")
        if data:
            self._received_any = True
        return data

    async def _send(self, data: bytes | None, limits: Timeout) -> None:
        if not data:
            return
        seconds = limits.write
        if seconds is None:
            await self._send_all(data)
            return
        with trio.CancelScope(relative_deadline=seconds) as scope:
            await self._send_all(data)
        if scope.cancelled_caught:
            message = f"the server accepted no data for {seconds}s"
            raise self._error(WriteTimeout, message, "write")

    # -- the transport -----------------------------------------------------
    async def _receive_some(self) -> bytes | bytearray:
        """One receive (no time limit of its own); a broken transport raises ProtocolError."""
        try:
            plain = self._plain
            if plain is None:
                return await self.stream.receive_some(RECEIVE_SIZE)
            try:
                return await plain.recv(RECEIVE_SIZE)
            except OSError as error:
                raise stream_error(error)  # noqa: B904 -- chained as trio chains it
        except _TRANSPORT_ERRORS as error:
            raise self._protocol_error(f"the connection broke: {error}") from error

    async def _send_all(self, data: bytes) -> None:
        """Send all of ``data`` (no time limit of its own); a broken transport: ProtocolError."""
        try:
            plain = self._plain
            if plain is None:
                await self.stream.send_all(data)
                return
            try:
                with memoryview(data) as view:
                    sent = 0
                    while sent < len(view):
                        with view[sent:] as rest:
                            sent += await plain.send(rest)
            except OSError as error:
                raise stream_error(error)  # noqa: B904 -- chained as trio chains it
        except _TRANSPORT_ERRORS as error:
            raise self._protocol_error(f"the connection broke: {error}", "write") from error

    def _send_now(self, own: socket.socket, data: bytes) -> bytes:
        """Write what the socket takes without waiting; return the rest."""
        if not data:
            return data
        try:
            sent = own.send(data)
        except BlockingIOError:
            return data
        except OSError as error:
            raise self._transport_failure(error, "write")  # noqa: B904 -- cause set there
        return data[sent:]

    async def _wait_and_receive(self, own: socket.socket, seconds: float | None) -> bytes:
        """Wait until the socket is readable (each wait at most ``seconds``), then read it."""
        while True:
            if not await self._wait_readable(own, seconds):
                message = f"no data for {seconds}s while reading the response"
                raise self._error(ReadTimeout, message, "read")
            try:
                return own.recv(RECEIVE_SIZE)
            except BlockingIOError:
                continue  # woken for nothing: wait again
            except OSError as error:
                raise self._transport_failure(error, "read")  # noqa: B904 -- cause set there

    async def _wait_readable(self, own: socket.socket, seconds: float | None) -> bool:
        """Wait for data or EOF on ``own``, at most ``seconds``: False if that ran out."""
        try:
            if seconds is None:
                await trio.lowlevel.wait_readable(own)
                return True
            with trio.CancelScope(relative_deadline=seconds) as scope:
                await trio.lowlevel.wait_readable(own)
        except (*_TRANSPORT_ERRORS, OSError) as error:  # closed under us
            raise self._transport_failure(error, "read")  # noqa: B904 -- cause set there
        return not scope.cancelled_caught

    def _transport_failure(
        self, error: OSError | trio.BrokenResourceError | trio.ClosedResourceError, phase: str
    ) -> ProtocolError:
        """A socket error, as the stream would have raised it, turned into ProtocolError."""
        if isinstance(error, OSError):
            error = stream_error(error)
        failure = self._protocol_error(f"the connection broke: {error}", phase)
        failure.__cause__ = error
        return failure

    def _ready(self) -> bool:
        """Whether a receive would return at once: data (or EOF) waits on a plain TCP socket.

        trio's socket receive only waits when the socket has nothing to
        read, so a scope around such a receive could never expire.
        """
        readable = self._readable
        return self._own is not None and readable is not None and bool(readable())

    def _protocol_error(
        self, message: str, phase: str = "read", *, state: object = None
    ) -> ProtocolError:
        if not self._received_any:
            return self._error(ConnectionLost, f"no response: {message}", phase)
        if (state or self.parser.their_state) is h11.SEND_BODY:
            received, expected = self._body_received, self._expected_length()
            of = f" of {expected}" if expected is not None else ""
            return IncompleteBody(
                f"the response body was cut short after {received}{of} bytes: {message}",
                received=received,
                expected=expected,
                phase=phase,
                method=self._method,
                url=self._url,
            )
        return self._error(ProtocolError, message, phase)

    def _expected_length(self) -> int | None:
        """The final response's Content-Length (for error messages), if it gave one."""
        expected = None
        if self._head is not None:
            for name, value in self._head.headers:
                if name == b"content-length":
                    expected = int(value)
        return expected

    def _error(self, kind: type[E], message: str, phase: str) -> E:
        return kind(message, phase=phase, method=self._method, url=self._url)

    # -- reuse -------------------------------------------------------------
    def reusable(self) -> bool:
        """Start the next cycle if this exchange ended cleanly; False if it did not."""
        replay = self._replay
        if replay is not None:
            self._replay = None
            if next(replay, None) is not None:
                return False  # the body was not read to its end
            # h11 would now be DONE on both sides with nothing buffered:
            # after start_next_cycle, that is a fresh parser.
            self.parser = _new_parser()
        else:
            parser = self.parser
            if parser.our_state is not h11.DONE or parser.their_state is not h11.DONE:
                return False
            if parser.trailing_data[0]:
                return False  # bytes past the response's end: the server is out of step
            if self._sent is not None and self._received is not None:
                assert self._responses is not None
                self._responses.add(self._sent, self._received, self._events, parser)
            parser.start_next_cycle()
        self.idle_since = trio.current_time()
        return True

    def looks_closed(self) -> bool:
        """An idle connection with something to read was closed by the server (or is broken)."""
        readable = self._readable
        return readable is not None and bool(readable())

    async def aclose(self) -> None:
        """Close the connection (forcefully: nobody waits for a polite goodbye)."""
        await trio.aclose_forcefully(self.stream)


class ResponseBody:
    """The body of the response in progress on a connection: iterate it once.

    Yields each piece of the body as h11 framed it (at most
    :data:`RECEIVE_SIZE` bytes), then stops at the end of the message; every
    wait for data is limited by ``Timeout.read``.
    """

    __slots__ = ("_connection", "_done", "_limits")

    def __init__(self, connection: ClientConnection, limits: Timeout) -> None:
        self._connection = connection
        self._limits = limits
        self._done = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def aclose(self) -> None:
        """Stop iterating (so ``contextlib.aclosing`` works); the connection is not reused."""
        self._done = True

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        connection = self._connection
        event = await connection._next_event(self._limits)
        if type(event) is h11.Data:
            data = event.data
            connection._body_received += len(data)
            return bytes(data)
        if type(event) is h11.EndOfMessage:
            self._done = True
            raise StopAsyncIteration
        raise connection._error(ProtocolError, f"unexpected {type(event).__name__}", "read")

    async def read_all(self) -> bytes:
        """The rest of the body, whole (what iterating and joining would give)."""
        chunks = []
        if not self._done:
            connection = self._connection
            while True:
                event = await connection._next_event(self._limits)
                if type(event) is h11.Data:
                    data = event.data
                    connection._body_received += len(data)
                    chunks.append(data)
                elif type(event) is h11.EndOfMessage:
                    self._done = True
                    break
                else:
                    message = f"unexpected {type(event).__name__}"
                    raise connection._error(ProtocolError, message, "read")
        return b"".join(chunks)
