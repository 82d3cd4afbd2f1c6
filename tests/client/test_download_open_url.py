"""``trio_webkit.download`` and ``trio_webkit.open_url`` over loopback and local URLs.

``download`` streams to a temporary file and renames it at the end: a
failure leaves neither the target nor the temporary file behind. The big
download checks memory with :mod:`tracemalloc` against a generous bound: the
point is that 100 MiB never sit in memory, not a precise figure.
"""

from __future__ import annotations

import gc
import hashlib
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

import trio_webkit

from support.loopback import fail_after, running_server
from support.rawserver import RawConnection, raw_server, response_head

GUARD = 10
CHUNK = 64 * 1024
BIG_CHUNKS = 1600  # 100 MiB
BIG_SIZE = CHUNK * BIG_CHUNKS
MEMORY_BOUND = 8 * 1024 * 1024
PAGE = b"".join(b"%06d|" % index for index in range(2000))  # 14000 bytes


def big_chunks() -> Iterator[bytes]:
    """The big body, generated chunk by chunk (each one different)."""
    block = bytes(range(256)) * (CHUNK // 256)
    for index in range(BIG_CHUNKS):
        yield index.to_bytes(4, "big") + block[4:]


def big_digest() -> str:
    digest = hashlib.sha256()
    for chunk in big_chunks():
        digest.update(chunk)
    return digest.hexdigest()


async def handler(request: trio_webkit.Request) -> trio_webkit.Response:
    path = request.path
    if path in ("/big", "/big-chunked"):

        async def producer(send: trio.MemorySendChannel[bytes]) -> None:
            for chunk in big_chunks():
                await send.send(chunk)

        headers = [("Content-Type", "application/octet-stream")]
        if path == "/big":
            headers.append(("Content-Length", str(BIG_SIZE)))
        return trio_webkit.Response(200, headers, producer=producer)
    if path == "/page":
        return trio_webkit.Response(200, [("Content-Type", "text/plain; charset=utf-8")], PAGE)
    if path == "/moved":
        return trio_webkit.Response(301, [("Location", "/page")])
    if path == "/chunked-page":

        async def pieces(send: trio.MemorySendChannel[bytes]) -> None:
            for start in range(0, len(PAGE), 1000):
                await send.send(PAGE[start : start + 1000])

        return trio_webkit.Response(200, producer=pieces)
    return trio_webkit.Response(404, body="not found")


def files_in(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


# -- download -----------------------------------------------------------------------
@fail_after(120)  # a guard: 100 MiB through Python, traced by tracemalloc
async def test_download_100_mib_in_bounded_memory(tmp_path: Path) -> None:
    target = tmp_path / "big.bin"
    calls: list[tuple[int, int | None]] = []

    def progress(received: int, total: int | None) -> None:
        calls.append((received, total))

    async with running_server(handler) as server:
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            response = await trio_webkit.download(f"{server.url}/big", target, progress=progress)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert response.status == 200
    assert peak < MEMORY_BOUND, f"peak traced memory {peak} bytes for a {BIG_SIZE}-byte body"
    assert target.stat().st_size == BIG_SIZE
    assert await trio.to_thread.run_sync(sha256_of, target) == big_digest()
    assert files_in(tmp_path) == ["big.bin"]  # no .part left
    # progress: increasing counts, the total each time, ending at the total.
    counts = [received for received, _ in calls]
    assert counts == sorted(set(counts))
    assert counts[0] > 0
    assert counts[-1] == BIG_SIZE
    assert {total for _, total in calls} == {BIG_SIZE}
    assert len(calls) > 10  # called as chunks arrive, not once at the end


@fail_after(GUARD)
async def test_download_chunked_body_has_no_total(tmp_path: Path) -> None:
    target = tmp_path / "page.txt"
    calls: list[tuple[int, int | None]] = []

    async def progress(received: int, total: int | None) -> None:  # async is fine too
        await trio.lowlevel.checkpoint()
        calls.append((received, total))

    async with running_server(handler) as server:
        await trio_webkit.download(f"{server.url}/chunked-page", target, progress=progress)
    assert target.read_bytes() == PAGE
    assert calls[-1] == (len(PAGE), None)
    assert all(total is None for _, total in calls)


@fail_after(GUARD)
async def test_download_follows_redirects_and_accepts_str_paths(tmp_path: Path) -> None:
    target = tmp_path / "page.txt"
    async with running_server(handler) as server:
        response = await trio_webkit.download(f"{server.url}/moved", str(target))
    assert target.read_bytes() == PAGE
    assert response.url == f"{server.url}/page"


@fail_after(GUARD)
async def test_download_replaces_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "page.txt"
    target.write_bytes(b"old content, much longer than nothing" * 1000)
    async with running_server(handler) as server:
        await trio_webkit.download(f"{server.url}/page", target)
    assert target.read_bytes() == PAGE
    assert files_in(tmp_path) == ["page.txt"]


async def cut_short(connection: RawConnection) -> None:
    await connection.next_request()
    head = response_head(200, [("Content-Length", str(1024 * 1024))])
    await connection.send(head + b"x" * 100_000)


@fail_after(GUARD)
async def test_download_cut_short_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "cut.bin"
    async with raw_server(cut_short) as server:
        with pytest.raises(trio_webkit.IncompleteBody) as caught:
            await trio_webkit.download(f"{server.url}/cut", target)
    assert caught.value.url == f"{server.url}/cut"
    assert files_in(tmp_path) == []  # neither cut.bin nor a .part file


@fail_after(GUARD)
async def test_download_cut_short_keeps_an_existing_file_untouched(tmp_path: Path) -> None:
    target = tmp_path / "cut.bin"
    target.write_bytes(b"the previous, complete version")
    async with raw_server(cut_short) as server:
        with pytest.raises(trio_webkit.IncompleteBody):
            await trio_webkit.download(f"{server.url}/cut", target)
    assert target.read_bytes() == b"the previous, complete version"
    assert files_in(tmp_path) == ["cut.bin"]


@fail_after(GUARD)
async def test_download_cancelled_midway_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "big.bin"
    async with running_server(handler) as server:
        with trio.move_on_after(30) as scope:  # a guard: the progress callback cancels first

            def progress(received: int, total: int | None) -> None:
                if received >= 10 * CHUNK:
                    scope.cancel()

            await trio_webkit.download(f"{server.url}/big", target, progress=progress)
    assert scope.cancelled_caught
    assert files_in(tmp_path) == []


@fail_after(GUARD)
async def test_download_404_raises_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "missing.bin"
    async with running_server(handler) as server:
        with pytest.raises(trio_webkit.HTTPStatusError) as caught:
            await trio_webkit.download(f"{server.url}/missing", target)
    assert caught.value.response.status == 404
    assert str(caught.value).startswith(f"GET {server.url}/missing: ")
    assert files_in(tmp_path) == []


@fail_after(GUARD)
async def test_download_connection_refused_writes_nothing(tmp_path: Path) -> None:
    async with raw_server(cut_short) as server:
        url = f"{server.url}/gone"
    with pytest.raises(trio_webkit.ConnectError):
        await trio_webkit.download(url, tmp_path / "x.bin")
    assert files_in(tmp_path) == []


# -- open_url: http -----------------------------------------------------------------------
@fail_after(GUARD)
async def test_open_url_http_reads_in_pieces() -> None:
    async with (
        running_server(handler) as server,
        trio_webkit.open_url(f"{server.url}/page") as resource,
    ):
        assert resource.status == 200
        assert resource.url == f"{server.url}/page"
        assert resource.headers["content-type"] == "text/plain; charset=utf-8"
        assert resource.headers["content-length"] == str(len(PAGE))
        first = await resource.read(10)
        second = await resource.read(5000)
        zero = await resource.read(0)
        rest = await resource.read()
        after_end = await resource.read()
        after_end_n = await resource.read(10)
    assert first == PAGE[:10]
    assert second == PAGE[10:5010]
    assert zero == b""
    assert rest == PAGE[5010:]
    assert after_end == b""
    assert after_end_n == b""


@fail_after(GUARD)
async def test_open_url_http_read_part_then_leave() -> None:
    # urlopen style: read the first bytes, stop. Leaving the block closes the
    # connection and leaves nothing behind (no un-finished body iterator).
    async with running_server(handler) as server:
        async with trio_webkit.open_url(f"{server.url}/big") as resource:
            magic = await resource.read(4)
        del resource
        gc.collect()
        async with trio_webkit.open_url(f"{server.url}/page") as resource:
            page = await resource.read()
    assert magic == (0).to_bytes(4, "big")
    assert page == PAGE


@fail_after(GUARD)
async def test_open_url_read_n_across_chunk_boundaries() -> None:
    async with (
        running_server(handler) as server,
        trio_webkit.open_url(f"{server.url}/chunked-page") as resource,
    ):
        pieces = []
        while piece := await resource.read(777):
            assert len(piece) <= 777
            pieces.append(piece)
    assert b"".join(pieces) == PAGE
    assert all(len(piece) == 777 for piece in pieces[:-1])


@fail_after(GUARD)
async def test_open_url_http_follows_redirects_and_reports_the_final_url() -> None:
    async with (
        running_server(handler) as server,
        trio_webkit.open_url(f"{server.url}/moved") as resource,
    ):
        body = await resource.read()
    assert resource.url == f"{server.url}/page"
    assert body == PAGE


@fail_after(GUARD)
async def test_open_url_http_error_status_raises() -> None:
    async with running_server(handler) as server:
        with pytest.raises(trio_webkit.HTTPStatusError) as caught:
            async with trio_webkit.open_url(f"{server.url}/nope"):
                pass
    assert caught.value.response.status == 404


@fail_after(GUARD)
async def test_open_url_http_cut_short_raises() -> None:
    async with raw_server(cut_short) as server:
        with pytest.raises(trio_webkit.IncompleteBody):
            async with trio_webkit.open_url(f"{server.url}/cut") as resource:
                await resource.read()


# -- open_url: file and data ---------------------------------------------------------------
@fail_after(GUARD)
async def test_open_url_file(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    content = b"<html><body>" + b"x" * 200_000 + b"</body></html>"
    path.write_bytes(content)
    async with trio_webkit.open_url(path.as_uri()) as resource:
        assert resource.status == 200
        assert resource.url == path.as_uri()
        assert resource.headers["content-type"] == "text/html"
        assert resource.headers["content-length"] == str(len(content))
        assert "last-modified" in resource.headers
        head = await resource.read(6)
        rest = await resource.read()
    assert head == b"<html>"
    assert head + rest == content


@fail_after(GUARD)
async def test_open_url_file_with_an_unknown_type_and_a_quoted_name(tmp_path: Path) -> None:
    path = tmp_path / "a name with spaces.weird-ext"
    path.write_bytes(b"\x00\x01\x02")
    uri = path.as_uri()
    assert "%20" in uri
    async with trio_webkit.open_url(uri) as resource:
        assert resource.headers["content-type"] == "application/octet-stream"
        assert await resource.read() == b"\x00\x01\x02"


@fail_after(GUARD)
async def test_open_url_missing_file_raises(tmp_path: Path) -> None:
    uri = (tmp_path / "nope.txt").as_uri()
    with pytest.raises(trio_webkit.HTTPError) as caught:
        async with trio_webkit.open_url(uri):
            pass
    assert uri in str(caught.value)


@pytest.mark.parametrize(
    ("url", "content_type", "data"),
    [
        ("data:text/plain;base64,aGVsbG8gd29ybGQ=", "text/plain", b"hello world"),
        (
            "data:application/octet-stream;base64,AAEC/w==",
            "application/octet-stream",
            b"\0\1\2\xff",
        ),
        ("data:,Hello%2C%20World%21", "text/plain;charset=US-ASCII", b"Hello, World!"),
        (
            "data:text/html;charset=utf-8,%3Cp%3Ecaf%C3%A9%3C%2Fp%3E",
            "text/html;charset=utf-8",
            "<p>café</p>".encode(),
        ),
        ("data:text/plain,", "text/plain", b""),
    ],
)
@fail_after(GUARD)
async def test_open_url_data(url: str, content_type: str, data: bytes) -> None:
    async with trio_webkit.open_url(url) as resource:
        assert resource.status == 200
        assert resource.headers["content-type"] == content_type
        assert resource.headers["content-length"] == str(len(data))
        first = await resource.read(3)
        rest = await resource.read()
    assert first + rest == data


@fail_after(GUARD)
async def test_open_url_bad_data_urls() -> None:
    with pytest.raises(trio_webkit.InvalidURL):
        async with trio_webkit.open_url("data:text/plain;base64,not*base64!"):
            pass
    with pytest.raises(trio_webkit.InvalidURL):
        async with trio_webkit.open_url("data:no comma here"):
            pass


@pytest.mark.parametrize("url", ["ftp://example.com/file", "gopher://x/", "mailto:someone@x"])
@fail_after(GUARD)
async def test_open_url_unsupported_scheme(url: str) -> None:
    with pytest.raises(trio_webkit.UnsupportedScheme) as caught:
        async with trio_webkit.open_url(url):
            pass
    assert url.split(":")[0] in str(caught.value)
