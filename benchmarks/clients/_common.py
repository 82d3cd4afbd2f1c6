"""What every client script of the client benchmark shares: options, the load loop, the report.

A client script defines how to make one request (``rps``) or one download
(``download``) with its library and hands it to :func:`main`, which parses
the command line, runs it under ``trio.run`` and prints one JSON line on
stdout. Every loop is bounded by a request count and by time, and the whole
run by a hard deadline, so a script always exits by itself.

``rps URL --concurrency C --duration S --warmup W --max-requests N``:
C tasks (1: sequential keep-alive) each loop "request, check status 200 and
the 13-byte body" until S seconds have passed or N requests were started; a
warm-up phase of W seconds runs first on the same client and is not counted.
Prints ``requests``, ``seconds``, ``errors`` (plus the first error), the CPU
time this process used while measuring, and its peak RSS.

``download URL --size N``: one GET whose body is counted chunk by chunk and
thrown away. Prints ``bytes``, ``seconds``, ``errors`` (status not 200 or
a byte count other than N), RSS before the request and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

# Run as a plain script (its own process, no package context): reach harness.py
# in the folder above this one directly.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness import rss_kib

#: The bare-Trio server's canned body.
HELLO = b"Hello, world!"
#: Added to the run's own length for its hard deadline.
HARD_GRACE = 30.0
#: After a failed request, before the next one (keeps a broken server from spinning us).
ERROR_PAUSE = 0.01

Request = Callable[[int], Awaitable[None]]
Download = Callable[[], Awaitable[tuple[int, int]]]


class BadResponse(Exception):
    """A response other than the expected 200 with the expected body."""


def check(status: int, body_length: int, expected_length: int = len(HELLO)) -> None:
    """Raise :class:`BadResponse` unless a 200 with ``expected_length`` body bytes came."""
    if status != 200 or body_length != expected_length:
        raise BadResponse(f"status {status}, {body_length} body bytes")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``rps`` or ``download`` and their options."""
    parser = argparse.ArgumentParser(description="one client of benchmarks/client.py")
    commands = parser.add_subparsers(dest="command", required=True)
    rps = commands.add_parser("rps", help="GETs per second against the bare-Trio server")
    rps.add_argument("url")
    rps.add_argument("--concurrency", type=int, default=1, help="tasks in flight (1)")
    rps.add_argument("--duration", type=float, default=3.0, help="measured seconds (3)")
    rps.add_argument("--warmup", type=float, default=0.5, help="uncounted seconds first (0.5)")
    rps.add_argument("--max-requests", type=int, default=1_000_000, help="cap per phase")
    download = commands.add_parser("download", help="MB/s of one large body")
    download.add_argument("url")
    download.add_argument("--size", type=int, required=True, help="expected body bytes")
    download.add_argument("--max-seconds", type=float, default=300.0, help="hard deadline")
    args = parser.parse_args(argv)
    if args.command == "rps" and (args.concurrency < 1 or args.duration <= 0):
        parser.error("--concurrency must be >= 1 and --duration > 0")
    return args


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_kib() -> int:
    """This process's peak resident set size so far (``ru_maxrss``, KiB on Linux)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


async def _phase(request: Request, concurrency: int, duration: float, cap: int) -> dict[str, Any]:
    """``concurrency`` tasks requesting until ``duration`` passed or ``cap`` were started."""
    state: dict[str, Any] = {"started": 0, "requests": 0, "errors": 0, "first_error": None}
    deadline = trio.current_time() + duration

    async def worker(slot: int) -> None:
        while trio.current_time() < deadline and state["started"] < cap:
            state["started"] += 1
            try:
                await request(slot)
            except Exception as error:  # counted, reported, and the loop goes on
                state["errors"] += 1
                state["first_error"] = state["first_error"] or repr(error)
                await trio.sleep(ERROR_PAUSE)
            else:
                state["requests"] += 1

    cpu_before, started = _cpu_seconds(), time.perf_counter()
    with trio.move_on_after(duration + HARD_GRACE) as scope:
        async with trio.open_nursery() as nursery:
            for slot in range(concurrency):
                nursery.start_soon(worker, slot)
    seconds = time.perf_counter() - started
    return {
        "requests": state["requests"],
        "seconds": seconds,
        "errors": state["errors"] + int(scope.cancelled_caught),
        "first_error": "hard deadline hit" if scope.cancelled_caught else state["first_error"],
        "cpu_seconds": _cpu_seconds() - cpu_before,
    }


async def run_rps(request: Request, args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, then measure; the measured phase's figures (and the warm-up's length)."""
    warmup_seconds = 0.0
    if args.warmup > 0:
        warm = await _phase(request, args.concurrency, args.warmup, args.max_requests)
        warmup_seconds = warm["seconds"]
        if warm["errors"]:
            return {**warm, "requests": 0, "warmup_seconds": warmup_seconds, "phase": "warm-up"}
    result = await _phase(request, args.concurrency, args.duration, args.max_requests)
    return {**result, "warmup_seconds": warmup_seconds}


async def run_download(download: Download, args: argparse.Namespace) -> dict[str, Any]:
    """One timed download; an error if it failed, was not a 200 or had the wrong size."""
    rss_before = rss_kib(os.getpid())
    received, status, error = 0, 0, None
    started = time.perf_counter()
    with trio.move_on_after(args.max_seconds) as scope:
        try:
            status, received = await download()
        except Exception as exc:
            error = repr(exc)
    seconds = time.perf_counter() - started
    if scope.cancelled_caught:
        error = f"hard deadline of {args.max_seconds} s hit"
    elif error is None and (status != 200 or received != args.size):
        error = f"status {status}, {received} of {args.size} bytes"
    return {
        "bytes": received,
        "seconds": seconds,
        "errors": int(error is not None),
        "first_error": error,
        "rss_before_kib": rss_before,
    }


def main(
    make_rps: Callable[[argparse.Namespace], Awaitable[dict[str, Any]]],
    make_download: Callable[[argparse.Namespace], Awaitable[dict[str, Any]]],
    argv: list[str] | None = None,
) -> None:
    """Parse the options, run the chosen measurement, print its JSON line."""
    args = parse_args(argv)
    runner = make_rps if args.command == "rps" else make_download
    result = trio.run(runner, args)
    result["peak_rss_kib"] = peak_rss_kib()
    print(json.dumps(result), flush=True)
