"""Safe mapping of a request path to a file under the served root.

The seed's file server joined the request path onto its root and said so:
"this is not safe!". Here the mapping is two steps, each with one job.

:func:`request_segments` works on the *raw* (still percent-encoded) path,
RFC 3986 §3.3. It splits on ``/`` **before** decoding, so an encoded slash
(``%2F``) can never become a separator, then decodes each segment exactly
once as strict UTF-8 (RFC 3986 §2.5): double encoding (``%252e``) stays a
literal ``%2e``, and overlong or otherwise invalid UTF-8 (``%c0%ae``) is
refused. A decoded segment is refused when it

* is ``.`` or ``..``, or made only of dots and spaces (``...``, ``.. ``: some
  file systems strip trailing dots and spaces, turning those into ``..``);
* contains ``/``, ``\\``, NUL or any other control character;
* looks like a drive (``C:``, ``c:x``), which would make it absolute on Windows;
* is malformed (a ``%`` not followed by two hex digits) or longer than a file
  system allows (more than 255 UTF-8 bytes, or a path past 4096 bytes).

Empty segments (``//``) are dropped; whether the path ends with ``/`` is the
caller's business. Refusing instead of normalising is deliberate: clients
remove dot segments before sending (RFC 3986 §5.2.4), so a request that still
has them is not from a browser following links.

:func:`resolve` joins the segments onto the root (already absolute and
resolved) and checks the file system:

* hidden names (a leading ``.``) are refused unless ``show_hidden``;
* without ``follow_symlinks`` no component below the root may be a symlink
  (checked with :func:`os.lstat` on each prefix, stopping at the first one
  that does not exist);
* with ``follow_symlinks`` the real path must still be the root or inside it
  (and not hidden), so a link pointing out of the root is refused even then.

Both functions raise only :class:`PathRejected`; the caller answers 404
without saying why. They make blocking ``os`` calls and run in a worker
thread. A symlink swapped in between this check and the caller's ``open`` is
outside their reach (the root's writers are trusted). Windows-only names
(alternate data streams, device names such as ``CON``) are not handled: the
server is built and tested on POSIX.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote_to_bytes

__all__ = ["PathRejected", "request_segments", "resolve"]

MAX_SEGMENT_BYTES = 255  # NAME_MAX on common file systems
MAX_PATH_BYTES = 4096  # PATH_MAX on Linux, for the part below the root

_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DRIVE = re.compile(r"[A-Za-z]:")
_MISSING = (errno.ENOENT, errno.ENOTDIR)


class PathRejected(Exception):
    """The request path can never be served: the caller answers 404, saying nothing more."""


def request_segments(raw_path: str) -> list[str]:
    """Split a raw request path into decoded, individually checked segments.

    Args:
        raw_path: The path part of the request target, still percent-encoded
            (no query string).

    Returns:
        The decoded segments in order, empty ones (from ``//``, or a leading
        or trailing ``/``) dropped.

    Raises:
        PathRejected: A segment is malformed, invalid UTF-8 once decoded, a
            dot segment, contains a separator or control character, looks
            like a drive, or the path is too long.
    """
    segments = [_decoded(raw) for raw in raw_path.split("/") if raw]
    total = sum(len(segment.encode("utf-8")) + 1 for segment in segments)
    if total > MAX_PATH_BYTES:
        raise PathRejected("path too long")
    return segments


def _decoded(raw: str) -> str:
    """One raw segment, percent-decoded once and checked."""
    if "%" not in raw:
        segment = raw
    elif _STRAY_PERCENT.search(raw):
        raise PathRejected("malformed percent-encoding")
    else:
        try:
            segment = unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise PathRejected("not UTF-8") from None
    _check_segment(segment)
    return segment


def _check_segment(segment: str) -> None:
    """Raise :class:`PathRejected` unless ``segment`` is a plain file name."""
    if not segment or not segment.strip(". "):
        raise PathRejected("dot segment")
    if "/" in segment or "\\" in segment or _has_control(segment):
        raise PathRejected("separator or control character")
    if _DRIVE.match(segment):
        raise PathRejected("drive")
    try:
        size = len(segment.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate, only if a caller built one
        raise PathRejected("not UTF-8") from None
    if size > MAX_SEGMENT_BYTES:
        raise PathRejected("name too long")


def _has_control(segment: str) -> bool:
    """True when ``segment`` has a C0/C1 control character, DEL or NUL."""
    if segment.isprintable():  # fast path: most names
        return False
    return any(unicodedata.category(char) == "Cc" for char in segment)


def resolve(
    root: Path, segments: Sequence[str], *, follow_symlinks: bool, show_hidden: bool
) -> Path:
    """The path under ``root`` that ``segments`` name, or :class:`PathRejected`.

    Args:
        root: The served directory, absolute and already resolved.
        segments: Decoded segments, as :func:`request_segments` returns them
            (checked again here, so this function is safe on its own).
        follow_symlinks: Allow symlinks below the root, as long as the real
            path stays inside it.
        show_hidden: Allow names starting with ``.``.

    Returns:
        The path to serve; it may not exist (the caller stats it and answers
        404). With ``follow_symlinks`` it is the *real* path, the one that
        was checked, so a Content-Type guessed from it follows the link's
        target.

    Raises:
        PathRejected: A segment is not a plain name, is hidden, or the path
            goes through a symlink (any symlink without ``follow_symlinks``,
            one leading out of the root with it).
    """
    for segment in segments:
        _check_segment(segment)
        if not show_hidden and segment.startswith("."):
            raise PathRejected("hidden")
    # String joins, not pathlib's: this runs for every request, and a plain
    # name checked above can only add a level below the root.
    path = os.path.join(root, *segments)
    if follow_symlinks:
        return _real_path_inside(root, path, show_hidden=show_hidden)
    _refuse_symlinks(root, segments)
    return Path(path)


def _refuse_symlinks(root: Path, segments: Sequence[str]) -> None:
    """Raise :class:`PathRejected` if any existing component below ``root`` is a symlink."""
    current = str(root)
    for segment in segments:
        current = os.path.join(current, segment)
        try:
            mode = os.lstat(current).st_mode
        except OSError as exc:
            if exc.errno in _MISSING:
                return  # nothing below a missing component exists: no symlink either
            raise PathRejected("cannot inspect") from None
        except ValueError:  # unencodable for the file system
            raise PathRejected("cannot inspect") from None
        if stat.S_ISLNK(mode):
            raise PathRejected("symlink")


def _real_path_inside(root: Path, path: str, *, show_hidden: bool) -> Path:
    """The real path of ``path`` if it is ``root`` or below it (and visible)."""
    try:
        # os.path.realpath (not Path.resolve) because it never raises on loops:
        # a looping link resolves to some path the caller fails to open (404).
        real = Path(os.path.realpath(path))
    except (OSError, ValueError):
        raise PathRejected("cannot resolve") from None
    if not real.is_relative_to(root):
        raise PathRejected("symlink out of root")
    if not show_hidden and any(part.startswith(".") for part in real.relative_to(root).parts):
        raise PathRejected("hidden target")
    return real
