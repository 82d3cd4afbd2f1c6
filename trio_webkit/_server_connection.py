"""One connection, served by one task: the HTTP/1.1 keep-alive loop.

(Longer than our other modules on purpose: it is one state machine, and its
parts — head, body, handler, send — share the connection's state.)

Theory of operation
-------------------
:func:`serve_connection` runs in exactly one task and returns when the
connection is done; it never starts a task except a response's producer,
whose nursery lives inside one response. Its phases and the limit of each:

* **idle** (waiting for the first byte of a request): ``header_timeout`` on a
  new connection, ``keepalive_timeout`` between requests. The connection's
  scope is in ``ServerState.idle_scopes`` meanwhile, so that
  :meth:`Server.shutdown` can close idle connections at once. Expiry closes
  silently.
* **head** (first byte seen, head incomplete): ``header_timeout`` in total
  from the first byte (the slowloris defence); expiry answers 408.
* **handler**: no limit of ours (a handler that wants one uses a cancel
  scope). Reading the body arms ``body_timeout`` around each wait for a
  chunk (inactivity) and sends ``100 Continue`` first if the client waits
  for it; expiry cancels the handler and answers 408.
* **send**: every write under ``send_timeout``; expiry aborts the
  connection, cancelling the response's producer with it.

All of them are one cancel scope per connection, armed at the line that
waits through a timer (see :mod:`._deadlines` for why and how).

h11 parses every byte the peer sends, one fresh ``h11.Connection`` per
request fed with what the previous one left unparsed (pipelining); the
response head is written by :mod:`._framing`; :mod:`._request_checks` and
:mod:`._chunk_checks` reject what h11 tolerates but a stricter peer would
frame differently. A connection is reused only
when the request body was read to the end and both sides allowed it.

A bodyless head that h11 parsed and the checks accepted is kept in the
server's :class:`~._head_cache.HeadCache`: the same bytes again reuse that
parse, which is exactly what parsing them again would give.

Bad input raises :class:`Reject` before a response started: it is answered
with its status and ``Connection: close``, then the connection lingers
briefly (half-closed, draining input) so that the client reads the answer
instead of a reset. Once response bytes went out, any failure aborts the
connection: a truncated body, never a short success. A handler exception is
answered 500 and logged here with its traceback; transport errors mean the
client went away and end the task quietly. ``trio.Cancelled`` always passes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

import h11
import trio

from ._chunk_checks import ChunkFramingCheck
from ._config import ServerConfig
from ._deadlines import ScopeTimer, Timekeeper, WatchedTimer
from ._errors import IncompleteBody, ProtocolError
from ._framing import Framing, ResponsePlan, plan_response
from ._head_cache import KnownHead
from ._headers import Headers
from ._request import Request
from ._request_checks import (
    head_error_status,
    head_problem,
    head_size_status,
    host_ok,
    served_version,
    skip_empty_lines,
    target_form_ok,
)
from ._response import Response
from ._response_sender import (
    TRANSPORT_ERRORS,
    ClientGone,
    Reject,
    error_response,
    send_error_and_linger,
    send_streamed,
)
from ._server_state import ServerState

Handler = Callable[[Request], Awaitable[Response]]

log = logging.getLogger("trio_webkit.server")
access_log = logging.getLogger("trio_webkit.access")

RECEIVE_SIZE = 65536
#: A request body the handler left unread is drained up to this size to keep
#: the connection; a larger remainder closes it instead.
DRAIN_BYTES = 64 * 1024
#: Bytes bodies up to this size leave in the same write as the head.
COALESCE_BYTES = 65536

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_NEED_DATA = h11.NEED_DATA


async def _no_body() -> bytes:
    return b""


async def serve_connection(
    stream: trio.abc.Stream,
    handler: Handler,
    config: ServerConfig | None = None,
    *,
    state: ServerState | None = None,
    timekeeper: Timekeeper | None = None,
    client: tuple[str, int] | None = None,
    scheme: str = "http",
) -> None:
    """Serve HTTP/1.1 requests on ``stream`` until the connection ends.

    This is the whole protocol side of the server, usable on any
    :class:`trio.abc.Stream` (tests drive it over memory streams). It does
    not close ``stream``: the caller owns it. Without a ``timekeeper`` the
    timeouts are enforced by trio's own deadlines.

    Args:
        stream: the connection, already accepted.
        handler: ``async def handler(request) -> Response``.
        config: limits and timeouts (default :class:`ServerConfig`).
        state: counters and the shutdown signal shared with a server.
        timekeeper: the server's deadline task, if one runs.
        client: the peer's ``(host, port)``, for ``Request.client``.
        scheme: ``"http"`` or ``"https"``, for ``Request.scheme``.
    """
    config = config or ServerConfig()
    state = state or ServerState(config.server_header)
    connection = _Connection(stream, handler, config, state, client, scheme)
    await connection.run(timekeeper)


class _Connection:
    def __init__(
        self,
        stream: trio.abc.Stream,
        handler: Handler,
        config: ServerConfig,
        state: ServerState,
        client: tuple[str, int] | None,
        scheme: str,
    ) -> None:
        self.stream = stream
        self.handler = handler
        self.config = config
        self.state = state
        self.client = client
        self.scheme = scheme
        self.parser: h11.Connection  # a fresh one per parsed head, see _parse_head
        self.head_source = b""  # every byte received for this head
        self.carry = b""  # a lone CR kept back until its LF shows it was an empty line
        self.peer_closed = False  # the parser has seen EOF
        self.first_request = True
        self.known_head: KnownHead | None = None  # this request's, when from the cache
        self.scope = trio.CancelScope()
        self.timer: ScopeTimer | WatchedTimer = ScopeTimer(self.scope)
        self._reset_request_state()

    def _new_parser(self) -> h11.Connection:
        return h11.Connection(h11.SERVER, max_incomplete_event_size=self.config.max_header_bytes)

    def _reset_request_state(self) -> None:
        self.body_expected = False  # the request announced a body
        self.body_bytes = 0
        self.reading_body = False
        self.body_failure: Reject | None = None  # the body was bad: answer this
        self.chunk_check: ChunkFramingCheck | None = None  # for a chunked body
        self.sent_continue = False
        self.response_started = False  # response bytes went out: abort on failure

    # -- the keep-alive loop ---------------------------------------------
    async def run(self, timekeeper: Timekeeper | None) -> None:
        if timekeeper is not None:
            self.timer = timekeeper.timer(self.scope)
        reject: Reject | None = None
        try:
            with self.scope:
                try:
                    while await self._serve_one():
                        self._start_next_request()
                except Reject as error:
                    reject = error
                except ClientGone:
                    pass
        finally:
            self.timer.close()
        if self.scope.cancelled_caught:
            reject = self._timed_out()
        if reject is not None:
            await send_error_and_linger(self.stream, reject, self.config, self.state, self.client)

    def _timed_out(self) -> Reject | None:
        """What to answer now that the timer expired in its phase."""
        phase = self.timer.phase
        if phase == "head":
            return Reject(408, "the request head did not arrive in time")
        if phase == "body" and not self.response_started:
            return Reject(408, "the request body stalled")
        return None  # idle: close quietly; send or mid-response: abort

    def _start_next_request(self) -> None:
        if self.known_head is not None:
            leftover, closed = self.head_source[len(self.known_head.raw) :], self.peer_closed
        else:
            leftover, closed = self.parser.trailing_data
        leftover = skip_empty_lines(leftover)
        if leftover == b"\r" and not closed:  # maybe an empty line whose LF is late
            self.carry, leftover = leftover, b""
        self.head_source = leftover
        self.peer_closed = closed
        self.first_request = False
        self._reset_request_state()

    async def _serve_one(self) -> bool:
        """Serve one request; return whether the connection may be reused."""
        head = await self._receive_head()
        if head is None:
            return False
        request = Request(
            head.method,
            head.target,
            headers=Headers._from_wire(head.event.headers),
            http_version=head.version,
            client=self.client,
            scheme=self.scheme,
            body=self._receive_body_chunk if self.body_expected else _no_body,
        )
        keep_alive = head.keep_alive
        state = self.state
        state.requests_active += 1
        try:
            try:
                response = await self.handler(request)
            except Exception as error:
                response = self._handler_failed(request, error)
            if self.body_failure is not None or type(response) is not Response:
                response = self._checked_response(request, response)
            if state.draining:
                keep_alive = False
            plan = self._plan(request, response, keep_alive)
            body = response.body
            if plan.framing is Framing.NONE:
                self.response_started = True
                await self._send(plan.head)
            elif type(body) is bytes:
                self.response_started = True
                if len(body) <= COALESCE_BYTES:
                    await self._send(plan.head + body)
                else:
                    await self._send(plan.head)
                    await self._send(body)
            else:
                await self._send_streamed(request, response, plan)
            state.requests_served += 1
            if self.config.access_log and access_log.isEnabledFor(logging.INFO):
                self._log_access(request, response.status, plan)
        finally:
            state.requests_active -= 1
        return plan.keep_alive and (not self.body_expected or await self._finish_request_body())

    # -- receiving the head ----------------------------------------------
    async def _receive_head(self) -> KnownHead | None:
        """The next request's head, parsed and checked; None to close quietly."""
        # Nothing buffered and no EOF seen: the parser could only say NEED_DATA.
        if not self.head_source and not self.peer_closed and not await self._wait_for_request():
            return None
        known = self.known_head = self.state.heads.find(self.head_source)
        if known is not None:
            self.timer.arm("handler", None)
            return known
        event = self._parse_head()
        if event is _NEED_DATA:
            event = await self._read_rest_of_head()
        self.timer.arm("handler", None)
        if type(event) is h11.Request:
            return self._accept_head(event)
        if type(event) is h11.ConnectionClosed:
            return None
        raise Reject(400, f"unexpected {type(event).__name__}")

    def _parse_head(self) -> Any:
        """A fresh parser fed with what arrived so far; its first event."""
        self.parser = parser = self._new_parser()
        if self.head_source:
            parser.receive_data(self.head_source)
        if self.peer_closed:
            parser.receive_data(b"")
        return self._next_event()

    async def _wait_for_request(self) -> bool:
        """Idle: wait for the first byte of a request; False to close quietly."""
        state = self.state
        if state.draining:
            return False
        config = self.config
        self.timer.arm(
            "idle", config.header_timeout if self.first_request else config.keepalive_timeout
        )
        idle = state.idle_scopes
        idle.add(self.scope)
        try:
            data = await self._first_bytes_of_request()
        except ClientGone:
            return False
        finally:
            idle.discard(self.scope)
        self.head_source = data
        self.peer_closed = not data
        return True

    async def _first_bytes_of_request(self) -> bytes:
        """Received bytes, empty lines before the request line skipped (RFC 9112 §2.2).

        A CR whose LF has not arrived yet (``self.carry``) waits for it, so
        that how the bytes were split never changes the answer. ``b""``: EOF.
        """
        data, self.carry = self.carry, b""
        while True:
            data = skip_empty_lines(data)
            if data and data != b"\r":
                return data
            more = await self._receive()
            if not more:
                return b""  # the client left between requests (a lone CR is no request)
            data += more

    async def _read_rest_of_head(self) -> Any:
        """The head is incomplete: from now on it has ``header_timeout``."""
        self.timer.arm("head", self.config.header_timeout)
        while (event := self._next_event()) is _NEED_DATA:
            data = await self._receive()
            self.head_source += data
            self.parser.receive_data(data)
        return event

    def _next_event(self) -> Any:
        try:
            return self.parser.next_event()
        except h11.RemoteProtocolError as error:
            raise Reject(self._status_for(error), str(error)) from None

    def _status_for(self, error: h11.RemoteProtocolError) -> int:
        status = error.error_status_hint
        if self.reading_body:  # a bad chunk header, or an oversized one
            return 400 if status == 431 else status
        return head_error_status(self.head_source, status, self.config.max_body_bytes)

    async def _receive(self) -> bytes:
        try:
            data = await self.stream.receive_some(RECEIVE_SIZE)
        except TRANSPORT_ERRORS as error:
            raise ClientGone from error
        return cast(bytes, data)  # a bytearray from some streams: h11 takes either

    def _accept_head(self, event: h11.Request) -> KnownHead:
        """Check what h11 leaves to us; remember a bodyless head for a repeat."""
        version = served_version(event.http_version)
        if version is None:
            raise Reject(505, "only HTTP/1.x is supported")
        target = event.target
        if not target_form_ok(event.method, target):
            raise Reject(400, "invalid request target")
        keep_alive = version == "1.1"
        has_length = chunked = False
        host: bytes | None = None
        for name, value in event.headers:  # names lower-cased by h11
            if name == b"content-length":
                has_length = True
                self.body_expected = value != b"0"
                limit = self.config.max_body_bytes
                if limit is not None and int(value) > limit:
                    raise Reject(413, f"the request body is larger than {limit} bytes")
            elif name == b"transfer-encoding":
                chunked = self.body_expected = True
            elif name == b"connection" and b"close" in value.lower():
                keep_alive = False
            elif name == b"host":
                host = value
        if has_length and chunked:
            raise Reject(400, "both Content-Length and Transfer-Encoding")
        if chunked and version == "1.0":
            raise Reject(400, "Transfer-Encoding in an HTTP/1.0 request")
        if host is None and version == "1.1":  # h11 checks only an exact "HTTP/1.1"
            raise Reject(400, "missing Host")
        if host is not None and not host_ok(host):
            raise Reject(400, "invalid Host")
        source = self.head_source
        unparsed = self.parser.trailing_data[0]
        head = source[: len(source) - len(unparsed)]
        limit = self.config.max_header_bytes
        if len(head) > limit:  # h11 limits only heads that arrive in pieces
            raise Reject(head_size_status(head, limit), "the request head is too large")
        problem = head_problem(head, has_length)
        if problem is not None:
            raise Reject(400, problem)
        if chunked:
            self.chunk_check = ChunkFramingCheck(unparsed)
        accepted = KnownHead(head, event, version, keep_alive)
        # No Content-Length or Transfer-Encoding: no body. SEND_BODY, not the
        # state after a CONNECT or an Upgrade header, which h11 pauses at.
        bodyless = not (has_length or chunked) and self.parser.their_state is h11.SEND_BODY
        if bodyless:
            self.state.heads.add(accepted)
        return accepted

    # -- receiving the body ----------------------------------------------
    async def _receive_body_chunk(self) -> bytes:
        """The next request body chunk for the handler, ``b""`` at its end.

        A bad body is remembered (the connection answers its status whatever
        the handler does) and raised to the handler as a ProtocolError.
        """
        if self.body_failure is None:
            try:
                return await self._next_body_chunk()
            except Reject as reject:
                self.body_failure = reject
        failure = self.body_failure
        closed = self.parser.trailing_data[1]
        error_type = IncompleteBody if failure.status == 400 and closed else ProtocolError
        raise error_type(failure.detail, phase="request body")

    async def _next_body_chunk(self) -> bytes:
        self.reading_body = True
        if self.parser.they_are_waiting_for_100_continue and not self.sent_continue:
            self.sent_continue = True
            await self._send(_CONTINUE)
            self.timer.arm("handler", None)
        check = self.chunk_check
        while True:
            event = self._next_event()
            if type(event) is h11.Data:
                if check is not None:
                    if problem := check.data(event):
                        raise Reject(400, problem)
                    self._check_body_size(check.announced)  # a huge chunk: 413 now
                return self._count_body(event.data)
            if event is not _NEED_DATA:
                if check is not None and (problem := check.end(self.parser.trailing_data[0])):
                    raise Reject(400, problem)
                # EndOfMessage; or PAUSED after a request with an Upgrade header
                # (we never switch protocols, the body has ended all the same).
                return b""
            self.timer.arm("body", self.config.body_timeout)
            data = await self._receive()
            self.timer.arm("handler", None)
            self.parser.receive_data(data)
            if check is not None:
                check.received(data)

    def _count_body(self, data: bytes) -> bytes:
        self.body_bytes += len(data)
        self._check_body_size(self.body_bytes)
        return data

    def _check_body_size(self, size: int) -> None:
        limit = self.config.max_body_bytes
        if limit is not None and size > limit:
            raise Reject(413, f"the request body is larger than {limit} bytes")

    async def _finish_request_body(self) -> bool:
        """Drain a body the handler left unread, if small; False to close."""
        state = self.parser.their_state
        if state is not h11.SEND_BODY:  # DONE, or paused after a request with Upgrade
            return state is not h11.ERROR
        if self.parser.they_are_waiting_for_100_continue and not self.sent_continue:
            return False  # the client may or may not send the body now: close
        drained = 0
        try:
            while drained <= DRAIN_BYTES:
                chunk = await self._receive_body_chunk()
                if not chunk:
                    return True
                drained += len(chunk)
        except ProtocolError:
            pass
        return False

    # -- the handler -----------------------------------------------------
    def _handler_failed(self, request: Request, error: Exception) -> Response:
        """The handler raised: answer 500, or what the bad body or transport says."""
        if isinstance(error, ClientGone):
            raise error
        if self.body_failure is not None:  # the client's fault, not the handler's
            raise self.body_failure from None
        log.error("handler failed on %s %s", request.method, request.target, exc_info=error)
        return error_response(500)

    def _checked_response(self, request: Request, response: object) -> Response:
        """A bad request body overrides the handler's answer; a non-Response is a 500."""
        if self.body_failure is not None:
            raise self.body_failure
        if type(response) is not Response:
            log.error("handler for %s %s returned %r", request.method, request.target, response)
            return error_response(500)
        return response

    def _plan(self, request: Request, response: Response, keep_alive: bool) -> ResponsePlan:
        state = self.state
        try:
            return plan_response(
                response,
                method=request.method,
                http_version=request.http_version,
                keep_alive=keep_alive,
                date=state.date.current(),
                server=state.server_header,
            )
        except ValueError as error:
            log.error(
                "cannot send the response to %s %s: %s", request.method, request.target, error
            )
            raise Reject(500, "the handler's response is invalid") from None

    # -- sending ---------------------------------------------------------
    async def _send(self, data: bytes) -> None:
        """Write under ``send_timeout``; the deadline stays armed afterwards:
        a caller with more to do than wait for the next request re-arms."""
        self.timer.arm("send", self.config.send_timeout)
        try:
            await self.stream.send_all(data)
        except TRANSPORT_ERRORS as error:
            raise ClientGone from error

    async def _send_streamed(
        self, request: Request, response: Response, plan: ResponsePlan
    ) -> None:
        try:
            await send_streamed(self, response, plan)
        except (ClientGone, Reject):
            raise
        except Exception as error:  # the body's source failed (an ExceptionGroup from a producer)
            log.error(
                "response body of %s %s failed", request.method, request.target, exc_info=error
            )
            if self.response_started:
                raise ClientGone from error  # abort: the client sees a truncated body
            raise Reject(500, "the response body failed") from error

    def _log_access(self, request: Request, status: int, plan: ResponsePlan) -> None:
        access_log.info(
            '%s "%s %s HTTP/%s" %d %s',
            self.client[0] if self.client else "-",
            request.method,
            request.target,
            request.http_version,
            status,
            "-" if plan.content_length is None else plan.content_length,
        )
