"""A one-line download progress bar for a terminal: bytes, percentage, rate, ETA.

:func:`render` is a pure function (tested on its own); :class:`ProgressBar`
redraws it with a carriage return at most every ``interval`` seconds, so a
fast download spends its time downloading, not drawing. The bar is only for
terminals: ``get`` creates one only when stderr is a tty.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from typing import TextIO

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def format_bytes(count: float) -> str:
    """A byte count in binary units: ``"512 B"``, ``"1.5 KiB"``, ``"12.3 MiB"``."""
    for unit in _UNITS:
        if abs(count) < 1024 or unit == _UNITS[-1]:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def format_duration(seconds: float | None) -> str:
    """``m:ss`` or ``h:mm:ss``; ``--:--`` when unknown (``None``, infinite, negative)."""
    if seconds is None or not 0 <= seconds < 100 * 3600:
        return "--:--"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def render(received: int, total: int | None, elapsed: float, width: int, *, done: bool) -> str:
    """The progress line for ``received`` of ``total`` bytes after ``elapsed`` seconds.

    With a known total: percentage, a bar filling the space left, the
    counts, the average rate and the ETA (the elapsed time once ``done``).
    Without one: the count, the rate and the elapsed time. Never wider
    than ``width`` (the bar shrinks, then disappears).
    """
    rate = received / elapsed if elapsed > 0 else 0.0
    speed = f"{format_bytes(rate)}/s"
    if total is None or total <= 0:
        return f"{format_bytes(received)}  {speed}  {format_duration(elapsed)}"[:width]
    fraction = min(received / total, 1.0)
    if done:
        timing = f"in {format_duration(elapsed)}"
    else:
        remaining = (total - received) / rate if rate > 0 else None
        timing = f"ETA {format_duration(remaining)}"
    counts = f"{format_bytes(received)} / {format_bytes(total)}"
    tail = f"  {counts}  {speed}  {timing}"
    head = f"{fraction * 100:3.0f}% "
    room = width - len(head) - len(tail) - 2
    if room < 10:
        return (head.rstrip() + tail)[:width]
    filled = int(room * fraction)
    return f"{head}[{'=' * filled}{' ' * (room - filled)}]{tail}"


class ProgressBar:
    """Redraws :func:`render` on ``stream`` (stderr), throttled to ``interval``.

    Call :meth:`update` after each chunk and :meth:`finish` at the end (a
    final redraw and a newline); on failure call :meth:`abandon`, which ends
    the line so that the error message starts on a fresh one.
    """

    def __init__(
        self,
        total: int | None,
        *,
        stream: TextIO | None = None,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        width: int | None = None,
    ) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.clock = clock
        self.width = width or shutil.get_terminal_size((80, 24)).columns
        self.received = 0
        self._started = clock()
        self._drawn_at: float | None = None

    def update(self, received: int) -> None:
        """Record ``received`` bytes so far; redraw if the last draw is old enough."""
        self.received = received
        now = self.clock()
        if self._drawn_at is None or now - self._drawn_at >= self.interval:
            self._draw(now, done=False)

    def finish(self) -> None:
        """Draw the final line (with the total time) and end it."""
        self._draw(self.clock(), done=True)
        self.stream.write("\n")
        self.stream.flush()

    def abandon(self) -> None:
        """End the line as it is (something failed and will be reported)."""
        if self._drawn_at is not None:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, now: float, *, done: bool) -> None:
        self._drawn_at = now
        line = render(self.received, self.total, now - self._started, self.width - 1, done=done)
        self.stream.write("\r" + line.ljust(self.width - 1))
        self.stream.flush()
