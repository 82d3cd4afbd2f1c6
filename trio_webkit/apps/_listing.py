"""The HTML directory listing: a pure function from entries to a page.

A file name is whatever the disk holds (``<script>``, quotes, ``&``, ``#``,
``?``, ``%``, spaces, any Unicode), so it is never pasted into the page raw:

* in text it goes through :func:`html.escape` with ``quote=True`` (HTML
  Living Standard §13.1: ``<``, ``>``, ``&`` and both quotes escaped), so it
  is displayed, never parsed as markup;
* in ``href`` it is percent-encoded whole with :func:`urllib.parse.quote`
  and ``safe=""`` (RFC 3986 §2.1), so ``#`` and ``?`` cannot start a fragment
  or a query, ``:`` cannot make a scheme (``javascript:``) and ``%`` is
  literal; directories get a trailing ``/``. The link is relative to the
  listed directory, whose URL ends with ``/`` (the server redirects to add it).
  The attribute value is double-quoted and escaped too, so nothing, such as
  ``"onmouseover=alert(1)``, can leave it.

A name that is not valid Unicode (undecodable bytes on disk, held by Python
as lone surrogates) or has a control character cannot be requested through
the file server, so it is shown with U+FFFD in place of those characters and
without a link.

Directories come first, then files, each sorted case-insensitively; sizes
are binary multiples ("1.2 KiB"), dates are UTC to the minute.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from urllib.parse import quote

import attrs

__all__ = ["Entry", "render_listing"]

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Index of {title}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
td, th {{ padding: 0.15em 1.5em 0.15em 0; text-align: left; }}
td.size {{ text-align: right; }}
</style>
</head>
<body>
<h1>Index of {title}</h1>
<table>
<thead><tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</body>
</html>
"""

_PARENT_ROW = '<tr><td><a href="../">../</a></td><td class="size">-</td><td></td></tr>'


@attrs.frozen
class Entry:
    """One directory entry to list.

    Attributes:
        name: The file name on disk (any characters a file system allows).
        is_dir: Whether it is a directory (listed first, linked with ``/``).
        size: Size in bytes (ignored for directories).
        mtime: Modification time, POSIX seconds.
    """

    name: str
    is_dir: bool
    size: int
    mtime: float


def render_listing(url_path: str, entries: Sequence[Entry]) -> str:
    """A complete HTML5 page listing ``entries`` for the directory at ``url_path``.

    Args:
        url_path: The directory's decoded URL path, shown in the title and
            heading (escaped); ``/`` gets no parent link.
        entries: The directory's entries, in any order (hidden ones already
            filtered out by the caller if it wants them hidden).

    Returns:
        The page as text, to be encoded as UTF-8.
    """
    rows = [] if url_path in ("/", "") else [_PARENT_ROW]
    rows.extend(_row(entry) for entry in sorted(entries, key=_sort_key))
    return _PAGE.format(title=escape(_displayable(url_path)), rows="\n".join(rows))


def _sort_key(entry: Entry) -> tuple[bool, str, str]:
    """Directories first, then case-insensitive name order (exact name breaks ties)."""
    return (not entry.is_dir, entry.name.casefold(), entry.name)


def _row(entry: Entry) -> str:
    """One table row: linked name, size, modification time."""
    shown = entry.name + "/" if entry.is_dir else entry.name
    text = escape(_displayable(shown))
    if _linkable(entry.name):
        href = quote(entry.name, safe="") + ("/" if entry.is_dir else "")
        name_cell = f'<a href="{escape(href)}">{text}</a>'
    else:
        name_cell = text
    size = "-" if entry.is_dir else human_size(entry.size)
    return (
        f'<tr><td>{name_cell}</td><td class="size">{size}</td>'
        f"<td>{escape(_utc_minute(entry.mtime))}</td></tr>"
    )


def _linkable(name: str) -> bool:
    """Whether the file server could serve ``name``: valid Unicode, no control character."""
    if name.isprintable():
        return True
    return not any(_bad_char(char) for char in name)


def _bad_char(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cs")


def _displayable(text: str) -> str:
    """``text`` with lone surrogates and control characters replaced by U+FFFD."""
    if text.isprintable():
        return text
    return "".join("\ufffd" if _bad_char(char) else char for char in text)


def human_size(size: int) -> str:
    """``size`` bytes in binary units: ``"512 B"``, ``"1.2 KiB"``, ``"3.0 GiB"``."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in _UNITS:
        value /= 1024
        if round(value, 1) < 1024 or unit == _UNITS[-1]:
            break
    return f"{value:.1f} {unit}"


def _utc_minute(mtime: float) -> str:
    """``YYYY-MM-DD HH:MM`` in UTC, or ``-`` for a time no calendar can hold."""
    try:
        return datetime.fromtimestamp(mtime, UTC).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):
        return "-"
