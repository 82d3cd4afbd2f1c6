"""The numbers of a load test and their reports (a wrk-like text, or JSON).

:class:`Recorder` collects one latency per response (seconds, every sample
kept: a five-second run at 20 000 requests/s is 100 000 floats), the
status counts, the bytes read and the errors by kind, with the kinds wrk
reports: ``connect``, ``read``, ``write``, ``timeout``. :meth:`Recorder.summary`
turns them into a :class:`Summary` whose percentiles are nearest-rank
(``p99`` is a latency that 99 % of the responses did not exceed).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import attrs

#: Error kinds, in wrk's order ("Socket errors: connect 0, read 0, write 0, timeout 0").
ERROR_KINDS = ("connect", "read", "write", "timeout")

#: Percentiles in the latency distribution (text and JSON).
PERCENTILES = (50, 75, 90, 99)


class Recorder:
    """Collects the outcome of every request of a load test."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.errors: dict[str, int] = dict.fromkeys(ERROR_KINDS, 0)
        self.bytes_read = 0

    def response(self, status: int, latency: float, size: int) -> None:
        """Record a response: its status, latency in seconds, and bytes read."""
        self.latencies.append(latency)
        self.statuses[status] += 1
        self.bytes_read += size

    def error(self, kind: str) -> None:
        """Record a failed request (``kind`` is one of :data:`ERROR_KINDS`)."""
        self.errors[kind] += 1

    def summary(self, elapsed: float) -> Summary:
        """The statistics of everything recorded, over ``elapsed`` seconds."""
        return Summary(
            requests=len(self.latencies),
            elapsed=elapsed,
            bytes_read=self.bytes_read,
            statuses=dict(sorted(self.statuses.items())),
            errors=dict(self.errors),
            latency=Latency.of(self.latencies),
        )


def percentile(ordered: Sequence[float], percent: float) -> float:
    """Nearest-rank percentile of non-empty, sorted samples."""
    rank = math.ceil(percent / 100 * len(ordered))
    return ordered[min(max(rank, 1), len(ordered)) - 1]


@attrs.frozen
class Latency:
    """Latency statistics, in seconds.

    Attributes:
        within_stdev: the fraction of samples within one standard
            deviation of the mean (wrk's ``+/- Stdev``).
        percentiles: :data:`PERCENTILES` to their values.
    """

    mean: float
    stdev: float
    minimum: float
    maximum: float
    within_stdev: float
    percentiles: dict[int, float]

    @classmethod
    def of(cls, samples: Sequence[float]) -> Latency | None:
        """The statistics of ``samples`` (``None`` when there are none)."""
        if not samples:
            return None
        ordered = sorted(samples)
        count = len(ordered)
        mean = math.fsum(ordered) / count
        stdev = (
            math.sqrt(math.fsum((x - mean) ** 2 for x in ordered) / (count - 1)) if count > 1 else 0
        )
        within = sum(1 for x in ordered if abs(x - mean) <= stdev) / count
        return cls(
            mean=mean,
            stdev=stdev,
            minimum=ordered[0],
            maximum=ordered[-1],
            within_stdev=within,
            percentiles={p: percentile(ordered, p) for p in PERCENTILES},
        )


@attrs.frozen
class Summary:
    """What a load test measured.

    Attributes:
        requests: responses received (any status).
        elapsed: seconds from the first request to the end of the test.
        bytes_read: bytes received (heads and bodies, as on the wire).
        statuses: response count per status code.
        errors: failed requests per kind (:data:`ERROR_KINDS`).
        latency: latency statistics, ``None`` without any response.
    """

    requests: int
    elapsed: float
    bytes_read: int
    statuses: dict[int, int]
    errors: dict[str, int]
    latency: Latency | None

    @property
    def error_count(self) -> int:
        """Failed requests, all kinds together."""
        return sum(self.errors.values())

    @property
    def non_2xx_3xx(self) -> int:
        """Responses with a status of 400 or more (wrk's "Non-2xx or 3xx responses")."""
        return sum(count for status, count in self.statuses.items() if status >= 400)

    @property
    def requests_per_second(self) -> float:
        """Responses per second."""
        return self.requests / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def bytes_per_second(self) -> float:
        """Bytes read per second."""
        return self.bytes_read / self.elapsed if self.elapsed > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (latencies in milliseconds)."""
        latency = None
        if self.latency is not None:
            ms = self.latency
            latency = {
                "mean": ms.mean * 1000,
                "stdev": ms.stdev * 1000,
                "min": ms.minimum * 1000,
                **{f"p{p}": value * 1000 for p, value in ms.percentiles.items()},
                "max": ms.maximum * 1000,
            }
        return {
            "requests": self.requests,
            "duration_s": self.elapsed,
            "requests_per_sec": self.requests_per_second,
            "bytes_read": self.bytes_read,
            "transfer_per_sec": self.bytes_per_second,
            "status_counts": {str(status): count for status, count in self.statuses.items()},
            "non_2xx_3xx": self.non_2xx_3xx,
            "errors": dict(self.errors),
            "errors_total": self.error_count,
            "latency_ms": latency,
        }


# -- wrk's text layout ------------------------------------------------------------


def format_time(seconds: float) -> str:
    """A latency as wrk shows it: ``635.91us``, ``12.92ms``, ``1.20s``."""
    if seconds < 0.001:
        return f"{seconds * 1e6:.2f}us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f}ms"
    if seconds < 60:
        return f"{seconds:.2f}s"
    return f"{seconds / 60:.2f}m"


def format_size(count: float) -> str:
    """A byte count as wrk shows it (binary multiples): ``512.00B``, ``17.76MB``."""
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024:
            return f"{count:.2f}{unit}"
        count /= 1024
    return f"{count:.2f}TB"


def render(summary: Summary, *, title: str, setup: str) -> str:
    """The report in wrk's layout; ``title`` and ``setup`` are its first two lines."""
    lines = [title, f"  {setup}"]
    latency = summary.latency
    if latency is not None:
        lines.append(f"  Thread Stats{'Avg':>9}{'Stdev':>10}{'Max':>9}{'+/- Stdev':>12}")
        lines.append(
            f"    Latency {format_time(latency.mean):>11}{format_time(latency.stdev):>10}"
            f"{format_time(latency.maximum):>9}{latency.within_stdev * 100:>11.2f}%"
        )
        lines.append("  Latency Distribution")
        for p, value in latency.percentiles.items():
            lines.append(f"  {p:>4}% {format_time(value):>9}")
        lines.append(f"  {'max':>5} {format_time(latency.maximum):>9}")
    lines.append(
        f"  {summary.requests} requests in {format_time(summary.elapsed)}, "
        f"{format_size(summary.bytes_read)} read"
    )
    errors = ", ".join(f"{kind} {count}" for kind, count in summary.errors.items())
    lines.append(f"  Socket errors: {errors}")
    if summary.non_2xx_3xx:
        lines.append(f"  Non-2xx or 3xx responses: {summary.non_2xx_3xx}")
    if summary.statuses:
        counts = ", ".join(f"{status}: {count}" for status, count in summary.statuses.items())
        lines.append(f"  Status codes: {counts}")
    lines.append(f"Requests/sec: {summary.requests_per_second:>10.2f}")
    lines.append(f"Transfer/sec: {format_size(summary.bytes_per_second):>10}")
    return "\n".join(lines)
