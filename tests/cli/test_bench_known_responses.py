"""``bench`` replays responses h11 parsed before, and counts exactly as when it parses them.

In-process: ``run_load`` against a scripted loopback server, with the
target's response cache and without it (``find`` answering nothing). The
status counts, the bytes read and the errors must agree, and the server
must see the same requests; repeated responses are replayed, split or
closing ones parsed every time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import pytest
import trio

from trio_webkit._response_cache import ResponseCache
from trio_webkit._urls import parse_url
from trio_webkit.cli.bench import Load, run_load

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
MISSING = b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"
#: Per request: the pieces to send (a pause between two), and whether to close after.
Answer = tuple[Sequence[bytes], bool]


def same(number: int) -> Answer:
    return [OK], False


def alternating(number: int) -> Answer:
    return [OK if number % 2 else MISSING], False


def split(number: int) -> Answer:
    return [OK[:-2], OK[-2:]], False


def closing(number: int) -> Answer:
    return [b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"], True


SCENARIOS: dict[str, tuple[Callable[[int], Answer], bool]] = {
    "same": (same, True),
    "alternating": (alternating, True),
    "split": (split, False),
    "closing": (closing, False),
}


async def run(scenario: str, *, cache: bool, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    answer, _ = SCENARIOS[scenario]
    requests: list[bytes] = []
    sent = 0
    replays = 0
    port = 0
    find = ResponseCache.find

    def counting_find(self: ResponseCache, request: bytes, data: bytes) -> Any:
        nonlocal replays
        events = find(self, request, data) if cache else None
        replays += events is not None
        return events

    monkeypatch.setattr(ResponseCache, "find", counting_find)

    async def serve(stream: trio.SocketStream) -> None:
        nonlocal sent
        buffer = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = await stream.receive_some()
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                requests.append(head.replace(b":%d\r\n" % port, b":PORT\r\n"))
                pieces, close = answer(len(requests))
                for number, piece in enumerate(pieces):
                    if number:
                        await trio.sleep(0.01)
                    await stream.send_all(piece)
                    sent += len(piece)
                if close:
                    return
        except trio.BrokenResourceError:
            pass

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, serve, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        load = Load(
            url=parse_url(f"http://127.0.0.1:{port}/x"),
            connections=2,
            requests=20,
            duration=None,
            rate=None,
            timeout=5.0,
        )
        summary = await run_load(load)
        nursery.cancel_scope.cancel()
    return {
        "requests": summary.requests,
        "statuses": summary.statuses,
        "bytes_read": summary.bytes_read,
        "bytes_sent": sent,
        "errors": summary.errors,
        "server_saw": sorted(requests),
        "replays": replays,
    }


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_replayed_responses_count_as_parsed_ones(
    scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_cache = await run(scenario, cache=True, monkeypatch=monkeypatch)
    without = await run(scenario, cache=False, monkeypatch=monkeypatch)
    replays = with_cache.pop("replays")
    assert without.pop("replays") == 0
    assert with_cache == without
    assert with_cache["requests"] == 20
    assert with_cache["bytes_read"] == with_cache["bytes_sent"]
    assert sum(with_cache["statuses"].values()) == 20
    if SCENARIOS[scenario][1]:
        assert replays >= 10
    else:
        assert replays == 0


def ahead(number: int) -> Answer:
    return [OK + MISSING if number == 1 else OK], False


async def test_bytes_past_a_response_are_read_before_receiving_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The first answer holds two responses: on that connection the 404 answers
    # the next request (as h11 reads what is buffered first), and so on, one
    # behind; the other connection's answers are replayed meanwhile.
    SCENARIOS["ahead"] = (ahead, False)
    try:
        reports = [
            await run("ahead", cache=cache, monkeypatch=monkeypatch) for cache in (True, False)
        ]
    finally:
        del SCENARIOS["ahead"]
    for report in reports:
        assert report["requests"] == 20
        assert report["statuses"] == {200: 19, 404: 1}
        assert report["errors"] == {"connect": 0, "read": 0, "write": 0, "timeout": 0}
