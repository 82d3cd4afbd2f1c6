"""FileServer against real peers: ``curl``, stdlib ``urllib`` and our own client.

``curl`` runs as a subprocess (``trio.run_process``, bounded: ``--max-time``
plus a ``fail_after`` that kills it); ``urllib`` runs in a worker thread. A
missing ``curl`` *fails* these tests with an install hint: a peer that
silently stops being tested is worse than a red test.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import attrs
import pytest
import trio

import trio_webkit
from trio_webkit.apps import FileServer

from support.files import (
    AWKWARD_NAMES,
    FIXED_DATE,
    FIXED_MTIME,
    HELLO,
    MARKER,
    Site,
    awkward_content,
    build_awkward,
    build_site,
    sha256_file,
)
from support.loopback import fail_after, running_server

GUARD = 20
CONFIG = trio_webkit.ServerConfig(access_log=False)
DATA = bytes(range(256)) * 4  # data.bin
MiB = 1024 * 1024


@pytest.fixture
def site(tmp_path: Path) -> Site:
    site = build_site(tmp_path)
    build_awkward(site.root / "awkward")
    with (site.root / "big.bin").open("wb") as file:
        for index in range(8):
            file.write(hashlib.sha256(b"%d" % index).digest() * (MiB // 32))
    return site


# -- curl ------------------------------------------------------------------------
@attrs.frozen
class CurlResult:
    status: int
    headers: dict[str, str]  # lower-case names, last value wins
    body: bytes
    stderr: bytes


def curl_path() -> str:
    path = shutil.which("curl")
    if path is None:
        pytest.fail("curl is required for these tests: install the Debian package 'curl'")
    return path


async def curl(*args: str) -> CurlResult:
    """Run curl with ``args``; headers and body are taken from its stdout (``-D -``)."""
    command = [
        curl_path(),
        "-q",  # first: ignore any ~/.curlrc
        "--noproxy",
        "*",
        "--silent",
        "--show-error",
        "--max-time",
        "10",
        "-D",
        "-",
        *args,
    ]
    with trio.fail_after(15):  # cancelling run_process kills curl
        result = await trio.run_process(command, capture_stdout=True, capture_stderr=True)
    return _split_curl_output(result.stdout, result.stderr)


def _split_curl_output(stdout: bytes, stderr: bytes) -> CurlResult:
    # With -L there may be several heads: the last one describes the body.
    rest = stdout
    status, headers = 0, {}
    while rest.startswith(b"HTTP/"):
        head, _, rest = rest.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return CurlResult(status, headers, rest, stderr)


@fail_after(GUARD)
async def test_curl_get_headers(site: Site) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        result = await curl(f"{running.url}/hello.txt")
    assert result.status == 200
    assert result.body == HELLO
    assert result.headers["content-type"] == "text/plain; charset=utf-8"
    assert result.headers["content-length"] == str(len(HELLO))
    assert result.headers["last-modified"] == FIXED_DATE
    assert result.headers["accept-ranges"] == "bytes"
    assert result.headers["etag"].startswith('"')
    assert "date" in result.headers


@fail_after(GUARD)
async def test_curl_head(site: Site) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        result = await curl("--head", "-o", "/dev/null", f"{running.url}/data.bin")
    assert result.status == 200
    assert result.body == b""
    assert result.headers["content-length"] == "1024"
    assert result.headers["content-type"] == "application/octet-stream"


@pytest.mark.parametrize(
    ("range_", "start", "end"), [("0-9", 0, 9), ("-5", 1019, 1023), ("10-", 10, 1023)]
)
@fail_after(GUARD)
async def test_curl_range(site: Site, range_: str, start: int, end: int) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        result = await curl("-r", range_, f"{running.url}/data.bin")
    assert result.status == 206
    assert result.body == DATA[start : end + 1]
    assert result.headers["content-range"] == f"bytes {start}-{end}/1024"


@fail_after(GUARD)
async def test_curl_unsatisfiable_range(site: Site) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        result = await curl("-r", "2000-3000", f"{running.url}/data.bin")
    assert result.status == 416
    assert result.headers["content-range"] == "bytes */1024"


@fail_after(GUARD)
async def test_curl_resumes_a_partial_download(site: Site, tmp_path: Path) -> None:
    """``curl -C -`` asks for the rest with ``Range: bytes=N-`` and appends it."""
    big = site.root / "big.bin"
    partial = tmp_path / "partial.bin"
    with big.open("rb") as source:
        partial.write_bytes(source.read(3 * MiB + 17))
    async with running_server(FileServer(site.root), CONFIG) as running:
        result = await curl("-C", "-", "-o", str(partial), f"{running.url}/big.bin")
    assert result.status == 206
    assert result.headers["content-range"] == f"bytes {3 * MiB + 17}-{8 * MiB - 1}/{8 * MiB}"
    assert sha256_file(partial) == sha256_file(big)


@fail_after(GUARD)
async def test_curl_if_modified_since(site: Site) -> None:
    earlier = email.utils.formatdate(FIXED_MTIME - 3600, usegmt=True)
    async with running_server(FileServer(site.root), CONFIG) as running:
        same = await curl("-z", FIXED_DATE, f"{running.url}/hello.txt")
        changed = await curl("-z", earlier, f"{running.url}/hello.txt")
    assert same.status == 304
    assert same.body == b""
    assert (changed.status, changed.body) == (200, HELLO)


@fail_after(GUARD)
async def test_curl_if_none_match(site: Site) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        first = await curl(f"{running.url}/hello.txt")
        etag = first.headers["etag"]
        cached = await curl("-H", f"If-None-Match: {etag}", f"{running.url}/hello.txt")
        stale = await curl("-H", 'If-None-Match: "stale"', f"{running.url}/hello.txt")
    assert cached.status == 304
    assert cached.body == b""
    assert cached.headers["etag"] == etag
    assert (stale.status, stale.body) == (200, HELLO)


@pytest.mark.parametrize("offered", [None, "gzip, deflate, br", "gzip;q=1.0, identity;q=0"])
@fail_after(GUARD)
async def test_curl_gets_identity(site: Site, offered: str | None) -> None:
    """Without ``--compressed`` curl decodes nothing: the bytes must be the file's own,
    whatever the client offers (the server does not compress)."""
    headers = [] if offered is None else ["-H", f"Accept-Encoding: {offered}"]
    async with running_server(FileServer(site.root), CONFIG) as running:
        result = await curl(*headers, f"{running.url}/page.html")
    assert result.status == 200
    assert "content-encoding" not in result.headers
    assert result.body == (site.root / "page.html").read_bytes()


@fail_after(GUARD)
async def test_curl_follows_the_directory_redirect(site: Site) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        result = await curl("-L", "-w", "\n%{url_effective}", f"{running.url}/sub?x=1")
    body, _, effective = result.body.rpartition(b"\n")
    assert result.status == 200
    assert effective.decode() == f"{running.url}/sub/?x=1"
    assert b"inner.txt" in body


@pytest.mark.parametrize("name", AWKWARD_NAMES)
@fail_after(GUARD)
async def test_curl_awkward_names(site: Site, name: str) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        result = await curl(f"{running.url}/awkward/{quote(name, safe='')}")
    assert (result.status, result.body) == (200, awkward_content(name))


@pytest.mark.parametrize(
    "path", ["/../secret.txt", "/sub/../../secret.txt", "/%2e%2e/secret.txt", "/link_file"]
)
@fail_after(GUARD)
async def test_curl_path_as_is_traversal(site: Site, path: str) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        result = await curl("--path-as-is", f"{running.url}{path}")
    assert result.status == 404
    assert MARKER not in result.body


@fail_after(GUARD)
async def test_curl_big_file(site: Site, tmp_path: Path) -> None:
    target = tmp_path / "copy.bin"
    async with running_server(FileServer(site.root, chunk_size=4096), CONFIG) as running:
        result = await curl("-o", str(target), f"{running.url}/big.bin")
    assert result.status == 200
    assert sha256_file(target) == sha256_file(site.root / "big.bin")


# -- urllib (in a worker thread) ------------------------------------------------------
@attrs.frozen
class UrllibResult:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str


def _urlopen(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> UrllibResult:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            body = response.read()
            return UrllibResult(
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                body,
                response.url,
            )
    except urllib.error.HTTPError as error:
        with error:
            body = error.read()
            return UrllibResult(
                error.code, {k.lower(): v for k, v in error.headers.items()}, body, error.url
            )


async def urlopen(url: str, method: str = "GET", **headers: str) -> UrllibResult:
    return await trio.to_thread.run_sync(_urlopen, url, method, headers)


@fail_after(GUARD)
async def test_urllib_get(site: Site) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        result = await urlopen(f"{running.url}/hello.txt")
    assert result.status == 200
    assert result.body == HELLO
    assert result.headers["content-type"] == "text/plain; charset=utf-8"
    assert result.headers["last-modified"] == FIXED_DATE


@fail_after(GUARD)
async def test_urllib_head_range_and_conditional(site: Site) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        url = f"{running.url}/data.bin"
        head = await urlopen(url, "HEAD")
        ranged = await urlopen(url, Range="bytes=100-199")
        cached = await urlopen(url, **{"If-None-Match": head.headers["etag"]})
        since = await urlopen(url, **{"If-Modified-Since": FIXED_DATE})
    assert (head.status, head.body, head.headers["content-length"]) == (200, b"", "1024")
    assert (ranged.status, ranged.body) == (206, DATA[100:200])
    assert (cached.status, cached.body) == (304, b"")
    assert since.status == 304


@fail_after(GUARD)
async def test_urllib_errors_and_redirect(site: Site) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        missing = await urlopen(f"{running.url}/missing.txt")
        posted = await urlopen(f"{running.url}/hello.txt", "POST")
        redirected = await urlopen(f"{running.url}/sub?x=1")
    assert missing.status == 404
    assert (posted.status, posted.headers["allow"]) == (405, "GET, HEAD")
    assert redirected.status == 200
    assert redirected.url == f"{running.url}/sub/?x=1"
    assert b"inner.txt" in redirected.body


@fail_after(GUARD)
async def test_urllib_big_file(site: Site) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        result = await urlopen(f"{running.url}/big.bin")
    assert hashlib.sha256(result.body).hexdigest() == sha256_file(site.root / "big.bin")


# -- our own client ------------------------------------------------------------------------
@fail_after(GUARD)
async def test_client_get_head_range_conditional(site: Site) -> None:
    async with (
        running_server(FileServer(site.root), CONFIG) as running,
        trio_webkit.Client(timeout=10) as client,
    ):
        url = f"{running.url}/data.bin"
        got = await client.get(url)
        head = await client.head(url)
        ranged = await client.get(url, headers={"Range": "bytes=-5"})
        cached = await client.get(url, headers={"If-None-Match": got.headers.get("etag") or ""})
        posted = await client.post(url, body=b"x")
    assert (got.status, got.content) == (200, DATA)
    assert (head.status, head.content, head.headers.get("content-length")) == (200, b"", "1024")
    assert (ranged.status, ranged.content) == (206, DATA[-5:])
    assert (cached.status, cached.content) == (304, b"")
    assert (posted.status, posted.headers.get("allow")) == (405, "GET, HEAD")


@fail_after(GUARD)
async def test_client_keeps_the_connection_across_files(site: Site) -> None:
    async with (
        running_server(FileServer(site.root), CONFIG) as running,
        trio_webkit.Client(timeout=10) as client,
    ):
        for name in AWKWARD_NAMES:
            response = await client.get(f"{running.url}/awkward/{quote(name, safe='')}")
            assert (response.status, response.content) == (200, awkward_content(name))
        stats = running.server.statistics()
    assert stats.connections_total == 1


@fail_after(GUARD)
async def test_client_fetch_consumer(site: Site) -> None:
    @attrs.define
    class Collector:
        chunks: list[bytes] = attrs.Factory(list)
        closed: bool = False

        def feed(self, data: bytes) -> None:
            self.chunks.append(data)

        def close(self) -> None:
            self.closed = True

    collector = Collector()
    async with running_server(FileServer(site.root, chunk_size=65536), CONFIG) as running:
        await trio_webkit.fetch(f"{running.url}/big.bin", collector)
    assert collector.closed
    body = b"".join(collector.chunks)
    assert hashlib.sha256(body).hexdigest() == sha256_file(site.root / "big.bin")


@fail_after(GUARD)
async def test_download(site: Site, tmp_path: Path) -> None:
    target = tmp_path / "copy.bin"
    progress: list[tuple[int, int | None]] = []
    async with running_server(FileServer(site.root, chunk_size=4096), CONFIG) as running:
        response = await trio_webkit.download(
            f"{running.url}/big.bin",
            target,
            progress=lambda got, total: progress.append((got, total)),
        )
    assert response.status == 200
    assert sha256_file(target) == sha256_file(site.root / "big.bin")
    assert progress[-1] == (8 * MiB, 8 * MiB)
    assert [got for got, _ in progress] == sorted(got for got, _ in progress)


@fail_after(GUARD)
async def test_download_of_a_missing_file_writes_nothing(site: Site, tmp_path: Path) -> None:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    async with running_server(FileServer(site.root), CONFIG) as running:
        with pytest.raises(trio_webkit.HTTPStatusError):
            await trio_webkit.download(f"{running.url}/missing.bin", downloads / "nothing.bin")
    assert os.listdir(downloads) == []


@fail_after(GUARD)
async def test_open_url_reads_in_chunks(site: Site) -> None:
    pieces = []
    async with (
        running_server(FileServer(site.root), CONFIG) as running,
        trio_webkit.open_url(f"{running.url}/data.bin") as resource,
    ):
        assert resource.status == 200
        assert resource.headers.get("content-length") == "1024"
        while piece := await resource.read(100):
            pieces.append(piece)
    assert b"".join(pieces) == DATA
    assert max(len(piece) for piece in pieces) <= 100
