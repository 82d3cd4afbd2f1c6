"""Request heads already parsed and accepted, reused when the same bytes come again.

Theory of operation
-------------------
h11 parses a request head on a fresh connection as a pure function of its
bytes, and every check the server adds (:mod:`._request_checks`) is a pure
function of the head too. So when a head arrives that is byte for byte one
the server already parsed and accepted, the earlier result *is* what
parsing it again would give, and costs a dictionary lookup instead of the
largest part of a small request. Pollers, health checks, API clients
repeating a call and load generators send such heads.

Only heads that are safe to reuse are kept: accepted, without a body (no
Content-Length, no Transfer-Encoding: nothing after the head belongs to
the request), not a CONNECT or Upgrade (which h11 pauses at), and small.
A lookup matches the bytes up to the first empty line: a kept head has no
other empty line (bare LF or CR would have been refused), so a match ends
exactly where h11 would end the head.

The cache is bounded (entries and bytes each), emptied when full, and held
per :class:`Server`. It keeps no per-client data: a response's speed tells
a client only whether the exact bytes it sent were seen before, which it
can already learn by sending them.
"""

from __future__ import annotations

import h11

#: Heads larger than this are parsed every time.
MAX_HEAD_BYTES = 2048
#: How many heads are kept (so at most MAX_ENTRIES * MAX_HEAD_BYTES of heads).
MAX_ENTRIES = 256
_END = b"\r\n\r\n"


class KnownHead:
    """A request head h11 parsed and the checks accepted, and what they decided."""

    __slots__ = ("event", "keep_alive", "method", "raw", "target", "version")

    def __init__(self, raw: bytes, event: h11.Request, version: str, keep_alive: bool) -> None:
        self.raw = raw  # the head's bytes, up to and including its empty line
        self.event = event
        self.method = event.method.decode("ascii")
        self.target = event.target.decode("latin-1")
        self.version = version
        self.keep_alive = keep_alive  # as far as the request goes


class HeadCache:
    """Accepted bodyless heads by their exact bytes, at most :data:`MAX_ENTRIES`."""

    __slots__ = ("_heads",)

    def __init__(self) -> None:
        self._heads: dict[bytes, KnownHead] = {}

    def find(self, data: bytes) -> KnownHead | None:
        """The known head ``data`` starts with, if any."""
        if not self._heads:
            return None
        end = data.find(_END, 0, MAX_HEAD_BYTES)
        return None if end < 0 else self._heads.get(data[: end + len(_END)])

    def add(self, head: KnownHead) -> None:
        """Keep ``head`` (the caller checked it is bodyless, accepted, plain)."""
        if len(head.raw) > MAX_HEAD_BYTES:
            return
        heads = self._heads
        if len(heads) >= MAX_ENTRIES:
            # Start afresh: heads that repeat come back at once. (Evicting the
            # oldest one by one costs more: a dict emptied from the front
            # makes every next(iter()) skip the holes left behind.)
            heads.clear()
        heads[head.raw] = head

    def __len__(self) -> int:
        return len(self._heads)
