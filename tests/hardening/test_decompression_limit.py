"""``Client(max_decompressed_bytes=...)``: gzip bombs end in a clear error (issue 8, point 6).

A gzip bomb is a small body that decodes to a huge one. The client decodes
in bounded pieces anyway (``unit/test_decoders.py``); this limit bounds the
*total*, whichever way the body is consumed (``read``/``get``,
``iter_bytes``, ``fetch``, ``download``), with a :class:`ProtocolError`
whose message names the URL, the phase (decoding) and the limit, and a pool
left consistent. The server is ours, in this process, on loopback.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest

import trio_webkit

from support.loopback import RunningServer, fail_after, running_server

MiB = 1 << 20
LIMIT = 4 * MiB


def gzip_zeros(size: int, *, wbits: int = 31) -> bytes:
    """``size`` zero bytes, compressed (gzip by default) as one stream."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(MiB)
    parts = [compressor.compress(block) for _ in range(size // MiB)]
    parts += [compressor.compress(bytes(size % MiB)), compressor.flush()]
    return b"".join(parts)


def gzip_members(mebibytes: int) -> bytes:
    """``mebibytes`` MiB of zeros as that many concatenated gzip members (quick to make)."""
    return gzip_zeros(MiB) * mebibytes


@attrs.define
class Bombs:
    bodies: dict[str, tuple[str, bytes]] = attrs.Factory(dict)

    async def handler(self, request: trio_webkit.Request) -> trio_webkit.Response:
        if request.path == "/plain":
            return trio_webkit.Response(200, body=b"plain")
        encoding, body = self.bodies[request.path]
        headers = [("Content-Encoding", encoding), ("Content-Type", "application/octet-stream")]
        return trio_webkit.Response(200, headers, body)


@pytest.fixture(scope="module")
def bombs() -> Bombs:
    big = gzip_zeros(64 * MiB)
    return Bombs(
        {
            "/gzip": ("gzip", big),
            "/deflate": ("deflate", gzip_zeros(64 * MiB, wbits=15)),
            "/gzip-gzip": ("gzip, gzip", zlib.compress(big, wbits=31)),
            "/exact": ("gzip", gzip_zeros(LIMIT)),
            "/one-more": ("gzip", gzip_zeros(LIMIT + 1)),
        }
    )


@pytest.fixture
async def served(bombs: Bombs) -> AsyncIterator[RunningServer]:
    async with running_server(bombs.handler) as running:
        yield running


def limited(limit: int | None = LIMIT) -> trio_webkit.Client:
    return trio_webkit.Client(timeout=10, max_decompressed_bytes=limit, max_connections=1)


def assert_names_url_phase_and_limit(error: trio_webkit.HTTPError, url: str) -> None:
    assert type(error) is trio_webkit.ProtocolError, repr(error)  # not IncompleteBody
    assert error.url == url
    assert error.phase == "decode"
    message = str(error)
    assert message.startswith(f"GET {url}: ")
    assert f"larger than {LIMIT} bytes" in message
    assert "max_decompressed_bytes" in message
    assert "while decoding" in message


async def assert_pool_usable(client: trio_webkit.Client, served: RunningServer) -> None:
    """One slot only: a slot leaked by the failure would make this a PoolTimeout."""
    assert client.statistics().connections_active == 0
    response = await client.get(served.url + "/plain")
    assert response.content == b"plain"


# -- the limit ----------------------------------------------------------------------------------
def test_the_default_is_one_gib_and_bad_values_are_refused() -> None:
    assert trio_webkit.Client().max_decompressed_bytes == 1 << 30
    assert trio_webkit.Client(max_decompressed_bytes=None).max_decompressed_bytes is None
    for bad in (-1, 1.5, True, "1024"):
        with pytest.raises(ValueError, match="max_decompressed_bytes"):
            trio_webkit.Client(max_decompressed_bytes=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["/gzip", "/deflate", "/gzip-gzip"])
@fail_after(20)
async def test_a_bomb_over_the_limit_is_a_protocol_error(served: RunningServer, path: str) -> None:
    url = served.url + path
    async with limited() as client:
        with pytest.raises(trio_webkit.ProtocolError) as caught:
            await client.get(url)
        assert_names_url_phase_and_limit(caught.value, url)
        await assert_pool_usable(client, served)


@fail_after(20)
async def test_iter_bytes_stops_at_the_limit(served: RunningServer) -> None:
    url = served.url + "/gzip"
    received = 0
    async with limited() as client:
        with pytest.raises(trio_webkit.ProtocolError) as caught:
            async with client.stream("GET", url) as response:
                async for chunk in response.iter_bytes():
                    received += len(chunk)
        assert_names_url_phase_and_limit(caught.value, url)
        assert received <= LIMIT  # nothing past the limit was handed out
        await assert_pool_usable(client, served)


@fail_after(20)
async def test_read_in_stream_stops_at_the_limit(served: RunningServer) -> None:
    url = served.url + "/gzip"
    async with limited() as client:
        with pytest.raises(trio_webkit.ProtocolError) as caught:
            async with client.stream("GET", url) as response:
                await response.read()
        assert_names_url_phase_and_limit(caught.value, url)
        await assert_pool_usable(client, served)


@attrs.define
class Counting:
    fed: int = 0
    closed: bool = False

    def feed(self, data: bytes) -> None:
        self.fed += len(data)

    def close(self) -> None:
        self.closed = True


@fail_after(20)
async def test_fetch_stops_at_the_limit_and_does_not_close_the_consumer(
    served: RunningServer,
) -> None:
    url = served.url + "/gzip"
    consumer = Counting()
    async with limited() as client:
        with pytest.raises(trio_webkit.ProtocolError) as caught:
            await client.fetch(url, consumer)
        assert_names_url_phase_and_limit(caught.value, url)
        await assert_pool_usable(client, served)
    assert consumer.fed <= LIMIT
    assert not consumer.closed


@fail_after(20)
async def test_module_level_functions_take_the_limit(served: RunningServer, tmp_path: Path) -> None:
    url = served.url + "/gzip"
    with pytest.raises(trio_webkit.ProtocolError) as caught:
        await trio_webkit.get(url, max_decompressed_bytes=LIMIT)
    assert_names_url_phase_and_limit(caught.value, url)

    consumer = Counting()
    with pytest.raises(trio_webkit.ProtocolError) as caught:
        await trio_webkit.fetch(url, consumer, max_decompressed_bytes=LIMIT)
    assert_names_url_phase_and_limit(caught.value, url)
    assert not consumer.closed

    target = tmp_path / "bomb.bin"
    with pytest.raises(trio_webkit.ProtocolError) as caught:
        await trio_webkit.download(url, target, max_decompressed_bytes=LIMIT)
    assert_names_url_phase_and_limit(caught.value, url)
    assert os.listdir(tmp_path) == []  # neither the file nor a partial one


@fail_after(20)
async def test_a_body_of_exactly_the_limit_is_fine_one_byte_more_is_not(
    served: RunningServer,
) -> None:
    async with limited() as client:
        response = await client.get(served.url + "/exact")
        assert response.content == bytes(LIMIT)
        with pytest.raises(trio_webkit.ProtocolError):
            await client.get(served.url + "/one-more")
        await assert_pool_usable(client, served)


@fail_after(20)
async def test_none_disables_the_limit(served: RunningServer) -> None:
    received = 0
    async with limited(None) as client, client.stream("GET", served.url + "/gzip") as response:
        async for chunk in response.iter_bytes():
            assert not any(chunk)
            received += len(chunk)
    assert received == 64 * MiB


@fail_after(20)
async def test_undecoded_bodies_are_not_limited(served: RunningServer, bombs: Bombs) -> None:
    async with trio_webkit.Client(decompress=False, max_decompressed_bytes=1) as client:
        response = await client.get(served.url + "/gzip")
    assert response.content == bombs.bodies["/gzip"][1]


@fail_after(60)
async def test_the_default_limit_stops_a_bomb_just_over_1_gib() -> None:
    """1 GiB and 1 MiB of zeros, 1 MiB in each of 1025 gzip members (about 1 MiB sent)."""
    body = gzip_members(1025)

    async def bomb(request: trio_webkit.Request) -> trio_webkit.Response:
        return trio_webkit.Response(200, [("Content-Encoding", "gzip")], body)

    received = 0
    async with running_server(bomb) as running, trio_webkit.Client(timeout=10) as client:
        with pytest.raises(trio_webkit.ProtocolError) as caught:
            async with client.stream("GET", running.url + "/") as response:
                async for chunk in response.iter_bytes():
                    received += len(chunk)
        assert client.statistics().connections_active == 0
    assert received == 1 << 30
    assert f"larger than {1 << 30} bytes" in str(caught.value)
