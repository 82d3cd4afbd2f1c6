"""Responses h11 already parsed, reused when an exchange repeats byte for byte.

Theory of operation
-------------------
h11 is a deterministic state machine: the events ``next_event`` returns and
the state it ends in depend only on the calls made on it. A client
connection starts every cycle in the same state (both sides ``IDLE``,
keep-alive, no protocol switch pending, nothing buffered): a fresh
``h11.Connection`` and one after ``start_next_cycle`` differ only in
``their_http_version``, which h11 reads only to write a *response*, never
on a client. So what h11 makes of a response is a function of two byte
strings: everything it wrote for the request (request line, every header,
body and end: the method and each header it acts on, such as
``Connection``, ``Expect``, ``Upgrade`` and the framing, are in them) and
what was fed to it afterwards.

An exchange is remembered as ``(sent, received) -> events`` when the whole
response came in one receive on a connection at the start of a cycle, h11
turned it into events ending with ``EndOfMessage``, and both sides ended
``DONE`` with nothing left over (:meth:`ResponseCache.add` checks the
parser). When the same request bytes get the same response bytes again, in
the first receive of an exchange at the start of a cycle, the remembered
events *are* what h11 would return, and the state it would reach after
``start_next_cycle`` is a fresh ``h11.Connection``: the caller replays the
events and goes on with a fresh parser. h11 still writes every request (its
state machine checks each one) and still parses every response it has not
seen; only parsing the same bytes again is saved.

Nothing else is kept: not a response cut short or split over several
receives, not ``Connection: close`` or HTTP/1.0 (not both ``DONE``), not
one followed by extra bytes, not large ones. The cache is bounded (entries
and bytes each), emptied when full, and belongs to one client (or one
``bench`` run): it holds only what that client sent and received.
"""

from __future__ import annotations

from collections.abc import Sequence

import h11

#: Requests (everything h11 wrote) larger than this are not remembered.
MAX_SENT = 2048
#: Responses (one receive) larger than this are not remembered.
MAX_RECEIVED = 4096
#: How many exchanges are kept: at most MAX_ENTRIES * (MAX_SENT + 2 * MAX_RECEIVED)
#: bytes (a response is kept as received and as h11's events), 640 KiB.
MAX_ENTRIES = 64

#: What a cached exchange gives back: h11's events, in order, ending with EndOfMessage.
Events = tuple[h11.Event, ...]


class ResponseCache:
    """Exchanges h11 completed cleanly, by the exact bytes sent and received."""

    __slots__ = ("_events",)

    def __init__(self) -> None:
        self._events: dict[tuple[bytes, bytes], Events] = {}

    def find(self, sent: bytes, received: bytes) -> Events | None:
        """h11's events for ``received`` after ``sent``, if it parsed exactly that before.

        Only valid for the first bytes received after ``sent`` was written at
        the start of a cycle (the module docstring says why).
        """
        if not self._events or len(received) > MAX_RECEIVED:
            return None
        return self._events.get((sent, received))

    def add(
        self, sent: bytes, received: bytes, events: Sequence[h11.Event], parser: h11.Connection
    ) -> None:
        """Remember an exchange, if h11 completed it cleanly from that one receive.

        Args:
            sent: everything h11 wrote for the request, at the start of a cycle.
            received: the one receive that held the whole response.
            events: what h11's ``next_event`` returned for it, in order.
            parser: the connection's h11 state, not yet moved to the next cycle.
        """
        if len(sent) > MAX_SENT or len(received) > MAX_RECEIVED or not events:
            return
        clean = parser.our_state is h11.DONE and parser.their_state is h11.DONE
        if not clean or parser.trailing_data != (b"", False):
            return
        if type(events[-1]) is not h11.EndOfMessage:
            return
        cached = self._events
        if len(cached) >= MAX_ENTRIES:
            cached.clear()  # exchanges that repeat come back at once
        cached[(sent, received)] = tuple(events)

    def __len__(self) -> int:
        return len(self._events)
