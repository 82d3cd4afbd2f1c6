"""HTTP dates (RFC 9110 §5.6.7, IMF-fixdate) via :mod:`email.utils`."""

from __future__ import annotations

import email.utils
import time
from datetime import UTC


def format_http_date(timestamp: float) -> str:
    """``Sun, 06 Nov 1994 08:49:37 GMT`` for a POSIX timestamp."""
    return email.utils.formatdate(timestamp, usegmt=True)


def parse_http_date(value: str) -> float | None:
    """The POSIX timestamp of an HTTP date (any of the three RFC forms), or None."""
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # obsolete forms carry no zone: they mean GMT
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


class DateCache:
    """The current ``Date`` value, formatted at most once a second.

    Formatting costs a few microseconds; a busy server answers thousands of
    requests within the same second.
    """

    __slots__ = ("_second", "_value")

    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def current(self) -> str:
        """The ``Date`` header value for now."""
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._value = format_http_date(now)
        return self._value
