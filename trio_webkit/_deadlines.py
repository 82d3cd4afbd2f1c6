"""Connection deadlines: one cancel scope per connection, armed at every wait.

Theory of operation
-------------------
A server connection changes phase three times per request (idle → handler
→ send → idle) and each phase has its own limit. A fresh
``trio.move_on_after`` per wait costs about 5 µs, moving the deadline of a
scope entered once about 2.5 µs (trio re-registers it in its deadline
heap); three times per request that is a tenth of the whole request. So a
connection owns one :class:`trio.CancelScope` for its whole life and a
*timer* that says when it must be cancelled:

* :class:`ScopeTimer` moves the scope's own deadline (trio enforces it
  exactly). Used where no :class:`Timekeeper` runs, e.g. a lone
  ``serve_connection`` in a test.
* :class:`WatchedTimer` only records the deadline; the server's
  :class:`Timekeeper` task wakes every ``resolution`` seconds and cancels
  the scopes of the timers that are past due. Arming is then an attribute
  write; expiry is up to one ``resolution`` late, never early.

Either way a timeout is a cancelled cancel scope, observed by the code at
the line that was waiting; a timed-out connection is finished (its scope
stays cancelled), so ``phase`` records which limit expired.
"""

from __future__ import annotations

import math

import trio

_INF = math.inf


class ScopeTimer:
    """Arms the scope's own trio deadline."""

    __slots__ = ("phase", "scope")

    def __init__(self, scope: trio.CancelScope) -> None:
        self.scope = scope
        self.phase = "idle"

    def arm(self, phase: str, seconds: float | None) -> None:
        """Enter ``phase``; cancel the scope after ``seconds`` (None: never)."""
        self.phase = phase
        self.scope.deadline = _INF if seconds is None else trio.current_time() + seconds

    def close(self) -> None:
        """Stop watching (nothing to do: the scope holds the deadline)."""


class WatchedTimer:
    """Records its deadline for a :class:`Timekeeper` to enforce."""

    __slots__ = ("deadline", "keeper", "phase", "scope")

    def __init__(self, scope: trio.CancelScope, keeper: Timekeeper) -> None:
        self.scope = scope
        self.keeper = keeper
        self.phase = "idle"
        self.deadline = _INF
        keeper._timers.add(self)

    def arm(self, phase: str, seconds: float | None) -> None:
        """Enter ``phase``; the keeper cancels the scope ``seconds`` from now."""
        self.phase = phase
        self.deadline = _INF if seconds is None else self.keeper.now + seconds

    def close(self) -> None:
        """Stop watching this connection."""
        self.keeper._timers.discard(self)


class Timekeeper:
    """Cancels the scopes of :class:`WatchedTimer` s whose deadline passed.

    Run :meth:`run` in the nursery that owns the connections; it loops until
    cancelled. ``now`` is the trio clock as of the last tick (at most one
    ``resolution`` old), which is what timers arm from, so no deadline ever
    fires early.
    """

    def __init__(self, resolution: float = 0.1) -> None:
        self.resolution = resolution
        self.now = 0.0
        self._timers: set[WatchedTimer] = set()

    def timer(self, scope: trio.CancelScope) -> WatchedTimer:
        """A timer for one connection's scope; ``close()`` it when done."""
        return WatchedTimer(scope, self)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Tick every ``resolution`` seconds until cancelled."""
        self.now = trio.current_time()
        task_status.started()
        while True:
            await trio.sleep(self.resolution)
            self.now = now = trio.current_time()
            for timer in self._timers:
                # A tick-old arm time makes the deadline up to one tick late,
                # hence "<": a deadline is never cut short.
                if timer.deadline < now - self.resolution:
                    timer.scope.cancel()
