"""The client's write and read limits, wait by wait, on memory streams with the autojump clock.

A request with no body or a bytes body sends its head and receives the
response head under one cancel scope whose deadline is moved before each
wait (``now + write`` before the send, ``now + read`` before each receive).
These tests pin down that this behaves exactly like one scope per wait:

* each limit counts from the start of its own wait, not from an earlier one;
* ``read`` limits each silence, not the whole head;
* a wait that succeeds although its deadline passed while it was finishing
  (here: a shielded send or receive) does not make the *next* wait fail;
* a limit of 0 fails the wait at once, naming its phase;
* after every outcome the pool is consistent.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import trio
import trio.testing

import trio_webkit
from trio_webkit import Client, Timeout, _pool

URL = "http://test.invalid/"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class ClientEnd(trio.abc.Stream):
    """The client's end of a memory stream, with waits added where a test wants them.

    Like a socket, a send or receive first raises if its scope is already
    cancelled. ``send_delay``: seconds each send takes before the data goes
    out; ``shielded``: after that first check, the send cannot be cancelled
    (as a socket's final checkpoint after a successful send), so it
    finishes even after its deadline passed. ``receive_delays``: after the
    n-th receive got its data, a shielded wait of that many seconds.
    """

    def __init__(
        self,
        inner: trio.abc.Stream,
        *,
        send_delay: float = 0,
        shielded: bool = False,
        receive_delays: Sequence[float] = (),
    ) -> None:
        self.inner = inner
        self.send_delay = send_delay
        self.shielded = shielded
        self.receive_delays = list(receive_delays)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await trio.lowlevel.checkpoint_if_cancelled()
        with trio.CancelScope(shield=self.shielded):
            if self.send_delay:
                await trio.sleep(self.send_delay)
            await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        await trio.lowlevel.checkpoint_if_cancelled()
        data = await self.inner.receive_some(max_bytes)
        if self.receive_delays:
            with trio.CancelScope(shield=True):
                await trio.sleep(self.receive_delays.pop(0))
        return data

    async def aclose(self) -> None:
        await self.inner.aclose()


def serve(
    monkeypatch: pytest.MonkeyPatch,
    nursery: trio.Nursery,
    parts: Sequence[bytes],
    *,
    pause: float = 0.5,
    **client_end: object,
) -> None:
    """Each connection answers every request with ``parts``, ``pause`` seconds apart."""

    async def server(stream: trio.abc.Stream) -> None:
        received = b""
        try:
            while True:
                while b"\r\n\r\n" not in received:
                    data = await stream.receive_some()
                    if not data:
                        return
                    received += data
                received = received.partition(b"\r\n\r\n")[2]
                for part in parts:
                    await stream.send_all(part)
                    await trio.sleep(pause)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client gave up on this connection

    async def open_stream(url: object, **_: object) -> trio.abc.Stream:
        client, server_end = trio.testing.memory_stream_pair()
        nursery.start_soon(server, server_end)
        return ClientEnd(client, **client_end)  # type: ignore[arg-type]

    monkeypatch.setattr(_pool, "open_http_stream", open_stream)


async def assert_pool_usable(client: Client) -> None:
    assert client.statistics().connections_active == 0


async def test_the_read_limit_counts_from_the_receive_not_from_the_send(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(monkeypatch, nursery, [], send_delay=2)  # a 2 s send, then silence
    async with Client(timeout=Timeout(5, write=3, read=3)) as client:
        start = trio.current_time()
        with pytest.raises(trio_webkit.ReadTimeout) as info:
            await client.get(URL)
        assert trio.current_time() - start == pytest.approx(2 + 3)
        assert info.value.phase == "read"
        await assert_pool_usable(client)


async def test_the_write_limit_names_the_write_phase(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(monkeypatch, nursery, [OK], send_delay=10)
    async with Client(timeout=Timeout(5, write=3, read=1)) as client:
        start = trio.current_time()
        with pytest.raises(trio_webkit.WriteTimeout) as info:
            await client.get(URL)
        assert trio.current_time() - start == pytest.approx(3)
        assert info.value.phase == "write"
        await assert_pool_usable(client)


async def test_read_limits_each_silence_of_the_head_not_the_whole_head(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = [b"HTTP/1.1 200 OK\r\n", b"Content-Length: 2\r\n", b"X-A: b\r\n", b"\r\nok"]
    serve(monkeypatch, nursery, head, pause=2)
    async with Client(timeout=Timeout(5, read=3)) as client:
        start = trio.current_time()
        response = await client.get(URL)
        assert response.content == b"ok"
        assert trio.current_time() - start >= 6  # three silences of 2 s, each under 3 s
        await assert_pool_usable(client)


async def test_a_send_that_ends_after_its_deadline_does_not_fail_the_receive(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(monkeypatch, nursery, [OK], send_delay=4, shielded=True)
    async with Client(timeout=Timeout(5, write=3, read=3)) as client:
        for _ in range(2):
            response = await client.get(URL)
            assert response.content == b"ok"
        assert client.statistics().connections_opened == 1
        await assert_pool_usable(client)


async def test_a_receive_that_ends_after_its_deadline_does_not_fail_the_next_one(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The head comes in two pieces; the first receive finishes 4 s in (read is 3).
    parts = [b"HTTP/1.1 200 OK\r\n", b"Content-Length: 2\r\n\r\nok"]
    serve(monkeypatch, nursery, parts, receive_delays=[4])
    async with Client(timeout=Timeout(5, read=3)) as client:
        response = await client.get(URL)
        assert response.content == b"ok"
        await assert_pool_usable(client)


@pytest.mark.parametrize("shielded", [False, True], ids=["plain", "shielded-send"])
@pytest.mark.parametrize(
    ("limits", "error", "phase"),
    [
        (Timeout(5, write=0), trio_webkit.WriteTimeout, "write"),
        (Timeout(5, read=0), trio_webkit.ReadTimeout, "read"),
    ],
    ids=["write", "read"],
)
async def test_a_zero_limit_fails_its_phase_at_once(
    autojump_clock: trio.testing.MockClock,
    nursery: trio.Nursery,
    monkeypatch: pytest.MonkeyPatch,
    limits: Timeout,
    error: type[trio_webkit.HTTPError],
    phase: str,
    shielded: bool,
) -> None:
    serve(monkeypatch, nursery, [OK], shielded=shielded)
    async with Client(timeout=limits) as client:
        start = trio.current_time()
        with pytest.raises(error) as info:
            await client.get(URL)
        assert trio.current_time() == start
        assert info.value.phase == phase
        await assert_pool_usable(client)
        response = await client.get(URL, timeout=Timeout(5))
        assert response.content == b"ok"


async def test_interim_responses_are_capped_across_pieces(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 21 interim responses, one per receive, each receive ending past its deadline.
    interim = [b"HTTP/1.1 102 Processing\r\n\r\n"] * 21
    serve(monkeypatch, nursery, [*interim, OK], receive_delays=[4] * 30)
    async with Client(timeout=Timeout(5, read=3)) as client:
        with pytest.raises(trio_webkit.ProtocolError, match="interim"):
            await client.get(URL)
        await assert_pool_usable(client)
