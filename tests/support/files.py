"""A served tree with a secret outside it, and small helpers for FileServer tests.

:func:`build_site` lays out, under a temporary directory ``base``::

    base/
      secret.txt                     <- MARKER inside; must never be served
      outside/secret2.txt            <- MARKER too
      www/                           <- the served root
        hello.txt  page.html  data.bin  .hidden  .hidden_dir/inner.txt
        sub/inner.txt  sub/deeper/leaf.txt
        site/index.html
        link_file     -> ../secret.txt         (relative, file, outside)
        link_abs      -> <base>/secret.txt      (absolute, file, outside)
        link_dir      -> ..                     (directory, outside: base)
        link_outside  -> ../outside             (directory, outside)
        link_chain    -> link_file              (inside link to an outside link)
        link_loop     -> link_loop              (a loop)
        good_link     -> hello.txt              (inside)
        good_dir_link -> sub                    (inside)
        sub/link_up   -> ../..                  (directory, outside: base)

Every file's content is distinct, so a test can tell which file came back.
"""

from __future__ import annotations

import array
import fcntl
import hashlib
import os
import termios
from collections.abc import Iterable, Sequence
from html.parser import HTMLParser
from pathlib import Path

import attrs
import trio

from support.loopback import ParsedResponse, parse_responses, raw_exchange

#: In every secret file; must never appear in any response.
MARKER = b"SECRET-MARKER-7d1f0c2a9b8e4f3d"
#: What the first line of /etc/passwd holds on any Linux box: never served either.
PASSWD_MARKER = b"root:x:0:0"

HELLO = b"hello, file server\n"
#: 2020-01-01T00:00:00Z: a fixed mtime so that dates in tests are known.
FIXED_MTIME = 1577836800
FIXED_DATE = "Wed, 01 Jan 2020 00:00:00 GMT"

#: Awkward but legal POSIX names ("/" cannot be in a name, so the script tag
#: is left unclosed: worse, if it were ever parsed, it would eat the page).
AWKWARD_NAMES = (
    "<script>alert(1)<script>.txt",
    "<img src=x onerror=alert(1)>.txt",
    "a&b.txt",
    'quote".txt',
    "it's.txt",
    "space name.txt",
    "hash#.txt",
    "q?.txt",
    "pct%41.txt",
    "ünï.txt",
    "semi;colon=1.txt",
    "plus+and,comma.txt",
    "javascript:alert(1).txt",
    "&amp;lt;.txt",
    "日本語.txt",
)


#: Every element a listing page has: anything else was injected.
LISTING_TAGS = frozenset(
    [
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "h1",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "a",
    ]
)


@attrs.frozen
class Site:
    """The tree :func:`build_site` made."""

    base: Path
    root: Path
    secret: Path

    def file(self, relative: str) -> Path:
        return self.root / relative


def build_site(base: Path) -> Site:
    """Create the tree described in the module docstring under ``base``."""
    base = base.resolve()
    secret = base / "secret.txt"
    secret.write_bytes(MARKER + b"\n")
    (base / "outside").mkdir()
    (base / "outside" / "secret2.txt").write_bytes(MARKER + b" (2)\n")
    root = base / "www"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "site").mkdir()
    (root / ".hidden_dir").mkdir()
    (root / "hello.txt").write_bytes(HELLO)
    (root / "page.html").write_bytes(b"<!DOCTYPE html><title>page</title><p>page</p>\n")
    (root / "data.bin").write_bytes(bytes(range(256)) * 4)
    (root / ".hidden").write_bytes(b"hidden file\n")
    (root / ".hidden_dir" / "inner.txt").write_bytes(b"inside a hidden directory\n")
    (root / "sub" / "inner.txt").write_bytes(b"sub/inner\n")
    (root / "sub" / "deeper" / "leaf.txt").write_bytes(b"sub/deeper/leaf\n")
    (root / "site" / "index.html").write_bytes(b"<!DOCTYPE html><title>site</title>index\n")
    (root / "link_file").symlink_to("../secret.txt")
    (root / "link_abs").symlink_to(secret)
    (root / "link_dir").symlink_to("..", target_is_directory=True)
    (root / "link_outside").symlink_to("../outside", target_is_directory=True)
    (root / "link_chain").symlink_to("link_file")
    (root / "link_loop").symlink_to("link_loop")
    (root / "good_link").symlink_to("hello.txt")
    (root / "good_dir_link").symlink_to("sub", target_is_directory=True)
    (root / "sub" / "link_up").symlink_to("../..", target_is_directory=True)
    for path in (root / "hello.txt", root / "page.html", root / "data.bin"):
        os.utime(path, (FIXED_MTIME, FIXED_MTIME))
    return Site(base, root, secret)


def awkward_content(name: str) -> bytes:
    """The content of the awkward file ``name``: names itself, so a mix-up shows."""
    return f"content of {name}\n".encode()


def build_awkward(directory: Path, names: Iterable[str] = AWKWARD_NAMES) -> None:
    """Create one file per awkward name in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_bytes(awkward_content(name))


def request_bytes(
    target: str | bytes,
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """A raw ``Connection: close`` request for ``target``, sent exactly as given."""
    raw_target = target if isinstance(target, bytes) else target.encode("latin-1")
    lines = [f"{name}: {value}\r\n".encode("latin-1") for name, value in headers]
    return (
        method.encode("ascii")
        + b" "
        + raw_target
        + b" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
        + b"".join(lines)
        + b"\r\n"
    )


async def exchange(
    port: int,
    target: str | bytes,
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (),
) -> tuple[bytes, ParsedResponse]:
    """Send one raw request; return the raw bytes and the one parsed response."""
    raw = await raw_exchange(port, request_bytes(target, method, headers))
    responses = parse_responses(raw, [method])
    assert len(responses) == 1, raw[:500]
    return raw, responses[0]


async def fetch(
    port: int,
    target: str | bytes,
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (),
) -> ParsedResponse:
    """:func:`exchange` without the raw bytes."""
    return (await exchange(port, target, method, headers))[1]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def open_descriptors(path: Path) -> int:
    """How many descriptors this process holds open on ``path`` (Linux ``/proc``)."""
    wanted = str(path)
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == wanted
        except OSError:  # closed meanwhile (or the listing's own descriptor)
            continue
    return count


def bytes_read_by_this_process() -> int:
    """``rchar`` of ``/proc/self/io``: bytes this process got from read/pread calls."""
    with open("/proc/self/io") as io:
        for line in io:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def unread_bytes(stream: trio.SocketStream) -> int:
    """Bytes waiting in the receive buffer of ``stream``'s socket (``FIONREAD``)."""
    count = array.array("i", [0])
    fcntl.ioctl(stream.socket.fileno(), termios.FIONREAD, count)
    return count[0]


@attrs.define
class Page:
    """What :func:`parse_page` found in an HTML document."""

    tags: list[str] = attrs.Factory(list)  # every start tag, in order
    anchors: list[tuple[str, str]] = attrs.Factory(list)  # (href, text)
    texts: list[str] = attrs.Factory(list)  # every text node, entities decoded
    title: str = ""
    pre: list[str] = attrs.Factory(list)  # the text of each <pre>


def parse_page(html: str) -> Page:
    """Parse ``html`` the way a browser tokenizes it (entities decoded)."""
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector.page


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._href: str | None = None
        self._anchor_text: list[str] = []
        self._in_title = False
        self._pre: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.page.tags.append(tag)
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._anchor_text = []
        elif tag == "title":
            self._in_title = True
        elif tag == "pre":
            self._pre = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.page.anchors.append((self._href, "".join(self._anchor_text)))
            self._href = None
        elif tag == "title":
            self._in_title = False
        elif tag == "pre" and self._pre is not None:
            self.page.pre.append("".join(self._pre))
            self._pre = None

    def handle_data(self, data: str) -> None:
        self.page.texts.append(data)
        if self._href is not None:
            self._anchor_text.append(data)
        if self._in_title:
            self.page.title += data
        if self._pre is not None:
            self._pre.append(data)
