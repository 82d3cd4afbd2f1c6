"""Slow clients: normal clients' p99 latency while 500 slowloris connections are held open.

trio_webkit (``servers/trio_webkit_hello.py``: ServerConfig's defaults, so
its ``header_timeout`` of 10 s, without the access log) runs pinned to
core 0. Normal clients are ``trio-webkit bench URL -c 10 -d S --json``
pinned to core 1, for ``--duration`` seconds, in two conditions,
alternating, ``--runs`` (3) times each:

- **without**: the server has nothing else to do;
- **with**: 500 slowloris connections are open. Each sent a request line
  and a Host header, then sends one more byte of a header (``X-Slow: 1``,
  over and over, never the blank line that ends the head) every
  ``--interval`` (2) s, staggered so the bytes arrive evenly. The server
  cuts each of them when its ``header_timeout`` runs out; each one cut is
  counted and replaced at once by a new one, so 500 stay open, like an
  attacker would. They run in a thread of this process, pinned to core 1
  with the normal clients, opened ``--settle`` seconds before bench starts
  (so the server's cuts and the reconnections fall inside the measurement).

Reported: the median p99 latency of each condition and their ratio
(with / without). Bar: <= 2.

Usage::

    python -m benchmarks.slow [--runs N] [--duration S] [--quick] [--profile] [--json PATH]

Exit status: 0 when the measurement ran (whether or not the bar was met),
1 when it could not (taskset missing, `trio-webkit bench` unusable, a
server failed).
"""

from __future__ import annotations

import argparse
import contextlib
import select
import shlex
import socket
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    HOST,
    BenchmarkError,
    ServerProcess,
    bench_cli_unavailable,
    bench_command,
    check_cpus,
    default_json_path,
    machine_info,
    missing_tools_reason,
    pinned_self,
    run_bench,
    running_server,
    save_json,
    section_main,
)
from benchmarks.hello import preflight, rotated
from benchmarks.idle import FD_HEADROOM, fd_limits_for
from benchmarks.profiling import profile_path, profiled
from benchmarks.report import Row, comparison

OURS = "trio_webkit"
CONDITIONS = ("without", "with")
BAR_P99_RATIO = 2.0
HEAD = f"GET / HTTP/1.1\r\nHost: {HOST}\r\n".encode()
#: Dripped one byte at a time, over and over: a header line that never ends the head.
DRIP = b"X-Slow: 1\r\n"
#: How often the slowloris thread wakes up to send the bytes that are due.
TICK = 0.05
CONNECT_TIMEOUT = 5.0
#: Seconds the slowloris thread gets to stop before it is reported as stuck.
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Settings:
    """What one invocation measures and how."""

    runs: int
    duration: float
    connections: int
    slowloris: int
    interval: float
    settle: float
    pause: float
    server_cpu: int
    client_cpu: int
    profile: bool = False


@dataclass
class SlowlorisStats:
    """What the slowloris thread did: connections opened, cut by the server, bytes sent."""

    opened: int = 0
    cut_by_server: int = 0
    reconnect_errors: int = 0
    bytes_sent: int = 0
    first_error: str | None = None
    min_open: int = 0
    samples: list[int] = field(default_factory=list)


class Slowloris:
    """``count`` slowloris connections to ``port``, kept open by a thread until :meth:`stop`.

    Each connection sends :data:`HEAD` when opened, then one byte of
    :data:`DRIP` every ``interval`` seconds (the connections staggered
    evenly over the interval). One that the server closes (readable: EOF,
    a 408, a reset) is counted and replaced by a new one at once.
    """

    def __init__(self, port: int, count: int, interval: float) -> None:
        self.port = port
        self.count = count
        self.interval = interval
        self.stats = SlowlorisStats()
        self._socks: dict[int, socket.socket] = {}
        self._due: dict[int, float] = {}
        self._sent: dict[int, int] = {}
        self._poller = select.poll()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slowloris", daemon=True)

    def _open(self, due: float) -> None:
        sock = socket.create_connection((HOST, self.port), timeout=CONNECT_TIMEOUT)
        try:
            sock.sendall(HEAD)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        fd = sock.fileno()
        self._socks[fd], self._due[fd], self._sent[fd] = sock, due, 0
        self._poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        self.stats.opened += 1
        self.stats.bytes_sent += len(HEAD)

    def _drop(self, fd: int) -> None:
        self._poller.unregister(fd)
        self._socks.pop(fd).close()
        del self._due[fd], self._sent[fd]

    def _replace(self, fd: int) -> None:
        """The server cut ``fd``: count it, open another one (due one interval from now)."""
        self._drop(fd)
        self.stats.cut_by_server += 1
        try:
            self._open(time.monotonic() + self.interval)
        except OSError as exc:
            self.stats.reconnect_errors += 1
            self.stats.first_error = self.stats.first_error or repr(exc)

    def _drip(self, fd: int, now: float) -> None:
        """Send the next byte of :data:`DRIP` on ``fd``; replace it if the server is gone."""
        offset = self._sent[fd] % len(DRIP)
        try:
            self._socks[fd].send(DRIP[offset : offset + 1])
        except BlockingIOError:
            return  # the server stopped reading: that is its business; try next time
        except OSError:
            self._replace(fd)
            return
        self._sent[fd] += 1
        self.stats.bytes_sent += 1
        self._due[fd] = now + self.interval

    def _run(self) -> None:
        while not self._stop.wait(TICK):
            for fd, _ in self._poller.poll(0):
                if fd in self._socks:
                    self._replace(fd)
            now = time.monotonic()
            for fd in [fd for fd, due in self._due.items() if due <= now]:
                if fd in self._socks:
                    self._drip(fd, now)
            self.stats.samples.append(len(self._socks))
            # Below count only while reconnecting failed: a new attempt on the next tick.
            for _ in range(self.count - len(self._socks)):
                try:
                    self._open(now + self.interval)
                except OSError as exc:
                    self.stats.reconnect_errors += 1
                    self.stats.first_error = self.stats.first_error or repr(exc)
                    break

    def __enter__(self) -> Slowloris:
        start = time.monotonic()
        try:
            for i in range(self.count):
                self._open(start + self.interval * (i + 1) / self.count)
        except BaseException:
            self._close_all()
            raise
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(STOP_TIMEOUT)
        if self._thread.is_alive():
            raise BenchmarkError(f"the slowloris thread did not stop in {STOP_TIMEOUT:g} s")
        self._close_all()

    def _close_all(self) -> None:
        for fd in list(self._socks):
            self._drop(fd)

    def report(self) -> dict[str, Any]:
        """The counts, and the fewest connections open at a tick."""
        stats = asdict(self.stats)
        samples = stats.pop("samples")
        stats["min_open"] = min(samples, default=self.count)
        return stats


def url(port: int | str) -> str:
    """The URL the normal clients request."""
    return f"http://{HOST}:{port}/"


def measure(server: ServerProcess, condition: str, settings: Settings) -> dict[str, Any]:
    """One bench run against ``server``, with or without slowloris connections open."""
    command = bench_command(
        url(server.port), settings.connections, settings.duration, settings.client_cpu
    )
    with contextlib.ExitStack() as stack:
        attack = None
        if condition == "with":
            attack = stack.enter_context(
                Slowloris(server.port, settings.slowloris, settings.interval)
            )
            time.sleep(settings.settle)
        raw = run_bench(command, settings.duration)
        server.check_alive()
    latency = raw["latency_ms"]
    result = {
        "condition": condition,
        "command": shlex.join(command),
        "p99_ms": latency["p99"],
        "p50_ms": latency["p50"],
        "max_ms": latency["max"],
        "requests_per_sec": raw["requests_per_sec"],
        "errors": raw.get("errors_total", 0) + raw.get("non_2xx_3xx", 0),
        "slowloris": attack.report() if attack is not None else None,
        "raw": raw,
    }
    extra = ""
    if attack is not None:
        s = result["slowloris"]
        extra = (
            f"  slowloris: {s['opened']} opened, {s['cut_by_server']} cut by the server,"
            f" at least {s['min_open']} open"
        )
    print(
        f"  {condition:<8} p99 {result['p99_ms']:7.2f} ms  p50 {result['p50_ms']:6.2f} ms"
        f"  {result['requests_per_sec']:>8,.0f} req/s"
        + (f"  ERRORS: {result['errors']}" if result["errors"] else "")
        + extra
    )
    return result


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per condition: median p99 (and p50, req/s); the ratio of the p99 medians."""
    summary: dict[str, Any] = {}
    for condition in CONDITIONS:
        mine = [r for r in runs if r["condition"] == condition]
        p99 = [r["p99_ms"] for r in mine]
        summary[condition] = {
            "p99_ms_median": statistics.median(p99),
            "p99_ms_runs": p99,
            "p50_ms_median": statistics.median(r["p50_ms"] for r in mine),
            "requests_per_sec_median": statistics.median(r["requests_per_sec"] for r in mine),
            "errors": sum(r["errors"] for r in mine),
        }
    attacks = [r["slowloris"] for r in runs if r["slowloris"]]
    summary["with"]["slowloris_cut_by_server"] = sum(a["cut_by_server"] for a in attacks)
    summary["with"]["slowloris_min_open"] = min(a["min_open"] for a in attacks)
    without = summary["without"]["p99_ms_median"]
    summary["p99_ratio"] = summary["with"]["p99_ms_median"] / without if without else None
    return summary


def verdicts(summary: dict[str, Any], settings: Settings) -> dict[str, str]:
    """The p99 ratio against the bar."""
    ratio = summary["p99_ratio"]
    verdict = "n/a" if ratio is None else ("PASS" if ratio <= BAR_P99_RATIO else "FAIL")
    if verdict != "n/a" and summary["with"]["errors"]:
        verdict += " (but normal clients saw errors: see the runs)"
    key = f"p99 with {settings.slowloris} slowloris <= {BAR_P99_RATIO:g} x p99 without"
    return {key: verdict}


def print_table(summary: dict[str, Any], verdict: dict[str, str], settings: Settings) -> None:
    """Both conditions' medians, the ratio and the verdict."""
    print(
        f"\nnormal clients: bench -c {settings.connections}, {settings.duration:g} s,"
        f" {settings.runs} run(s) per condition"
    )
    print(f"{'slowloris':<10} {'p99 ms':>8} {'p50 ms':>8} {'req/s':>9} {'errors':>7}")
    for condition in CONDITIONS:
        s = summary[condition]
        label = f"{settings.slowloris}" if condition == "with" else "none"
        print(
            f"{label:<10} {s['p99_ms_median']:>8.2f} {s['p50_ms_median']:>8.2f}"
            f" {s['requests_per_sec_median']:>9,.0f} {s['errors']:>7}"
        )
    ratio = summary["p99_ratio"]
    print(f"p99 with / without: {ratio:.2f}x" if ratio is not None else "p99 ratio: n/a")
    print(
        f"slowloris connections cut by the server (header_timeout) and replaced:"
        f" {summary['with']['slowloris_cut_by_server']},"
        f" fewest open at once: {summary['with']['slowloris_min_open']}"
    )
    print("\ntrio_webkit against the bar:")
    for bar, result in verdict.items():
        print(f"  {bar:<44} {result}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; ``--quick``: one run of 1 s per condition."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per condition (3)")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per bench run (8)")
    parser.add_argument("--connections", type=int, default=10, help="bench -c (10)")
    parser.add_argument("--slowloris", type=int, default=500, help="slowloris connections (500)")
    parser.add_argument(
        "--interval", type=float, default=2.0, help="seconds between a slowloris' bytes (2)"
    )
    parser.add_argument(
        "--settle", type=float, default=3.0,
        help="seconds the slowloris connections are open before bench starts (3)",
    )  # fmt: skip
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between runs (0.5)")
    parser.add_argument("--quick", action="store_true", help="smoke: 1 run of 1 s per condition")
    parser.add_argument(
        "--profile", action="store_true",
        help=f"sample {OURS} with py-spy; flame graph next to the JSON",
    )  # fmt: skip
    parser.add_argument(
        "--json", type=Path, default=None,
        help="output file (default benchmarks/results/slow-<date>.json)",
    )  # fmt: skip
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.duration, args.settle, args.pause = 1, 1.0, 0.5, 0.1
    if min(args.runs, args.connections, args.slowloris) < 1 or args.duration <= 0:
        parser.error("--runs, --connections, --slowloris must be >= 1, --duration > 0")
    if args.interval <= 0 or args.settle < 0:
        parser.error("--interval must be > 0 and --settle >= 0")
    return args


def settings_from(args: argparse.Namespace) -> Settings:
    """Freeze the parsed options."""
    return Settings(
        runs=args.runs, duration=args.duration, connections=args.connections,
        slowloris=args.slowloris, interval=args.interval, settle=args.settle, pause=args.pause,
        server_cpu=args.server_cpu, client_cpu=args.client_cpu, profile=args.profile,
    )  # fmt: skip


def header_timeout() -> float | None:
    """The server's header_timeout (ServerConfig's default, which the server keeps)."""
    import trio_webkit

    return trio_webkit.ServerConfig().header_timeout


def run(settings: Settings, json_path: Path) -> dict[str, Any]:
    """Measure both conditions, print the table, save the JSON report; the report."""
    limits = fd_limits_for(settings.slowloris + settings.connections + FD_HEADROOM)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    runs: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(running_server(OURS, settings.server_cpu))
        preflight(server, "keep-alive")
        if settings.profile:
            output = profile_path(json_path, OURS)
            stack.enter_context(profiled(server, output, settings.client_cpu))
        stack.enter_context(pinned_self(settings.client_cpu))  # the slowloris thread
        server_command = shlex.join(server.command)
        for rep in range(settings.runs):
            print(f"run {rep + 1}/{settings.runs}")
            for condition in rotated(CONDITIONS, rep):
                time.sleep(settings.pause)
                runs.append({"rep": rep, **measure(server, condition, settings)})
    summary = summarize(runs)
    verdict = verdicts(summary, settings)
    print_table(summary, verdict, settings)
    report = {
        "benchmark": "slow",
        "started": started,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(),
        "settings": {
            **asdict(settings),
            "header_timeout": header_timeout(),
            "nofile_limits": limits,
            "slowloris_head": HEAD.decode(),
            "slowloris_drip": DRIP.decode(),
        },
        "server_command": server_command,
        "bench_command": shlex.join(
            bench_command(url("PORT"), settings.connections, settings.duration, settings.client_cpu)
        ),
        "bar": {"max_p99_ratio": BAR_P99_RATIO},
        "summary": summary,
        "verdict": verdict,
        "runs": runs,
    }
    if settings.profile:
        report["profiles"] = [profile_path(json_path, OURS).name]
    save_json(json_path, report)
    print(f"\nsaved {json_path}")
    return report


def cannot_run() -> str | None:
    """Why this benchmark cannot run here (taskset missing, bench unusable), or None."""
    error = missing_tools_reason("taskset")
    if error:
        return error
    return bench_cli_unavailable()


def section(argv: list[str], json_path: Path | None = None) -> dict[str, Any]:
    """Run with the command-line options ``argv``; the report, saved to ``json_path``.

    ``json_path`` defaults to ``--json``, else ``benchmarks/results/slow-<date>.json``.
    """
    args = parse_args(argv)
    check_cpus(args.server_cpu, args.client_cpu)
    return run(settings_from(args), json_path or args.json or default_json_path("slow"))


def rows(report: dict[str, Any]) -> list[Row]:
    """The combined summary's row: p99 with slowloris against p99 without."""
    summary, settings = report["summary"], report["settings"]
    return [
        comparison(
            "slow", f"p99 latency, {settings['slowloris']} slowloris open", "ms", "lower",
            summary["with"]["p99_ms_median"], {"no slowloris": summary["without"]["p99_ms_median"]},
            runs=settings["runs"],
        )
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    return section_main(argv, parse_args, cannot_run, section)


if __name__ == "__main__":
    sys.exit(main())
