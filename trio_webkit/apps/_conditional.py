"""Validators, conditional requests and byte ranges for static files: pure functions.

Validators (RFC 9110 §8.8): :func:`make_etag` builds a *strong* entity-tag
from the file's size and modification time in nanoseconds, as static servers
commonly do; ``Last-Modified`` is the mtime, which HTTP dates carry to the
whole second.

Preconditions, in the order RFC 9110 §13.2.2 evaluates them for GET/HEAD:

* ``If-None-Match`` (§13.1.2) uses the *weak* comparison (§8.8.3.2: ``W/``
  ignored), ``*`` matches any current file, and the field is a list (several
  fields are one list). When it is present ``If-Modified-Since`` is ignored.
* ``If-Modified-Since`` (§13.1.3): not modified when the mtime, truncated to
  the second, is not later than the date. An invalid date, or a field with
  several members, is ignored.
* ``If-Range`` (§13.1.5) with an entity-tag needs the *strong* comparison (a
  weak tag never matches); with a date, the date must equal
  ``Last-Modified`` exactly. Anything else means "send the whole file".

Ranges (§14.1.2, §14.2): only the ``bytes`` unit (case-insensitive) with
exactly one range-spec is honoured: ``a-b``, ``a-`` or the suffix ``-n``; the
end is clamped to the last byte and a suffix longer than the file means the
whole file. A range starting at or past the end, a ``-0`` suffix, or any range
of an empty file is unsatisfiable (416 with ``Content-Range: bytes */size``).
Syntactically invalid fields (including ``a-b`` with ``b < a``), other units
and **several ranges** are ignored (§14.2 allows it): the whole file is sent
with 200. That keeps us out of ``multipart/byteranges`` and its
many-small-ranges amplification risk (§14.2: servers ought to limit it).
"""

from __future__ import annotations

import math
import re

import attrs

from .._headers import Headers
from .._httpdate import parse_http_date

__all__ = [
    "RangeNotSatisfiable",
    "if_range_allows",
    "make_etag",
    "not_modified",
    "parse_range",
]

# entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE  (RFC 9110 §8.8.3); commas are
# legal inside the quotes, so a list is scanned for tags, never split on ",".
_ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')
_RANGE_SPEC = re.compile(r"([0-9]*)-([0-9]*)")  # [0-9], not \d: no Unicode digits
_HUGE = 1 << 63  # stands for any number too long to be a real offset


@attrs.frozen
class RangeNotSatisfiable:
    """:func:`parse_range`'s answer when the range cannot be served: answer 416."""


def make_etag(size: int, mtime_ns: int) -> str:
    """A strong entity-tag for a file: ``"<size hex>-<mtime_ns hex>"``, quotes included."""
    return f'"{size:x}-{mtime_ns:x}"'


def not_modified(headers: Headers, etag: str, mtime: float) -> bool:
    """Whether a GET/HEAD should be answered 304 Not Modified.

    Args:
        headers: The request headers.
        etag: The file's current entity-tag (from :func:`make_etag`).
        mtime: The file's modification time (POSIX seconds).

    Returns:
        True when ``If-None-Match`` matches ``etag`` (weakly); when that
        field is absent, True when ``If-Modified-Since`` is a valid date no
        earlier than the mtime truncated to the second.
    """
    if_none_match = headers.get_all("If-None-Match")
    if if_none_match:
        return _any_tag_matches(", ".join(if_none_match), etag, strong=False)
    since = headers.get_all("If-Modified-Since")
    if len(since) != 1:
        return False
    date = parse_http_date(since[0])
    return date is not None and math.floor(mtime) <= date


def if_range_allows(headers: Headers, etag: str, mtime: float) -> bool:
    """Whether a ``Range`` may be honoured given ``If-Range`` (RFC 9110 §13.1.5).

    Args:
        headers: The request headers.
        etag: The file's current (strong) entity-tag.
        mtime: The file's modification time (POSIX seconds).

    Returns:
        True when ``If-Range`` is absent, is an entity-tag that strongly
        matches ``etag``, or is an HTTP date equal to the Last-Modified
        second; False otherwise (serve the whole file with 200).
    """
    value = headers.get("If-Range")
    if value is None:
        return True
    value = value.strip()
    if value.startswith(('"', "W/")):
        tag = _ENTITY_TAG.fullmatch(value)
        return tag is not None and _any_tag_matches(value, etag, strong=True)
    date = parse_http_date(value)
    return date is not None and date == math.floor(mtime)


def _any_tag_matches(field: str, etag: str, *, strong: bool) -> bool:
    """Whether the entity-tag list ``field`` (or ``*``) matches ``etag``."""
    if field.strip() == "*":
        return True
    ours = _ENTITY_TAG.fullmatch(etag)
    if ours is None or (strong and ours[1]):
        return False
    return any(tag[2] == ours[2] and not (strong and tag[1]) for tag in _ENTITY_TAG.finditer(field))


def parse_range(value: str | None, size: int) -> tuple[int, int] | RangeNotSatisfiable | None:
    """The one byte range to serve from a ``Range`` field (RFC 9110 §14.1.2, §14.2).

    Args:
        value: The ``Range`` field value, or None when absent.
        size: The file's length in bytes.

    Returns:
        ``(start, end)`` with ``end`` inclusive for one satisfiable range;
        None to serve the whole file (no field, another unit, invalid syntax,
        several ranges); a :class:`RangeNotSatisfiable` instance for 416.
    """
    if value is None:
        return None
    unit, sep, range_set = value.strip().partition("=")
    if not sep or unit.lower() != "bytes":
        return None
    specs = [spec.strip(" \t") for spec in range_set.split(",")]
    specs = [spec for spec in specs if spec]  # #rule: empty list elements are allowed
    if len(specs) != 1:
        return None
    match = _RANGE_SPEC.fullmatch(specs[0])
    if match is None:
        return None
    first, last = match.groups()
    if first:
        return _int_range(_number(first), _number(last) if last else None, size)
    if last:
        return _suffix_range(_number(last), size)
    return None  # "-" alone


def _int_range(
    first: int, last: int | None, size: int
) -> tuple[int, int] | RangeNotSatisfiable | None:
    """``first-last`` or ``first-``: clamped, or unsatisfiable past the end."""
    if last is not None and last < first:
        return None  # invalid range-spec: ignore the field
    if first >= size:
        return RangeNotSatisfiable()
    end = size - 1 if last is None else min(last, size - 1)
    return first, end


def _suffix_range(length: int, size: int) -> tuple[int, int] | RangeNotSatisfiable:
    """``-length``: the last ``length`` bytes (the whole file when longer)."""
    if length == 0 or size == 0:
        return RangeNotSatisfiable()
    return max(size - length, 0), size - 1


def _number(digits: str) -> int:
    """The value of ASCII ``digits``; anything past 18 significant digits is huge.

    Python refuses ``int()`` on strings of more than 4300 digits, and no file
    is that large anyway.
    """
    digits = digits.lstrip("0") or "0"
    return _HUGE if len(digits) > 18 else int(digits)
