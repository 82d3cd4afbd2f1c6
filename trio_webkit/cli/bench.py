"""``trio-webkit bench``: an HTTP/1.1 load generator, bounded by a count or a duration.

Theory of operation
-------------------
``-c`` keep-alive connections, one task each, in one nursery, all under
one cancel scope with the ``-d`` deadline (or none with ``-n``): the test
stops by itself, and requests still in flight at the deadline are cancelled
and not counted (as wrk does). Ctrl-C stops it early and still reports.

*Closed loop* (the default): each task sends its next request as soon as
the previous response ended; a shared budget bounds the total with ``-n``.
*Open loop* (``--rate R``): a scheduler task hands out the times
``start + i/R`` through an unbuffered channel to whichever connection task
is free; latency is measured **from the scheduled time**, so a slow
server cannot hide its backlog by slowing the generator down (no
coordinated omission). At most ``-c`` requests are in flight.

Timeouts (``--timeout``) cost nothing per request: each connection notes
when its request began, and one watchdog task cancels the cancel scope of
any connection busy for too long (checked every quarter of the limit).

Each connection drives ``h11`` directly, the parser the library uses: a
prebuilt ``h11.Request``, one ``send`` per request, events until
``EndOfMessage``, over a non-blocking socket waited on with
:mod:`trio.lowlevel` (``trio.SSLStream`` for https). No pool, no header
objects, no per-request URL parsing or redirect logic, and it counts the
bytes on the wire as wrk does. A load test sends the same request again
and again, and servers mostly answer it with the same bytes: parsing
them was most of the CPU time, so the target keeps a
:class:`~trio_webkit._response_cache.ResponseCache`, and a response h11
already parsed for the same request bytes is replayed from it (h11 still
writes every request; that module explains why the replay is exact). A
keep-alive connection the server closed while idle is reopened and the
request retried once, not counted as an error.

Like wrk and hey, ``bench`` does not verify TLS certificates: it measures
a server, it does not trust it (and test servers are often self-signed).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import socket
import ssl
import time
from collections.abc import AsyncIterator, Sequence
from functools import partial
from typing import Any, Protocol

import attrs
import h11
import trio

from .._errors import HTTPError
from .._response_cache import Events, ResponseCache
from .._urls import URL, parse_url
from .._version import __version__
from ._serving import EXIT_FAILURE, EXIT_OK, positive_number, print_error
from ._stats import Recorder, Summary, render
from .get import header_argument, seconds_argument

_RECEIVE_SIZE = 65536
_DURATION = re.compile(r"(?P<number>[0-9]*\.?[0-9]+)(?P<unit>ms|s|m|h)?\Z")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}

_DESCRIPTION = """\
Send HTTP/1.1 GET requests to URL over CONNECTIONS keep-alive connections,
for -n REQUESTS or -d SECONDS (default: -d 5s), then print what wrk prints:
requests/s, transfer/s, latency (average, spread, p50/p75/p90/p99, max),
status counts, non-2xx-or-3xx responses and errors by kind. Errors are
counted, not fatal; if no request gets a response at all, the exit status
is 1. Ctrl-C stops the test early and still prints the report.

With --rate R, requests are sent at a constant rate (one every 1/R s,
whatever the responses do) and each latency counts from the moment its
request was due: a server that falls behind shows its real queueing delay.

Like wrk, bench does not verify TLS certificates (it measures servers,
often self-signed ones; it does not trust them).
"""

_EPILOG = """\
examples:
  trio-webkit bench http://127.0.0.1:8000/                 10 connections for 5 s
  trio-webkit bench -c 50 -d 30s http://127.0.0.1:8000/
  trio-webkit bench -n 1000 -c 4 --json http://127.0.0.1:8000/file
  trio-webkit bench --rate 500 -c 20 -d 10 http://127.0.0.1:8000/
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``bench`` command."""
    parser = commands.add_parser(
        "bench",
        help="load-test a URL and report requests/s and latency",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("url", metavar="URL", type=url_argument, help="an http or https URL")
    parser.add_argument(
        "-c",
        "--connections",
        metavar="N",
        type=positive_int,
        default=10,
        help="connections (and requests in flight) at most (default: %(default)s)",
    )
    bound = parser.add_mutually_exclusive_group()
    bound.add_argument(
        "-n", "--requests", metavar="N", type=positive_int, help="stop after N requests"
    )
    bound.add_argument(
        "-d",
        "--duration",
        metavar="SECONDS",
        type=duration_argument,
        help="stop after this long: 5, 2.5s, 500ms, 1m (default: 5s)",
    )
    parser.add_argument(
        "--rate",
        metavar="R",
        type=rate_argument,
        help="send R requests per second at fixed times; latency counts from those times",
    )
    parser.add_argument(
        "-H",
        "--header",
        dest="headers",
        metavar="'NAME: VALUE'",
        type=header_argument,
        action="append",
        default=[],
        help="add this header to every request (repeatable)",
    )
    parser.add_argument(
        "--timeout",
        metavar="S",
        type=seconds_argument,
        default=10.0,
        help="a request not answered within S seconds counts as a timeout (default: %(default)g)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of the text report"
    )
    parser.set_defaults(run=run)


# -- argument types ---------------------------------------------------------------


def url_argument(text: str) -> str:
    """argparse ``type=``: an http or https URL (checked, returned as given)."""
    try:
        parse_url(text)
    except HTTPError as error:
        raise argparse.ArgumentTypeError(error.message) from None
    return text


def positive_int(text: str) -> int:
    """argparse ``type=``: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return int(text)


def duration_argument(text: str) -> float:
    """argparse ``type=``: seconds above 0, with an optional unit (ms, s, m, h)."""
    match = _DURATION.match(text.strip())
    seconds = float(match["number"]) * _UNIT_SECONDS[match["unit"]] if match else 0.0
    if not (math.isfinite(seconds) and seconds > 0):
        raise argparse.ArgumentTypeError(
            f"expected a duration such as 5, 2.5s or 500ms, not {text!r}"
        )
    return seconds


#: argparse ``type=``: requests per second, above 0.
rate_argument = positive_number("requests per second")


# -- the command ------------------------------------------------------------------


@attrs.frozen
class Load:
    """One load test, as the options describe it."""

    url: URL
    connections: int
    requests: int | None  # None: until the duration ends
    duration: float | None  # None: until the requests are done
    rate: float | None
    timeout: float
    headers: Sequence[tuple[str, str]] = ()


def run(args: argparse.Namespace) -> int:
    """Run the load test; print the report; return the exit status."""
    requests: int | None = args.requests
    duration: float | None = args.duration
    if requests is None and duration is None:
        duration = 5.0
    load = Load(
        url=parse_url(args.url),
        connections=args.connections,
        requests=requests,
        duration=duration,
        rate=args.rate,
        timeout=args.timeout,
        headers=args.headers,
    )
    try:
        summary = trio.run(partial(run_load, load))
    except OSError as error:  # from resolving the host name
        print_error(f"cannot resolve {load.url.host}: {error.strerror or error}")
        return EXIT_FAILURE
    if args.json:
        report = {
            "url": str(load.url),
            "connections": load.connections,
            "rate": load.rate,
            **summary.as_json(),
        }
        print(json.dumps(report, indent=2))
    else:
        print(render(summary, title=_title(load), setup=_setup(load)), flush=True)
    if summary.requests == 0:
        if summary.error_count:
            print_error(f"every request to {load.url} failed ({summary.error_count} errors)")
        else:
            print_error(f"no response from {load.url} before the end of the test")
        return EXIT_FAILURE
    return EXIT_OK


def _title(load: Load) -> str:
    if load.requests is not None:
        return f"Running {load.requests} requests @ {load.url}"
    assert load.duration is not None
    return f"Running {load.duration:g}s test @ {load.url}"


def _setup(load: Load) -> str:
    setup = f"{load.connections} connections"
    if load.rate is not None:
        setup += f", constant rate {load.rate:g} requests/sec (latency from scheduled times)"
    return setup


async def run_load(load: Load) -> Summary:
    """Run ``load`` to its end (or until SIGINT); return what was measured.

    Raises:
        OSError: the URL's host name does not resolve.
    """
    target = await Target.resolve(load)
    recorder = Recorder()
    connections = [Connection(target) for _ in range(load.connections)]
    started = time.perf_counter()
    limit = math.inf if load.duration is None else load.duration
    with trio.open_signal_receiver(signal.SIGINT) as interrupts, trio.move_on_after(limit) as run:
        async with trio.open_nursery() as outer:
            outer.start_soon(_cancel_on_signal, interrupts, run)
            outer.start_soon(_watchdog, connections, load.timeout)
            async with trio.open_nursery() as nursery:
                if load.rate is None:
                    budget = Budget(load.requests)
                    for connection in connections:
                        nursery.start_soon(_closed_loop, connection, budget, recorder)
                else:
                    send, due_times = trio.open_memory_channel[float](0)
                    nursery.start_soon(_schedule, send, load.rate, load.requests, started)
                    async with due_times:
                        for connection in connections:
                            nursery.start_soon(_open_loop, connection, due_times.clone(), recorder)
            outer.cancel_scope.cancel()  # done by itself: stop the watchers
    return recorder.summary(time.perf_counter() - started)


async def _cancel_on_signal(signals: AsyncIterator[int], scope: trio.CancelScope) -> None:
    """Stop the test early on Ctrl-C (what was measured is still reported)."""
    await anext(signals)
    scope.cancel()


async def _watchdog(connections: Sequence[Connection], limit: float) -> None:
    """Cancel the request of any connection busy for more than ``limit`` seconds.

    One task checking every quarter of the limit (at most every 0.25 s), so
    that the hot loop pays nothing per request for its timeout: a request
    times out between ``limit`` and ``1.25 * limit`` seconds after it began.
    """
    period = min(limit / 4, 0.25)
    while True:
        await trio.sleep(period)
        too_old = time.perf_counter() - limit
        for connection in connections:
            if connection.busy_since is not None and connection.busy_since < too_old:
                connection.scope.cancel()


def request_head(load: Load) -> h11.Request:
    """The request every connection sends: GET, Host, User-Agent, Accept, then ``-H`` headers."""
    headers = [
        ("Host", load.url.host_header),
        ("User-Agent", f"trio-webkit-bench/{__version__}"),
        ("Accept", "*/*"),
    ]
    given = {name.lower() for name, _ in load.headers}
    headers = [(n, v) for n, v in headers if n.lower() not in given] + list(load.headers)
    return h11.Request(method="GET", target=load.url.target, headers=headers)


class Budget:
    """How many requests are left to start (``None``: no limit)."""

    def __init__(self, total: int | None) -> None:
        self.left = total

    def take(self) -> bool:
        """Take one request from the budget; False when none is left."""
        if self.left is None:
            return True
        if self.left <= 0:
            return False
        self.left -= 1
        return True


async def _closed_loop(connection: Connection, budget: Budget, recorder: Recorder) -> None:
    """Send requests back to back while the budget lasts.

    The requests run in the connection's cancel scope, which the watchdog
    cancels when one takes too long: that one counts as a timeout (unless
    it managed to end first), and a new scope takes over for the rest.
    """
    async with connection:
        while budget.left != 0:
            with connection.new_scope() as scope:
                while budget.take():
                    connection.busy_since = since = time.perf_counter()
                    await connection.request(recorder, since)
                    if scope.cancel_called:  # it ended just in time: not a timeout
                        break
            connection.busy_since = None
            if scope.cancelled_caught:
                recorder.error("timeout")
                await connection.close()


async def _schedule(
    send: trio.MemorySendChannel[float], rate: float, total: int | None, start: float
) -> None:
    """Hand out the due times ``start + i/rate`` (blocks while every connection is busy)."""
    async with send:
        index = 0
        while total is None or index < total:
            due = start + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await trio.sleep(delay)
            await send.send(due)
            index += 1


async def _open_loop(
    connection: Connection, due_times: trio.MemoryReceiveChannel[float], recorder: Recorder
) -> None:
    """A request for each due time received; its latency counts from the due time.

    Timeouts work as in :func:`_closed_loop` (counted from the actual send).
    """
    async with connection, due_times:
        finished = False
        while not finished:
            with connection.new_scope() as scope:
                async for due in due_times:
                    connection.busy_since = time.perf_counter()
                    await connection.request(recorder, due)
                    connection.busy_since = None
                    if scope.cancel_called:  # it ended just in time: not a timeout
                        break
                else:
                    finished = True
            connection.busy_since = None
            if scope.cancelled_caught:
                recorder.error("timeout")
                await connection.close()


# -- one connection ---------------------------------------------------------------


_END = h11.EndOfMessage()
_IO_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)
_CONNECT_ERRORS = (OSError, ssl.SSLError, trio.BrokenResourceError)


class _PeerClosed(Exception):
    """The server closed the connection before the response ended."""


class Transport(Protocol):
    """The byte stream a :class:`Connection` needs: :class:`PlainSocket` or ``trio.SSLStream``."""

    async def send_all(self, data: bytes) -> None:
        """Send all of ``data``."""

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        """Some bytes, or ``b""`` at end of stream."""

    async def aclose(self) -> None:
        """Close the stream."""


class PlainSocket:
    """A connected non-blocking TCP socket, driven with :mod:`trio.lowlevel` waits.

    What :class:`trio.SocketStream` does, minus its conflict detection and
    the extra checkpoints per call: for a load generator those are a fair
    part of the cost of a small request. Every :meth:`receive_some` is
    still a checkpoint: it always waits for readability first.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    @classmethod
    async def connect(cls, family: int, address: tuple[Any, ...]) -> PlainSocket:
        """Connect to ``address`` (raises OSError on failure)."""
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                sock.connect(address)
            except BlockingIOError:
                await trio.lowlevel.wait_writable(sock)
                error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if error:
                    raise OSError(error, os.strerror(error)) from None
        except BaseException:
            sock.close()
            raise
        return cls(sock)

    async def send_all(self, data: bytes) -> None:
        """Send all of ``data``, waiting while the socket's buffer is full."""
        sock = self.sock
        while data:
            try:
                sent = sock.send(data)
            except BlockingIOError:
                await trio.lowlevel.wait_writable(sock)
            else:
                data = data[sent:]

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Up to ``max_bytes`` bytes (``b""`` at end of stream), waiting for them.

        Waits *before* reading: right after a request the answer is never
        there yet, and a ``recv`` that fails with EAGAIN would be a wasted
        system call and exception per request.
        """
        sock = self.sock
        size = max_bytes or _RECEIVE_SIZE
        while True:
            await trio.lowlevel.wait_readable(sock)
            try:
                return sock.recv(size)
            except BlockingIOError:
                continue

    async def aclose(self) -> None:
        """Close the socket (waking any task waiting on it)."""
        trio.lowlevel.notify_closing(self.sock)
        self.sock.close()
        await trio.lowlevel.checkpoint()


@attrs.frozen
class Target:
    """Where every connection goes, resolved once, and what it sends."""

    url: URL
    request: h11.Request
    family: int
    address: tuple[Any, ...]
    ssl_context: ssl.SSLContext | None
    #: The responses h11 parsed, shared by every connection (see the module docstring).
    responses: ResponseCache = attrs.field(factory=ResponseCache, eq=False)

    @classmethod
    async def resolve(cls, load: Load) -> Target:
        """Resolve the URL's host (the first address is used, as wrk does)."""
        url = load.url
        infos = await trio.socket.getaddrinfo(url.host, url.port, type=socket.SOCK_STREAM)
        family, _, _, _, address = infos[0]
        return cls(url, request_head(load), family, address, _tls_context(url))

    async def connect(self) -> Transport:
        """A new connection (TLS handshake done for https); raises OSError and TLS errors."""
        plain = await PlainSocket.connect(self.family, self.address)
        if self.ssl_context is None:
            return plain
        stream = trio.SocketStream(trio.socket.from_stdlib_socket(plain.sock))
        tls = trio.SSLStream(stream, self.ssl_context, server_hostname=self.url.host)
        try:
            await tls.do_handshake()
        except BaseException:
            await trio.aclose_forcefully(tls)
            raise
        return tls


def _status(events: Events) -> int:
    """The status of the final response among h11's events."""
    return next(event.status_code for event in events if type(event) is h11.Response)


def _tls_context(url: URL) -> ssl.SSLContext | None:
    """For https: a client context that does not verify (see the module docstring)."""
    if url.scheme != "https":
        return None
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class Connection:
    """One keep-alive connection to the target, driven by h11; (re)opened when needed.

    Use ``async with`` to close it at the end.
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        self.stream: Transport | None = None
        self.sock: socket.socket | None = None  # the socket of a PlainSocket stream
        self.h11 = h11.Connection(h11.CLIENT)
        self.reused = False
        #: h11 holds bytes past the last response (a server out of step).
        self.leftover = False
        #: Bytes received for the request in progress (as on the wire).
        self.received = 0
        #: When the request in flight began (``None``: idle), for the watchdog.
        self.busy_since: float | None = None
        #: The scope the requests run in; the watchdog cancels it on a timeout.
        self.scope = trio.CancelScope()

    def new_scope(self) -> trio.CancelScope:
        """A fresh cancel scope for the next requests (a cancelled one stays cancelled)."""
        self.scope = trio.CancelScope()
        return self.scope

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        if self.stream is not None:
            stream, self.stream, self.sock = self.stream, None, None
            with trio.CancelScope(shield=True):
                await stream.aclose()

    async def request(self, recorder: Recorder, since: float) -> None:
        """Send the request, read the whole response; record it, or its error.

        The latency counts from ``since``. A keep-alive connection that the
        server closed while idle fails before any response byte: it is then
        reopened and the request retried once, not counted as an error. This
        is the hot loop of the load generator: no exception on success, no
        object but h11's per request, and a response h11 already parsed for
        the same request bytes is not parsed again.
        """
        may_retry = True
        while True:
            stream = self.stream
            if stream is None:
                try:
                    stream = await self._open()
                except _CONNECT_ERRORS:
                    recorder.error("connect")
                    return
            connection = self.h11
            reused = self.reused
            self.received = 0
            kind = "write"
            try:
                head = connection.send(self.target.request) or b""
                sent = head + (connection.send(_END) or b"")
                await stream.send_all(sent)
                kind = "read"
                if self.leftover:  # bytes past the last response: h11 reads those first
                    status = await self._parse(stream, sent, None)
                else:
                    data = await self._receive(stream)
                    known = self.target.responses.find(sent, data)
                    if known is not None:
                        self.h11 = h11.Connection(h11.CLIENT)  # start_next_cycle's state
                        self.reused = True
                        latency = time.perf_counter() - since
                        recorder.response(_status(known), latency, self.received)
                        return
                    connection.receive_data(data)
                    status = await self._parse(stream, sent, data)
            except (*_IO_ERRORS, h11.RemoteProtocolError, _PeerClosed):
                await self.close()
                if may_retry and reused and self.received == 0:
                    may_retry = False
                    continue
                recorder.error(kind)
                return
            if connection.our_state is h11.DONE and connection.their_state is h11.DONE:
                connection.start_next_cycle()
                self.reused = True
                self.leftover = bool(connection.trailing_data[0])
            else:
                await self.close()  # Connection: close, or HTTP/1.0
            recorder.response(status, time.perf_counter() - since, self.received)
            return

    async def _receive(self, stream: Transport) -> bytes:
        """The next bytes from the server (``b""`` at the end), counted in ``received``."""
        sock = self.sock
        if sock is None:
            data = bytes(await stream.receive_some(_RECEIVE_SIZE))
        else:
            while True:  # PlainSocket.receive_some, without a coroutine more per call
                await trio.lowlevel.wait_readable(sock)
                try:
                    data = sock.recv(_RECEIVE_SIZE)
                    break
                except BlockingIOError:
                    continue  # woken for nothing: wait again
        self.received += len(data)
        return data

    async def _parse(self, stream: Transport, sent: bytes, first: bytes | None) -> int:
        """Read the response to ``sent`` with h11; its status.

        ``first``: the bytes already received and given to h11 (``None``:
        none, h11 starts from what was left over). A response that came
        whole in ``first`` and ended cleanly is remembered for the next
        time the same bytes come back.
        """
        connection = self.h11
        status = 0
        events: list[Any] | None = None if first is None else []
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                events = None  # split over several receives: not remembered
                connection.receive_data(await self._receive(stream))
                continue
            if events is not None:
                events.append(event)
            if type(event) is h11.Response:
                status = event.status_code
            elif type(event) is h11.EndOfMessage:
                break
            elif type(event) is h11.ConnectionClosed:
                raise _PeerClosed
        if first is not None and events is not None:
            self.target.responses.add(sent, first, events, connection)
        return status

    async def _open(self) -> Transport:
        stream = await self.target.connect()
        self.stream = stream
        self.sock = stream.sock if isinstance(stream, PlainSocket) else None
        self.h11 = h11.Connection(h11.CLIENT)
        self.reused = False
        self.leftover = False
        return stream
