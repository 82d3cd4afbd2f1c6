"""FileServer: serve a directory tree, safely, with ranges and conditional requests.

The classic asynchat file server joined the request path to its root
("this is not safe!") and pushed a producer reading 2 KiB at a time. Here
the request path is decoded segment by segment and resolved by
:mod:`._paths`, which refuses anything that could leave the root
(``..`` in any encoding, backslashes, NUL, symlinks out of the root); the
body comes from a producer task reading ``chunk_size`` pieces into the
response's bounded channel, so a slow client parks it. The event loop
never waits for the disk: every filesystem call runs in a worker thread,
except the producer's reads of what is already in the page cache (see
:mod:`._file_producer`). A thread trip costs more than the rest of a
small request, so a GET makes at most one: the worker that finds the file
also reads it when it fits in one chunk (sent with the head, no producer
needed); a larger file streams from the producer. Concurrent requests
share trips (:class:`._thread_batch.ThreadBatch`): the lookups queued
while one trip is out all go on the next.
"""

from __future__ import annotations

import errno
import functools
import mimetypes
import os
import stat
from pathlib import Path
from typing import final

import attrs
import trio

from .._httpdate import format_http_date
from .._request import Request
from .._response import Response
from ._conditional import (
    RangeNotSatisfiable,
    if_range_allows,
    make_etag,
    not_modified,
    parse_range,
)
from ._file_producer import file_producer, open_for_reading
from ._listing import Entry, render_listing
from ._paths import PathRejected, request_segments, resolve
from ._thread_batch import ThreadBatch

_ALLOWED = "GET, HEAD"
#: Worker threads a FileServer reads the disk with, at most, at a time.
DISK_THREADS = 4
#: Errors that mean "nothing to serve here" (404); any other OSError is a 500.
_NOT_SERVABLE = frozenset(
    {errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENAMETOOLONG, errno.EACCES, errno.EPERM}
)


@attrs.frozen
class _Found:
    """What the request path points at, looked up in a worker thread."""

    path: Path
    stat: os.stat_result
    name: str  # the name asked for (a followed symlink's own, not its target's)
    content: bytes | None = None  # the whole file, read with ``stat`` when small
    index: _Found | None = None  # a directory's index file, when asked for and there


@attrs.frozen
class _Wanted:
    """One lookup for the worker thread: what a request asks for."""

    segments: list[str]
    read_small: bool  # read a file that fits in one chunk (a GET)
    with_index: bool  # look for the index file too, if it is a directory


@final
class FileServer:
    """A handler serving the files under ``root`` (GET and HEAD).

    Args:
        root: the directory to serve; nothing outside it is ever served.
        chunk_size: bytes per read, and per chunk sent.
        listing: answer a directory without an index file with an HTML
            listing (otherwise 403).
        index: the file served for a directory (``None``: none).
        follow_symlinks: serve symlinks that point *inside* the root (ones
            pointing outside are refused either way).
        show_hidden: serve and list names starting with ``.``.

    Raises:
        FileNotFoundError: ``root`` does not exist.
        NotADirectoryError: ``root`` is not a directory.
        ValueError: ``chunk_size`` is not positive.

    Answers: 200 with Content-Type from :mod:`mimetypes`, Last-Modified,
    ETag and Accept-Ranges; 304 for a matching If-None-Match or
    If-Modified-Since; 206 for one satisfiable ``Range`` (416 when not
    satisfiable; several ranges get the whole file, 200); 301 adding the
    trailing slash of a directory (query kept); 404 for anything missing
    or refused; 405 with ``Allow`` for other methods.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        chunk_size: int = 65536,
        listing: bool = True,
        index: str | None = "index.html",
        follow_symlinks: bool = False,
        show_hidden: bool = False,
    ) -> None:
        resolved = Path(root).resolve(strict=True)
        if not resolved.is_dir():
            raise NotADirectoryError(f"not a directory: {root}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, not {chunk_size}")
        self.root = resolved
        self.chunk_size = chunk_size
        self.listing = listing
        self.index = index
        self.follow_symlinks = follow_symlinks
        self.show_hidden = show_hidden
        # Every disk access goes through a few worker threads of its own: a
        # thread's allocations stay in its own malloc arena, so reading in
        # many threads at once costs memory long after (about 1 MiB a
        # thread under ten concurrent downloads), while the disk is no
        # faster for it. Concurrent requests share trips for their lookups.
        self._threads = trio.CapacityLimiter(DISK_THREADS)
        self._lookups = ThreadBatch(self._lookup, limiter=self._threads)

    async def __call__(self, request: Request) -> Response:
        """Answer one request (see the class docstring).

        Filesystem calls run in a worker thread. A file that fits in one
        chunk is read there with its lookup and sent whole; a larger one is
        a producer reading ``chunk_size`` pieces, so it is read only as fast
        as the client takes it.

        Args:
            request: a request; its raw path is resolved under ``root``.

        Returns:
            The response: a file (200, 206 or 304), a listing (200), a
            redirect (301) or an error (403, 404, 405, 416).
        """
        if request.method not in ("GET", "HEAD"):
            return _text(405, "405 Method Not Allowed\n", [("Allow", _ALLOWED)])
        try:
            segments = request_segments(request.raw_path)
        except PathRejected:
            return _not_found()
        with_index = self.index is not None and request.raw_path.endswith("/")
        found = await self._lookups.run(_Wanted(segments, request.method == "GET", with_index))
        if found is None:
            return _not_found()
        if stat.S_ISDIR(found.stat.st_mode):
            return await self._directory(request, found)
        if not stat.S_ISREG(found.stat.st_mode) or request.raw_path.endswith("/"):
            # Devices, sockets, fifos: never. A file asked for as a directory
            # ("/a.txt/") is not the file: one URL per file, as nginx does.
            return _not_found()
        return self._file(request, found)

    def _lookup(self, wanted: _Wanted) -> _Found | None:
        """What the request path names (in a worker thread); None when it cannot be served.

        A directory asked for with its trailing slash comes with its index
        file, if it has one: one thread trip for both.
        """
        segments = wanted.segments
        name = segments[-1] if segments else self.root.name
        found = self._find(segments, name, wanted.read_small)
        if found is None or not wanted.with_index or not stat.S_ISDIR(found.stat.st_mode):
            return found
        assert self.index is not None
        index = self._find([*segments, self.index], self.index, wanted.read_small)
        if index is None or not stat.S_ISREG(index.stat.st_mode):
            return found
        return attrs.evolve(found, index=index)

    def _find(self, segments: list[str], name: str, read_small: bool) -> _Found | None:
        """Resolve and stat ``segments``, and read a small regular file if asked.

        None (a 404) when nothing servable is there; any other OSError is
        the server's trouble (a 500) and propagates.
        """
        try:
            path = resolve(
                self.root,
                segments,
                follow_symlinks=self.follow_symlinks,
                show_hidden=self.show_hidden,
            )
            found = _Found(path, os.stat(path), name)
            if read_small and stat.S_ISREG(found.stat.st_mode):
                return self._with_small_content(found)
            return found
        except (PathRejected, ValueError):
            return None
        except OSError as error:
            if error.errno in _NOT_SERVABLE:
                return None
            raise  # EIO, EMFILE...: the server's trouble, a 500, not a 404

    def _with_small_content(self, found: _Found) -> _Found:
        """``found`` with its content when it fits in one chunk (else as it was).

        Size and dates come from the open file, so they describe the bytes
        read; a file changing meanwhile is left to the streaming path.
        """
        if found.stat.st_size > self.chunk_size:
            return found
        fd = open_for_reading(found.path)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > self.chunk_size:
                return found
            content = os.pread(fd, info.st_size + 1, 0)
        finally:
            os.close(fd)
        if len(content) != info.st_size:
            return found  # changed while read: the producer reads it again and checks
        return _Found(found.path, info, found.name, content)

    async def _directory(self, request: Request, found: _Found) -> Response:
        if not request.raw_path.endswith("/"):
            # Relative to the request URL, so it works under a Router mount, and
            # "./" first so that neither "//host" nor "name:" can turn it into
            # another site or scheme (an open redirect).
            last = request.raw_path.rsplit("/", 1)[-1]
            location = f"./{last}/" + (f"?{request.query}" if request.query else "")
            return _text(301, "301 Moved Permanently\n", [("Location", location)])
        if found.index is not None:
            return self._file(request, found.index)
        if not self.listing:
            return _text(403, "403 Forbidden\n")
        entries = await trio.to_thread.run_sync(self._entries, found.path, limiter=self._threads)
        page = render_listing(request.path, entries)
        return Response(
            200,
            [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-cache")],
            page,
        )

    def _entries(self, directory: Path) -> list[Entry]:
        """What the listing shows: exactly the names a request would be served."""
        parts = directory.relative_to(self.root).parts
        entries = []
        with os.scandir(directory) as scan:
            for item in scan:
                try:  # the same rules as a request for the name: nothing refused is shown
                    path = resolve(
                        self.root,
                        [*parts, item.name],
                        follow_symlinks=self.follow_symlinks,
                        show_hidden=self.show_hidden,
                    )
                    info = path.stat()
                except (PathRejected, OSError, ValueError):
                    continue  # refused, vanished, or a dangling symlink
                is_dir = stat.S_ISDIR(info.st_mode)
                if not is_dir and not stat.S_ISREG(info.st_mode):
                    continue
                size = 0 if is_dir else info.st_size
                entries.append(Entry(item.name, is_dir, size, info.st_mtime))
        return entries

    def _file(self, request: Request, found: _Found) -> Response:
        info = found.stat
        etag = make_etag(info.st_size, info.st_mtime_ns)
        validators = [
            ("Last-Modified", _last_modified(info.st_mtime)),
            ("ETag", etag),
            ("Accept-Ranges", "bytes"),
        ]
        if not_modified(request.headers, etag, info.st_mtime):
            return Response(304, validators)
        headers = [("Content-Type", _content_type(found.name)), *validators]
        size = info.st_size
        start, length, status = 0, size, 200
        if if_range_allows(request.headers, etag, info.st_mtime):
            wanted = parse_range(request.headers.get("range"), size)
            if isinstance(wanted, RangeNotSatisfiable):
                headers.append(("Content-Range", f"bytes */{size}"))
                return Response(416, headers, b"")
            if wanted is not None:
                start, end = wanted
                length, status = end - start + 1, 206
                headers.append(("Content-Range", f"bytes {start}-{end}/{size}"))
        headers.append(("Content-Length", str(length)))
        if request.method == "HEAD" or length == 0:
            return Response(status, headers, b"")
        if found.content is not None:
            return Response(status, headers, found.content[start : start + length])
        producer = file_producer(found.path, start, length, self.chunk_size, self._threads)
        return Response(status, headers, producer=producer)


@functools.lru_cache(maxsize=1024)  # a pure function of the name, asked for on every request
def _content_type(name: str) -> str:
    kind, encoding = mimetypes.guess_type(name)
    if kind is None or encoding is not None:  # e.g. .tar.gz: bytes, not text
        return "application/octet-stream"
    if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
        return f"{kind}; charset=utf-8"
    return kind


@functools.lru_cache(maxsize=1024)  # a busy server sends the same few files' dates
def _last_modified(mtime: float) -> str:
    return format_http_date(mtime)


def _text(status: int, body: str, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, [("Content-Type", "text/plain; charset=utf-8"), *(headers or [])], body)


def _not_found() -> Response:
    return _text(404, "404 Not Found\n")
