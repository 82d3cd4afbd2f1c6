"""The response cache replays exactly what h11 would do (``trio_webkit._response_cache``).

Its claim has two halves, each checked here against h11 itself over a table
of requests and responses (methods, framings, interim responses, close and
HTTP/1.0, protocol switches, trailing bytes, truncation, garbage):

* the events h11 gives for a response are a function of the bytes it wrote
  for the request and the bytes it was given: parsing the same exchange
  again gives the cached events, and only clean, complete exchanges are
  kept;
* after a kept exchange, ``start_next_cycle`` leaves h11 where a fresh
  connection starts: every follow-up exchange in the table goes exactly the
  same way (events, errors, states, leftover bytes) on both.
"""

from __future__ import annotations

import itertools
from typing import Any

import h11
import pytest

from trio_webkit._response_cache import MAX_ENTRIES, MAX_RECEIVED, MAX_SENT, ResponseCache

HOST = [("Host", "example.test")]

REQUESTS: dict[str, list[h11.Event]] = {
    "get": [h11.Request(method="GET", target="/", headers=HOST), h11.EndOfMessage()],
    "head": [h11.Request(method="HEAD", target="/", headers=HOST), h11.EndOfMessage()],
    "get-close": [
        h11.Request(method="GET", target="/", headers=[*HOST, ("Connection", "close")]),
        h11.EndOfMessage(),
    ],
    "post": [
        h11.Request(method="POST", target="/f", headers=[*HOST, ("Content-Length", "3")]),
        h11.Data(data=b"abc"),
        h11.EndOfMessage(),
    ],
    "expect": [
        h11.Request(
            method="PUT",
            target="/f",
            headers=[*HOST, ("Content-Length", "2"), ("Expect", "100-continue")],
        ),
        h11.Data(data=b"hi"),
        h11.EndOfMessage(),
    ],
    "upgrade": [
        h11.Request(
            method="GET",
            target="/ws",
            headers=[*HOST, ("Connection", "upgrade"), ("Upgrade", "websocket")],
        ),
        h11.EndOfMessage(),
    ],
}

RESPONSES: dict[str, bytes] = {
    "length": (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!"
    ),
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "empty": b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    "no-content": b"HTTP/1.1 204 No Content\r\n\r\n",
    "not-modified": b"HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n",
    "head-only": b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n",
    "interim": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "close": b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
    "http10": b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "trailing": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokXYZ",
    "truncated": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok",
    "switch": (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"
    ),
    "garbage": b"NOT HTTP AT ALL\r\n\r\n",
    "eof": b"",
}

CASES = list(itertools.product(REQUESTS, RESPONSES))


def send(parser: h11.Connection, request: str) -> bytes:
    """Everything h11 writes for ``request`` (as the client's ``exchange`` sends it)."""
    return b"".join(parser.send(event) or b"" for event in REQUESTS[request])


def outcome(parser: h11.Connection, request: str, response: str) -> tuple[bytes, Any]:
    """What h11 makes of one exchange: the bytes it wrote, then its events or error and state."""
    try:
        sent = send(parser, request)
    except h11.LocalProtocolError as error:
        return b"", ("refused to send", str(error))
    parser.receive_data(RESPONSES[response])
    events: list[Any] = []
    try:
        while True:
            event = parser.next_event()
            events.append(event)
            if event in (h11.NEED_DATA, h11.PAUSED) or type(event) in (
                h11.EndOfMessage,
                h11.ConnectionClosed,
            ):
                break
    except h11.RemoteProtocolError as error:
        events.append(("error", str(error)))
    return sent, (events, parser.states, parser.trailing_data)


def fresh() -> h11.Connection:
    return h11.Connection(h11.CLIENT, max_incomplete_event_size=65536)


def kept(request: str, response: str) -> tuple[ResponseCache, bytes, h11.Connection]:
    """An exchange offered to a new cache: the cache, the request bytes, the parser after it."""
    cache = ResponseCache()
    parser = fresh()
    sent, (events, _, _) = outcome(parser, request, response)
    cache.add(sent, RESPONSES[response], [e for e in events if isinstance(e, h11.Event)], parser)
    return cache, sent, parser


KEPT = [case for case in CASES if len(kept(*case)[0])]


def test_only_clean_complete_exchanges_are_kept() -> None:
    kept_names = {f"{request}/{response}" for request, response in KEPT}
    complete = ("length", "chunked", "empty", "no-content", "not-modified", "interim")
    # A HEAD response has no body: bytes after its head are left over, never kept.
    bodyless = ("empty", "no-content", "not-modified", "head-only")
    assert kept_names == {
        f"{request}/{response}"
        for request in ("get", "post", "expect", "upgrade")
        for response in complete
    } | {f"head/{response}" for response in bodyless}


@pytest.mark.parametrize(("request_name", "response"), KEPT, ids=[f"{r}/{s}" for r, s in KEPT])
def test_the_cached_events_are_what_h11_gives_again(request_name: str, response: str) -> None:
    cache, sent, _ = kept(request_name, response)
    again = fresh()
    assert send(again, request_name) == sent
    found = cache.find(sent, RESPONSES[response])
    assert found is not None
    again.receive_data(RESPONSES[response])
    assert list(found) == [again.next_event() for _ in found]
    assert again.states == {h11.CLIENT: h11.DONE, h11.SERVER: h11.DONE}
    assert again.trailing_data == (b"", False)


@pytest.mark.parametrize(("first", "first_response"), KEPT, ids=[f"{r}/{s}" for r, s in KEPT])
def test_after_a_kept_exchange_the_next_cycle_is_a_fresh_connection(
    first: str, first_response: str
) -> None:
    for request, response in CASES:
        _, _, reused = kept(first, first_response)
        reused.start_next_cycle()
        assert outcome(reused, request, response) == outcome(fresh(), request, response), (
            request,
            response,
        )


def test_what_was_sent_is_part_of_the_key() -> None:
    # The same bytes are a whole response to a HEAD and the start of one to a GET.
    cache, head_sent, _ = kept("head", "head-only")
    get_sent = send(fresh(), "get")
    assert cache.find(head_sent, RESPONSES["head-only"]) is not None
    assert cache.find(get_sent, RESPONSES["head-only"]) is None
    assert cache.find(head_sent, RESPONSES["head-only"] + b"x") is None


def test_an_exchange_not_done_or_with_leftovers_is_refused() -> None:
    cache = ResponseCache()
    parser = fresh()
    sent = send(parser, "get")
    parser.receive_data(RESPONSES["length"])
    events: list[Any] = [parser.next_event()]  # the head only: the server is still sending
    cache.add(sent, RESPONSES["length"], events, parser)
    events += [parser.next_event(), parser.next_event()]
    cache.add(sent, RESPONSES["length"], events[:-1], parser)  # not ending with the end
    assert len(cache) == 0
    cache.add(sent, RESPONSES["length"], events, parser)
    assert len(cache) == 1


def test_the_cache_is_bounded() -> None:
    cache = ResponseCache()
    parser = fresh()
    sent = send(parser, "get")
    parser.receive_data(RESPONSES["empty"])
    events: list[Any] = [parser.next_event(), parser.next_event()]
    big = b"x" * (MAX_RECEIVED + 1)
    cache.add(sent, big, events, parser)
    cache.add(b"x" * (MAX_SENT + 1), RESPONSES["empty"], events, parser)
    assert len(cache) == 0
    assert cache.find(sent, big) is None
    for number in range(MAX_ENTRIES):
        cache.add(sent, b"%d" % number, events, parser)
    assert len(cache) == MAX_ENTRIES
    cache.add(sent, b"one more", events, parser)
    assert len(cache) == 1  # emptied, then the newest kept
    assert cache.find(sent, b"one more") == tuple(events)
