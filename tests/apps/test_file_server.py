"""FileServer over real loopback sockets: traversal, symlinks, HTTP behaviour, big files.

The tree (see :mod:`support.files`) has a secret with a unique marker
*outside* the served root. Every traversal target is sent as raw bytes, so
no client normalises it on the way, and under two configurations (the
defaults, and the most permissive one: symlinks followed, hidden files
shown); the marker must never come back, nothing may answer 5xx, and the
server must keep serving afterwards.

Real sockets run on the real clock: every test has a ``fail_after`` guard
(a hang guard, never a duration check) and synchronises on observable state
(bytes received, the producer's file offset in ``/proc``) rather than sleeps.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import os
import tracemalloc
import urllib.request
from pathlib import Path
from urllib.parse import quote, urljoin

import pytest
import trio

import trio_webkit
from trio_webkit.apps import FileServer

from support.files import (
    AWKWARD_NAMES,
    FIXED_DATE,
    FIXED_MTIME,
    HELLO,
    LISTING_TAGS,
    MARKER,
    PASSWD_MARKER,
    Site,
    awkward_content,
    build_awkward,
    build_site,
    bytes_read_by_this_process,
    exchange,
    fetch,
    open_descriptors,
    parse_page,
    request_bytes,
    unread_bytes,
)
from support.loopback import (
    fail_after,
    open_connection,
    parse_responses,
    raw_exchange,
    read_until,
    read_until_eof,
    running_server,
)

GUARD = 15
CONFIG = trio_webkit.ServerConfig(access_log=False)
MiB = 1024 * 1024


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return build_site(tmp_path)


def client() -> trio_webkit.Client:
    return trio_webkit.Client(timeout=10)


# -- traversal: a table of raw request targets ---------------------------------
# ``{secret}`` is replaced by the absolute path of the secret (no leading "/"),
# ``{secret_enc}`` by the same with every "/" percent-encoded.
TRAVERSAL = [
    # plain dot segments
    "/../secret.txt",
    "/../../secret.txt",
    "/../../../../../../../../../../secret.txt",
    "/./../secret.txt",
    "/sub/../../secret.txt",
    "/sub/../../../secret.txt",
    "/sub/deeper/../../../secret.txt",
    "/hello.txt/../../secret.txt",
    "/../www/../secret.txt",
    "/.../secret.txt",
    "/..../secret.txt",
    "/..;/secret.txt",
    "/.//..//secret.txt",
    "/./.././secret.txt",
    # percent-encoded dots and slashes
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/%2e./secret.txt",
    "/.%2e/secret.txt",
    "/..%2fsecret.txt",
    "/..%2Fsecret.txt",
    "/%2e%2e%2fsecret.txt",
    "/%2e%2e%2Fsecret.txt",
    "/%2e%2e%2f%2e%2e%2fsecret.txt",
    "/sub%2f..%2f..%2fsecret.txt",
    "/sub/%2e%2e/%2e%2e/secret.txt",
    "/sub/..%2f..%2fsecret.txt",
    "/sub/.%2e/.%2e/secret.txt",
    "/hello.txt/..%2f..%2fsecret.txt",
    "/%2e%2e%20/secret.txt",
    "/..%20/secret.txt",
    "/..%09/secret.txt",
    "/.%20./secret.txt",
    # backslashes, raw and encoded
    "/..\\secret.txt",
    "/\\..\\secret.txt",
    "/sub\\..\\..\\secret.txt",
    "/.\\./secret.txt",
    "/..%5csecret.txt",
    "/..%5Csecret.txt",
    "/%5c..%5csecret.txt",
    "/%2e%2e%5csecret.txt",
    "/..%255csecret.txt",
    # double and mixed encoding
    "/%252e%252e/secret.txt",
    "/%252e%252e%252fsecret.txt",
    "/%25%32%65%25%32%65/secret.txt",
    "/%%32%65%%32%65/secret.txt",
    "/..%%32%66secret.txt",
    "/%2%65%2%65/secret.txt",
    "/%u002e%u002e/secret.txt",
    "/..%u2215secret.txt",
    # overlong and look-alike UTF-8
    "/%c0%ae%c0%ae/secret.txt",
    "/%c0%ae%c0%ae%c0%afsecret.txt",
    "/%c0%2e%c0%2e/secret.txt",
    "/..%c0%afsecret.txt",
    "/..%c1%9csecret.txt",
    "/%e0%80%ae%e0%80%ae/secret.txt",
    "/%e0%80%ae%e0%80%ae%e0%80%afsecret.txt",
    "/%f0%80%80%ae%f0%80%80%ae/secret.txt",
    "/%ef%bc%8e%ef%bc%8e/secret.txt",
    "/..%ef%bc%8fsecret.txt",
    "/..%e2%88%95secret.txt",
    "/%c0%ae%c0%ae%5csecret.txt",
    # NUL and other control characters
    "/%00",
    "/a%00.txt",
    "/hello.txt%00",
    "/hello.txt%00.html",
    "/..%00/secret.txt",
    "/.%00./secret.txt",
    "/..%0asecret.txt",
    "/..%0d%0aX-Injected:%20yes",
    "/%7f..%7f/secret.txt",
    # empty segments, absolute paths, drives
    "//secret.txt",
    "///secret.txt",
    "//../secret.txt",
    "//{secret}",
    "/{secret}",
    "/%2f{secret_enc}",
    "/{secret_enc}",
    "/C:/secret.txt",
    "/C:%5csecret.txt",
    "/c:..%5csecret.txt",
    "/file:{secret_enc}",
    # absolute-form targets (RFC 9112 §3.2.2)
    "http://x/../secret.txt",
    "http://x/%2e%2e/secret.txt",
    "http://x/..%2fsecret.txt",
    "http://127.0.0.1/../../secret.txt",
    "http://x//{secret}",
    "http://x/..%5csecret.txt",
    "HTTP://X/../secret.txt",
    # symlinks out of the root (never served, followed or not)
    "/link_file",
    "/link_abs",
    "/link_chain",
    "/link_loop",
    "/link_dir/secret.txt",
    "/link_dir/",
    "/link_dir",
    "/link_outside/secret2.txt",
    "/link_outside/",
    "/sub/link_up/secret.txt",
    "/sub/link_up/",
    "/link_dir/www/../secret.txt",
    "/link_dir/outside/secret2.txt",
    # the well-known target of every scanner
    "/../../../../../../../../etc/passwd",
    "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/..%2f..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "//etc/passwd",
    "/etc/passwd",
    "/%2fetc%2fpasswd",
    "http://x//etc/passwd",
    # hidden names and their encodings (refused unless show_hidden)
    "/.hidden/../../secret.txt",
    "/%2ehidden_dir/%2e%2e/%2e%2e/secret.txt",
]

CONFIGURATIONS = {
    "defaults": {},
    "permissive": {"follow_symlinks": True, "show_hidden": True},
}


def expand(target: str, site: Site) -> bytes:
    secret = str(site.secret).lstrip("/")
    return target.format(secret=secret, secret_enc=secret.replace("/", "%2f")).encode("latin-1")


def test_the_table_is_big_enough() -> None:
    assert len(TRAVERSAL) >= 60
    assert len(set(TRAVERSAL)) == len(TRAVERSAL)


@pytest.mark.parametrize("options", CONFIGURATIONS.values(), ids=CONFIGURATIONS.keys())
@pytest.mark.parametrize("target", TRAVERSAL)
@fail_after(GUARD)
async def test_traversal_never_serves_the_secret(
    site: Site, target: str, options: dict[str, bool]
) -> None:
    raw_target = expand(target, site)
    async with running_server(FileServer(site.root, **options), CONFIG) as running:
        raw = await _raw_answer(running.port, raw_target)
        assert MARKER not in raw, (raw_target, raw[:300])
        assert PASSWD_MARKER not in raw, (raw_target, raw[:300])
        status = int(raw.split(b" ", 2)[1])
        assert status < 500, (raw_target, raw[:300])
        assert status in (400, 404), (raw_target, raw[:300])
        # ... and the server keeps serving.
        after = await fetch(running.port, "/hello.txt")
        assert (after.status, after.body) == (200, HELLO)


async def _raw_answer(port: int, raw_target: bytes) -> bytes:
    raw = await raw_exchange(port, request_bytes(raw_target))
    assert raw.startswith(b"HTTP/1.1 "), raw[:200]
    return raw


@fail_after(GUARD)
async def test_every_traversal_target_on_one_connection(site: Site) -> None:
    """All targets pipelined on one keep-alive connection: no desync, no secret."""
    targets = [expand(target, site) for target in TRAVERSAL]
    targets = [t for t in targets if b"%0d%0a" not in t.lower()]
    pipeline = b"".join(b"GET " + target + b" HTTP/1.1\r\nHost: test\r\n\r\n" for target in targets)
    pipeline += b"GET /hello.txt HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"

    async with running_server(FileServer(site.root, follow_symlinks=True), CONFIG) as running:
        raw = await raw_exchange(running.port, pipeline, within=GUARD - 2)
    assert MARKER not in raw
    responses = parse_responses(raw)
    # A 400 closes the connection: what came before it must be complete and
    # never 5xx; if nothing was refused outright, the final GET answers too.
    assert all(response.status < 500 for response in responses)
    if all(response.status != 400 for response in responses):
        assert len(responses) == len(targets) + 1
        assert (responses[-1].status, responses[-1].body) == (200, HELLO)


@fail_after(GUARD)
async def test_the_marker_check_is_not_vacuous(site: Site) -> None:
    """Served from the secret's own directory, the secret does come back."""
    async with running_server(FileServer(site.base), CONFIG) as running:
        raw, response = await exchange(running.port, "/secret.txt")
    assert response.status == 200
    assert MARKER in raw


# -- symlinks --------------------------------------------------------------------
OUTSIDE_LINKS = [
    "/link_file",
    "/link_abs",
    "/link_chain",
    "/link_dir/secret.txt",
    "/link_outside/secret2.txt",
    "/sub/link_up/secret.txt",
    "/link_dir/",
    "/link_outside/",
]


@pytest.mark.parametrize("follow", [False, True], ids=["no-follow", "follow"])
@pytest.mark.parametrize("target", OUTSIDE_LINKS)
@fail_after(GUARD)
async def test_symlink_out_of_the_root_is_never_served(
    site: Site, target: str, follow: bool
) -> None:
    async with running_server(FileServer(site.root, follow_symlinks=follow), CONFIG) as running:
        raw, response = await exchange(running.port, target)
        head = await fetch(running.port, target, "HEAD")
    assert response.status == 404
    assert MARKER not in raw
    assert head.status == 404


@pytest.mark.parametrize(
    ("target", "body"),
    [("/good_link", HELLO), ("/good_dir_link/inner.txt", b"sub/inner\n")],
)
@fail_after(GUARD)
async def test_symlink_inside_the_root_is_served_only_when_following(
    site: Site, target: str, body: bytes
) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        refused = await fetch(running.port, target)
    async with running_server(FileServer(site.root, follow_symlinks=True), CONFIG) as running:
        served = await fetch(running.port, target)
    assert refused.status == 404
    assert (served.status, served.body) == (200, body)


@fail_after(GUARD)
async def test_listing_without_follow_does_not_show_symlinks(site: Site) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        response = await fetch(running.port, "/")
    names = [text for _, text in parse_page(response.body.decode()).anchors]
    assert "hello.txt" in names
    assert not [name for name in names if name.startswith(("link_", "good_"))]


@fail_after(GUARD)
async def test_a_symlink_swapped_in_between_requests_is_refused(site: Site) -> None:
    target = site.root / "swap.txt"
    target.write_bytes(b"harmless\n")
    async with running_server(FileServer(site.root), CONFIG) as running:
        assert (await fetch(running.port, "/swap.txt")).body == b"harmless\n"
        target.unlink()
        target.symlink_to(site.secret)
        raw, response = await exchange(running.port, "/swap.txt")
    assert response.status == 404
    assert MARKER not in raw


# -- GET and HEAD of a file ---------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("hello.txt", "text/plain; charset=utf-8"),
        ("page.html", "text/html; charset=utf-8"),
        ("data.bin", "application/octet-stream"),
        ("style.css", "text/css; charset=utf-8"),
        ("data.json", "application/json; charset=utf-8"),
        ("image.png", "image/png"),
        ("archive.tar.gz", "application/octet-stream"),
        ("no_extension", "application/octet-stream"),
    ],
)
@fail_after(GUARD)
async def test_content_type(site: Site, name: str, content_type: str) -> None:
    path = site.root / name
    if not path.exists():
        path.write_bytes(b"x")
    async with running_server(FileServer(site.root), CONFIG) as running:
        response = await fetch(running.port, "/" + name)
    assert response.status == 200
    assert response.header(b"content-type") == content_type.encode()


@fail_after(GUARD)
async def test_get_a_file(site: Site) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        response = await fetch(running.port, "/hello.txt")
    assert response.status == 200
    assert response.body == HELLO
    assert response.header(b"content-type") == b"text/plain; charset=utf-8"
    assert response.header(b"content-length") == str(len(HELLO)).encode()
    assert response.header(b"last-modified") == FIXED_DATE.encode()
    assert response.header(b"accept-ranges") == b"bytes"
    etag = response.header(b"etag")
    assert etag is not None
    assert etag.startswith(b'"')
    assert etag.endswith(b'"')
    assert response.header(b"date") is not None


@pytest.mark.parametrize("name", ["hello.txt", "page.html", "data.bin"])
@fail_after(GUARD)
async def test_head_has_the_get_headers_and_no_body(site: Site, name: str) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        get = await fetch(running.port, "/" + name)
        raw, head = await exchange(running.port, "/" + name, "HEAD")
    assert head.status == 200
    assert raw.endswith(b"\r\n\r\n")  # nothing after the head
    assert head.body == b""
    for field in (b"content-type", b"content-length", b"last-modified", b"etag", b"accept-ranges"):
        assert head.header(field) == get.header(field), field
    assert int(head.header(b"content-length") or -1) == (site.root / name).stat().st_size


@fail_after(GUARD)
async def test_empty_file(site: Site) -> None:
    (site.root / "empty.txt").write_bytes(b"")
    async with running_server(FileServer(site.root), CONFIG) as running:
        response = await fetch(running.port, "/empty.txt")
        ranged = await fetch(running.port, "/empty.txt", headers=[("Range", "bytes=0-")])
    assert (response.status, response.body) == (200, b"")
    assert response.header(b"content-length") == b"0"
    assert ranged.status == 416
    assert ranged.header(b"content-range") == b"bytes */0"


@pytest.mark.parametrize("target", ["/missing.txt", "/sub/missing.txt", "/missing/", "/nope/x"])
@fail_after(GUARD)
async def test_missing_is_404(site: Site, target: str) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        response = await fetch(running.port, target)
        head = await fetch(running.port, target, "HEAD")
    assert response.status == 404
    assert head.status == 404


@pytest.mark.parametrize(
    "target", ["/hello.txt/", "/hello.txt/x", "/sub/inner.txt/", "/hello.txt//"]
)
@fail_after(GUARD)
async def test_a_file_used_as_a_directory_is_404(site: Site, target: str) -> None:
    """``/hello.txt/`` names a directory that does not exist (as nginx, Apache and
    ``http.server`` answer): serving the file there would make its relative
    links resolve under ``/hello.txt/`` and give each file a second URL."""
    async with running_server(FileServer(site.root), CONFIG) as running:
        assert (await fetch(running.port, target)).status == 404


@fail_after(GUARD)
async def test_fifo_is_never_opened(site: Site) -> None:
    os.mkfifo(site.root / "pipe")
    async with running_server(FileServer(site.root), CONFIG) as running:
        assert (await fetch(running.port, "/pipe")).status == 404
        assert (await fetch(running.port, "/")).status == 200
        assert (await fetch(running.port, "/hello.txt")).status == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("target", ["/hello.txt", "/sub/", "/missing"])
@fail_after(GUARD)
async def test_other_methods_get_405_with_allow(site: Site, method: str, target: str) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        response = await fetch(running.port, target, method, [("Content-Length", "0")])
        after = await fetch(running.port, "/hello.txt")
    assert response.status == 405
    assert response.header(b"allow") == b"GET, HEAD"
    assert after.status == 200


@fail_after(GUARD)
async def test_file_deleted_between_requests_is_404(site: Site) -> None:
    path = site.root / "doomed.txt"
    path.write_bytes(b"here today\n")
    async with running_server(FileServer(site.root), CONFIG) as running:
        assert (await fetch(running.port, "/doomed.txt")).status == 200
        path.unlink()
        assert (await fetch(running.port, "/doomed.txt")).status == 404
        assert (await fetch(running.port, "/hello.txt")).status == 200


@fail_after(GUARD)
async def test_file_changed_between_requests_gets_a_new_etag(site: Site) -> None:
    path = site.root / "changing.txt"
    path.write_bytes(b"one\n")
    os.utime(path, (FIXED_MTIME, FIXED_MTIME))
    async with running_server(FileServer(site.root), CONFIG) as running:
        first = await fetch(running.port, "/changing.txt")
        path.write_bytes(b"two, longer\n")
        os.utime(path, (FIXED_MTIME + 10, FIXED_MTIME + 10))
        etag = (first.header(b"etag") or b"").decode()
        second = await fetch(running.port, "/changing.txt", headers=[("If-None-Match", etag)])
    assert second.status == 200
    assert second.body == b"two, longer\n"
    assert second.header(b"etag") != first.header(b"etag")


# -- directories ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/sub", "/sub/"),
        ("/sub?x=1", "/sub/?x=1"),
        ("/sub?a=1&b=%20c", "/sub/?a=1&b=%20c"),
        ("/sub/deeper", "/sub/deeper/"),
        ("/sub/deeper?q", "/sub/deeper/?q"),
        ("/site", "/site/"),
        ("/s%75b", "/s%75b/"),
        ("http://x/sub?x=1", "/sub/?x=1"),
    ],
)
@fail_after(GUARD)
async def test_directory_without_slash_redirects(site: Site, target: str, location: str) -> None:
    """301 to the same URL with a slash added, query kept.

    ``Location`` may be relative (RFC 9110 §10.2.2): it is checked the way
    a client uses it, resolved against the request URL.
    """
    async with running_server(FileServer(site.root), CONFIG) as running:
        response = await fetch(running.port, target)
        head = await fetch(running.port, target, "HEAD")
        request_url = urljoin(running.url + "/", target)
        expected = urljoin(request_url, location)
    assert response.status == 301
    assert head.status == 301
    for answer in (response, head):
        given = (answer.header(b"location") or b"").decode()
        assert urljoin(request_url, given) == expected, given
        assert urljoin("http://other.example/", given).startswith("http://other.example/")


@fail_after(GUARD)
async def test_redirect_is_followed_by_our_client(site: Site) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running, client() as http:
        response = await http.get(running.url + "/sub/deeper?x=1")
    assert response.status == 200
    assert response.url == running.url + "/sub/deeper/?x=1"
    assert [answer.status for answer in response.history] == [301]
    assert "leaf.txt" in response.text


@pytest.mark.parametrize("target", ["//evil.example", "///evil.example", "http://x//evil.example"])
@fail_after(GUARD)
async def test_redirect_never_leaves_the_host(site: Site, target: str) -> None:
    """A directory named like a host must not turn into ``Location: //host/``.

    ``//evil.example/`` is a network-path reference (RFC 3986 §4.2): a browser
    follows it to another site (the open redirect of CVE-2021-28861 in
    ``http.server``).
    """
    (site.root / "evil.example").mkdir()
    async with running_server(FileServer(site.root), CONFIG) as running:
        response = await fetch(running.port, target)
        base = running.url + "/"
    assert response.status in (301, 404)
    if response.status == 301:
        location = (response.header(b"location") or b"").decode()
        assert not location.startswith(("//", "/\\")), location
        assert urljoin(base, location).startswith(base), location


@fail_after(GUARD)
async def test_index_file_is_served(site: Site) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        response = await fetch(running.port, "/site/")
        head = await fetch(running.port, "/site/", "HEAD")
    assert response.status == 200
    assert response.body == (site.root / "site" / "index.html").read_bytes()
    assert response.header(b"content-type") == b"text/html; charset=utf-8"
    assert head.status == 200
    assert head.header(b"content-length") == str(len(response.body)).encode()


@fail_after(GUARD)
async def test_an_index_larger_than_a_chunk_streams_whole(site: Site) -> None:
    big = b"<!DOCTYPE html><title>big</title>" + b"x" * 5000 + b"\n"
    (site.root / "sub" / "index.html").write_bytes(big)
    async with running_server(FileServer(site.root, chunk_size=1024), CONFIG) as running:
        response = await fetch(running.port, "/sub/")
        small = await fetch(running.port, "/site/")
    assert (response.status, response.body) == (200, big)
    assert response.header(b"content-length") == str(len(big)).encode()
    assert small.body == (site.root / "site" / "index.html").read_bytes()


@pytest.mark.parametrize("follow", [False, True], ids=["no-follow", "follow"])
@fail_after(GUARD)
async def test_an_index_that_is_not_a_servable_file_gives_the_listing(
    site: Site, follow: bool
) -> None:
    """An index symlinked out of the root, or a directory named like one: never served."""
    (site.root / "sub" / "index.html").symlink_to(site.secret)
    (site.root / "sub" / "deeper" / "index.html").mkdir()
    server = FileServer(site.root, follow_symlinks=follow)
    async with running_server(server, CONFIG) as running:
        raw, linked = await exchange(running.port, "/sub/")
        directory = await fetch(running.port, "/sub/deeper/")
    assert linked.status == 200 and MARKER not in raw
    assert "inner.txt" in [text for _, text in parse_page(linked.body.decode()).anchors]
    assert directory.status == 200
    assert "index.html/" in [text for _, text in parse_page(directory.body.decode()).anchors]


@fail_after(GUARD)
async def test_index_none_lists_instead(site: Site) -> None:
    async with running_server(FileServer(site.root, index=None), CONFIG) as running:
        response = await fetch(running.port, "/site/")
    assert response.status == 200
    assert "index.html" in [text for _, text in parse_page(response.body.decode()).anchors]


@fail_after(GUARD)
async def test_listing(site: Site) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        response = await fetch(running.port, "/sub/")
    assert response.status == 200
    assert response.header(b"content-type") == b"text/html; charset=utf-8"
    page = parse_page(response.body.decode("utf-8"))
    assert page.anchors[0] == ("../", "../")
    assert ("deeper/", "deeper/") in page.anchors
    assert ("inner.txt", "inner.txt") in page.anchors
    assert "/sub/" in page.title


@fail_after(GUARD)
async def test_listing_disabled_is_403_but_files_and_index_still_served(site: Site) -> None:
    async with running_server(FileServer(site.root, listing=False), CONFIG) as running:
        assert (await fetch(running.port, "/")).status == 403
        assert (await fetch(running.port, "/sub/")).status == 403
        assert (await fetch(running.port, "/site/")).status == 200
        assert (await fetch(running.port, "/sub/inner.txt")).status == 200
        assert (await fetch(running.port, "/sub")).status == 301


@pytest.mark.parametrize(
    "target",
    ["/.hidden", "/.hidden_dir/inner.txt", "/.hidden_dir/", "/%2ehidden", "/sub/../.hidden"],
)
@fail_after(GUARD)
async def test_hidden_files_are_404(site: Site, target: str) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        response = await fetch(running.port, target)
    assert response.status in (400, 404)
    assert b"hidden" not in response.body


@fail_after(GUARD)
async def test_hidden_files_are_not_listed(site: Site) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        response = await fetch(running.port, "/")
    assert b".hidden" not in response.body


@fail_after(GUARD)
async def test_show_hidden_serves_and_lists_them(site: Site) -> None:
    async with running_server(FileServer(site.root, show_hidden=True), CONFIG) as running:
        listing = await fetch(running.port, "/")
        hidden = await fetch(running.port, "/.hidden")
        inner = await fetch(running.port, "/.hidden_dir/inner.txt")
        encoded = await fetch(running.port, "/%2ehidden")
    names = [text for _, text in parse_page(listing.body.decode()).anchors]
    assert ".hidden" in names
    assert ".hidden_dir/" in names
    assert (hidden.status, hidden.body) == (200, b"hidden file\n")
    assert (inner.status, inner.body) == (200, b"inside a hidden directory\n")
    assert encoded.status == 200


# -- the listing with awkward names ----------------------------------------------------
@pytest.fixture
def awkward_root(tmp_path: Path) -> Path:
    root = tmp_path / "awkward"
    build_awkward(root)
    build_awkward(root / "dir <b>&amp; \"'#?%41", ["inner <i>.txt", "x#y?z.txt"])
    return root


@fail_after(GUARD)
async def test_listing_escapes_awkward_names(awkward_root: Path) -> None:
    async with running_server(FileServer(awkward_root), CONFIG) as running:
        response = await fetch(running.port, "/")
    html = response.body.decode("utf-8")
    page = parse_page(html)
    # Nothing but the page's own markup: no injected element.
    assert set(page.tags) <= LISTING_TAGS, set(page.tags) - LISTING_TAGS
    assert "<script>" not in html
    assert "<img" not in html
    shown = [text for _, text in page.anchors]
    for name in AWKWARD_NAMES:
        assert name in shown, name
    assert "dir <b>&amp; \"'#?%41/" in shown
    # Every href is one percent-encoded relative segment.
    for href, _ in page.anchors:
        assert not set(href) & set("<>\"' #?&:"), href


async def _follow_listing(base_url: str, directory: str) -> dict[str, tuple[int, bytes]]:
    """GET the listing at ``directory`` and every file it links to, with our client."""
    results: dict[str, tuple[int, bytes]] = {}
    async with client() as http:
        page_url = base_url + directory
        listing = await http.get(page_url)
        assert listing.status == 200
        for href, text in parse_page(listing.text).anchors:
            if href == "../" or href.endswith("/"):
                continue
            response = await http.get(urljoin(page_url, href))
            results[text] = (response.status, response.content)
    return results


@fail_after(GUARD)
async def test_listing_links_lead_to_the_files_with_our_client(awkward_root: Path) -> None:
    async with running_server(FileServer(awkward_root), CONFIG) as running:
        top = await _follow_listing(running.url, "/")
        inner = await _follow_listing(
            running.url, "/" + quote("dir <b>&amp; \"'#?%41", safe="") + "/"
        )
    assert top == {name: (200, awkward_content(name)) for name in AWKWARD_NAMES}
    assert inner == {name: (200, awkward_content(name)) for name in ["inner <i>.txt", "x#y?z.txt"]}


@fail_after(GUARD)
async def test_listing_links_lead_to_the_files_with_urllib(awkward_root: Path) -> None:
    async with running_server(FileServer(awkward_root), CONFIG) as running:
        page_url = running.url + "/"
        listing = await trio.to_thread.run_sync(_urllib_get, page_url)
        links = [
            (href, text)
            for href, text in parse_page(listing.decode()).anchors
            if not href.endswith("/")
        ]
        bodies = {
            text: await trio.to_thread.run_sync(_urllib_get, urljoin(page_url, href))
            for href, text in links
        }
    assert bodies == {name: awkward_content(name) for name in AWKWARD_NAMES}


def _urllib_get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
        return body


@pytest.mark.parametrize(
    "options",
    [{}, {"follow_symlinks": True}, {"show_hidden": True}],
    ids=["defaults", "follow", "hidden"],
)
@fail_after(GUARD)
async def test_the_listing_advertises_only_what_is_served(
    site: Site, options: dict[str, bool]
) -> None:
    """Every link in a listing works (a name the server refuses gets no link).

    Names the path rules refuse (a backslash, dots and spaces only, a drive
    prefix) and, with ``follow_symlinks``, links pointing out of the root
    must not be offered as links: they would 404, and the row would show the
    size and date of a file outside the root.
    """
    for name in ("back\\slash.txt", "...", "c:drive.txt"):
        (site.root / name).write_bytes(b"odd name\n")
    async with running_server(FileServer(site.root, **options), CONFIG) as running:
        listing = await fetch(running.port, "/")
        page = parse_page(listing.body.decode())
        dead = []
        for href, text in page.anchors:
            if href == "../":
                continue
            response = await fetch(running.port, "/" + href)
            if response.status != 200:
                dead.append((text, response.status))
    assert dead == [], dead


# -- conditional requests ----------------------------------------------------------------
async def _etag(port: int, target: str = "/hello.txt") -> str:
    response = await fetch(port, target)
    etag = response.header(b"etag")
    assert etag is not None
    return etag.decode()


@fail_after(GUARD)
async def test_if_none_match(site: Site) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        etag = await _etag(running.port)
        matching = await fetch(running.port, "/hello.txt", headers=[("If-None-Match", etag)])
        weak = await fetch(running.port, "/hello.txt", headers=[("If-None-Match", "W/" + etag)])
        listed = await fetch(
            running.port, "/hello.txt", headers=[("If-None-Match", f'"other", {etag}')]
        )
        star = await fetch(running.port, "/hello.txt", headers=[("If-None-Match", "*")])
        other = await fetch(running.port, "/hello.txt", headers=[("If-None-Match", '"other"')])
        head = await fetch(running.port, "/hello.txt", "HEAD", [("If-None-Match", etag)])
    for response in (matching, weak, listed, star, head):
        assert response.status == 304
        assert response.body == b""
        assert response.header(b"etag") == etag.encode()
    assert (other.status, other.body) == (200, HELLO)


@fail_after(GUARD)
async def test_if_modified_since(site: Site) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:

        async def since(date: str) -> int:
            response = await fetch(
                running.port, "/hello.txt", headers=[("If-Modified-Since", date)]
            )
            return response.status

        assert await since(FIXED_DATE) == 304
        assert await since(email.utils.formatdate(FIXED_MTIME + 3600, usegmt=True)) == 304
        assert await since(email.utils.formatdate(FIXED_MTIME - 1, usegmt=True)) == 200
        assert await since("Sunday, 01-Jan-00 00:00:00 GMT") == 200
        assert await since("not a date") == 200


@fail_after(GUARD)
async def test_if_none_match_wins_over_if_modified_since(site: Site) -> None:
    later = email.utils.formatdate(FIXED_MTIME + 3600, usegmt=True)
    earlier = email.utils.formatdate(FIXED_MTIME - 3600, usegmt=True)
    async with running_server(FileServer(site.root), CONFIG) as running:
        etag = await _etag(running.port)
        changed = await fetch(
            running.port,
            "/hello.txt",
            headers=[("If-None-Match", '"other"'), ("If-Modified-Since", later)],
        )
        same = await fetch(
            running.port,
            "/hello.txt",
            headers=[("If-None-Match", etag), ("If-Modified-Since", earlier)],
        )
    assert (changed.status, changed.body) == (200, HELLO)
    assert same.status == 304


# -- ranges -----------------------------------------------------------------------------
DATA = bytes(range(256)) * 4  # data.bin, 1024 bytes


@pytest.mark.parametrize(
    ("range_", "start", "end"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=-5", 1019, 1023),
        ("bytes=10-", 10, 1023),
        ("bytes=1000-5000", 1000, 1023),
        ("bytes=1023-1023", 1023, 1023),
        ("bytes=-5000", 0, 1023),
        ("BYTES=0-0", 0, 0),
    ],
)
@fail_after(GUARD)
async def test_single_range(site: Site, range_: str, start: int, end: int) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        response = await fetch(running.port, "/data.bin", headers=[("Range", range_)])
        head = await fetch(running.port, "/data.bin", "HEAD", [("Range", range_)])
    assert response.status == 206
    assert response.body == DATA[start : end + 1]
    assert response.header(b"content-range") == f"bytes {start}-{end}/1024".encode()
    assert response.header(b"content-length") == str(end - start + 1).encode()
    assert head.status == 206
    assert head.body == b""
    assert head.header(b"content-range") == response.header(b"content-range")


@pytest.mark.parametrize(
    "range_", ["bytes=1024-", "bytes=5000-6000", "bytes=-0", "bytes=1024-2000"]
)
@fail_after(GUARD)
async def test_unsatisfiable_range_is_416(site: Site, range_: str) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        response = await fetch(running.port, "/data.bin", headers=[("Range", range_)])
        after = await fetch(running.port, "/data.bin")
    assert response.status == 416
    assert response.header(b"content-range") == b"bytes */1024"
    assert DATA[:16] not in response.body
    assert after.status == 200


@pytest.mark.parametrize(
    "range_", ["bytes=0-1,5-6", "bytes=0-0,-1", "bytes=9-2", "items=0-1", "bytes=x-y", "bytes="]
)
@fail_after(GUARD)
async def test_multi_or_invalid_range_gets_the_whole_file(site: Site, range_: str) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        response = await fetch(running.port, "/data.bin", headers=[("Range", range_)])
    assert response.status == 200
    assert response.body == DATA
    assert response.header(b"content-range") is None


@fail_after(GUARD)
async def test_if_range(site: Site) -> None:
    async with running_server(FileServer(site.root), CONFIG) as running:
        etag = await _etag(running.port, "/data.bin")

        async def ranged(if_range: str) -> tuple[int, bytes]:
            response = await fetch(
                running.port, "/data.bin", headers=[("Range", "bytes=0-9"), ("If-Range", if_range)]
            )
            return response.status, response.body

        assert await ranged(etag) == (206, DATA[:10])
        assert await ranged(FIXED_DATE) == (206, DATA[:10])
        assert await ranged('"stale"') == (200, DATA)
        assert await ranged("W/" + etag) == (200, DATA)  # weak tags never match If-Range
        earlier = email.utils.formatdate(FIXED_MTIME - 60, usegmt=True)
        assert await ranged(earlier) == (200, DATA)


# -- large files ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def big_random(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("big")
    path = root / "big.bin"
    digest = hashlib.sha256()
    with path.open("wb") as file:
        for _ in range(20):
            block = os.urandom(MiB)
            digest.update(block)
            file.write(block)
    return path, digest.hexdigest()


@pytest.mark.parametrize("chunk_size", [65536, 4096, 1000])
@fail_after(60)
async def test_large_file_arrives_intact(big_random: tuple[Path, str], chunk_size: int) -> None:
    path, expected = big_random
    async with running_server(FileServer(path.parent, chunk_size=chunk_size), CONFIG) as running:
        digest = hashlib.sha256()
        received = 0
        async with client() as http, http.stream("GET", running.url + "/big.bin") as response:
            assert response.status == 200
            assert response.headers.get("content-length") == str(20 * MiB)
            async for chunk in response.iter_bytes():
                digest.update(chunk)
                received += len(chunk)
    assert received == 20 * MiB
    assert digest.hexdigest() == expected


@fail_after(60)
async def test_large_file_range_arrives_intact(big_random: tuple[Path, str]) -> None:
    path, _ = big_random
    start, end = 100_001, 7 * MiB + 12_345
    with path.open("rb") as file:
        file.seek(start)
        expected = hashlib.sha256(file.read(end - start + 1)).hexdigest()
    server = FileServer(path.parent, chunk_size=4096)
    async with running_server(server, CONFIG) as running, client() as http:
        response = await http.get(
            running.url + "/big.bin", headers={"Range": f"bytes={start}-{end}"}
        )
    assert response.status == 206
    assert response.headers.get("content-range") == f"bytes {start}-{end}/{20 * MiB}"
    assert hashlib.sha256(response.content).hexdigest() == expected


@fail_after(60)
async def test_large_file_with_download(big_random: tuple[Path, str], tmp_path: Path) -> None:
    path, expected = big_random
    target = tmp_path / "copy.bin"
    async with running_server(FileServer(path.parent), CONFIG) as running:
        response = await trio_webkit.download(running.url + "/big.bin", target)
    assert response.status == 200
    assert hashlib.sha256(target.read_bytes()).hexdigest() == expected


@pytest.mark.parametrize("size", [1, 4095, 4096, 4097, 3 * 4096])
@fail_after(30)
async def test_files_around_one_chunk_arrive_intact(tmp_path: Path, size: int) -> None:
    """A file that fits in one chunk is read whole with its lookup; one byte more
    streams from the producer. Both must give the same bytes, whole and ranged."""
    data = os.urandom(size)
    (tmp_path / "f.bin").write_bytes(data)
    start = size // 3
    server = FileServer(tmp_path, chunk_size=4096)
    async with running_server(server, CONFIG) as running, client() as http:
        whole = await http.get(running.url + "/f.bin")
        part = await http.get(running.url + "/f.bin", headers={"Range": f"bytes={start}-"})
        head = await http.head(running.url + "/f.bin")
    assert (whole.status, whole.content) == (200, data)
    assert whole.headers.get("content-length") == str(size)
    assert (part.status, part.content) == (206, data[start:])
    assert part.headers.get("content-range") == f"bytes {start}-{size - 1}/{size}"
    assert (head.status, head.content, head.headers.get("content-length")) == (200, b"", str(size))
    assert whole.headers.get("etag") == head.headers.get("etag")


# -- a file truncated while it is being sent -------------------------------------------------
def sparse_file(path: Path, size: int) -> Path:
    with path.open("wb") as file:
        file.truncate(size)
    return path


def _failure_logged(caplog: pytest.LogCaptureFixture, target: str) -> bool:
    return any(
        record.name == "trio_webkit.server"
        and record.levelno >= logging.ERROR
        and target in record.getMessage()
        for record in caplog.records
    )


@fail_after(GUARD)
async def test_truncated_mid_response_cuts_the_response_short(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="trio_webkit.server")
    size = 64 * MiB
    big = sparse_file(site.root / "big.bin", size)
    async with running_server(FileServer(site.root), CONFIG) as running:
        stream = await open_connection(running.port)
        async with stream:
            await stream.send_all(request_bytes("/big.bin"))
            start = await read_until(stream, b"\r\n\r\n")
            head, _, body_start = start.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 ")
            assert f"content-length: {size}".encode() in head.lower()
            received = len(body_start)
            while received < MiB:  # a slow reader: the producer is far from the end
                data = await stream.receive_some(65536)
                assert data
                received += len(data)
            os.truncate(big, 4096)
            received += len(await read_until_eof(stream, within=GUARD - 3))
        assert received < size  # cut short, not padded, not a "success"
        assert _failure_logged(caplog, "/big.bin")
        after = await fetch(running.port, "/hello.txt")
        assert (after.status, after.body) == (200, HELLO)


@fail_after(GUARD)
async def test_truncated_mid_response_is_incomplete_body_for_our_client(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="trio_webkit.server")
    size = 64 * MiB
    big = sparse_file(site.root / "big.bin", size)
    received = 0
    async with running_server(FileServer(site.root), CONFIG) as running:
        async with client() as http:
            with pytest.raises(trio_webkit.IncompleteBody):
                async with http.stream("GET", running.url + "/big.bin") as response:
                    assert response.status == 200
                    async for chunk in response.iter_bytes():
                        if not received:
                            os.truncate(big, 0)
                        received += len(chunk)
            assert received < size
            after = await http.get(running.url + "/hello.txt")
        assert (after.status, after.content) == (200, HELLO)
    assert _failure_logged(caplog, "/big.bin")


# -- backpressure: a client that reads nothing --------------------------------------------------
async def _wait_until_parked(stream: trio.SocketStream) -> None:
    """Wait until the server stops sending (the client's buffer stops filling)
    and this process stops reading files: the producer is parked."""
    last_unread, last_read, steady = -1, -1, 0
    while steady < 10:  # 10 samples, 50 ms apart, without progress
        await trio.sleep(0.05)
        unread, read = unread_bytes(stream), bytes_read_by_this_process()
        # Reading /proc/self/io counts too: a few hundred bytes are no progress.
        idle = unread == last_unread and read - last_read < 4096
        steady = steady + 1 if idle and unread > 0 else 0
        last_unread, last_read = unread, read


@fail_after(30)
async def test_a_client_reading_nothing_parks_the_producer(site: Site) -> None:
    size = 50 * MiB
    sparse_file(site.root / "big.bin", size)
    config = trio_webkit.ServerConfig(access_log=False, send_timeout=60)
    started_tracing = not tracemalloc.is_tracing()
    if started_tracing:
        tracemalloc.start()
    try:
        async with running_server(FileServer(site.root), config) as running:
            stream = await open_connection(running.port)
            async with stream:
                baseline = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()
                read_before = bytes_read_by_this_process()
                await stream.send_all(request_bytes("/big.bin"))
                await _wait_until_parked(stream)
                peak = tracemalloc.get_traced_memory()[1]
                read = bytes_read_by_this_process() - read_before
                # Meanwhile everybody else is served.
                other = await fetch(running.port, "/hello.txt")
                assert (other.status, other.body) == (200, HELLO)
    finally:
        if started_tracing:
            tracemalloc.stop()
    assert read < size // 2, read  # about what the socket buffers hold, not the file
    assert peak - baseline < 8 * MiB, peak - baseline


@fail_after(30)
async def test_send_timeout_cuts_a_client_reading_nothing(site: Site) -> None:
    size = 50 * MiB
    big = sparse_file(site.root / "big.bin", size)
    config = trio_webkit.ServerConfig(access_log=False, send_timeout=1)
    async with running_server(FileServer(site.root), config) as running:
        stream = await open_connection(running.port)
        async with stream:
            await stream.send_all(request_bytes("/big.bin"))
            # Polling /proc: the producer's file is observable from outside, nothing else.
            while not open_descriptors(big):  # noqa: ASYNC110 -- the producer opened it
                await trio.sleep(0.02)
            while open_descriptors(big):  # noqa: ASYNC110 -- ... and was cancelled
                await trio.sleep(0.05)
            other = await fetch(running.port, "/hello.txt")
            assert (other.status, other.body) == (200, HELLO)
            received = await read_until_eof(stream, within=10)
        assert received.startswith(b"HTTP/1.1 200 ")
        assert len(received) < size
        assert (await fetch(running.port, "/sub/inner.txt")).status == 200
