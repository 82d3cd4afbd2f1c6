"""Server memory per idle keep-alive connection (RSS from /proc/PID/status), 1k and 10k.

For each server (trio_webkit, hypercorn's Trio worker, uvicorn with h11 by
default), each connection count (1,000 and 10,000) and each of ``--runs``
(3) repetitions: start a fresh server pinned to core 0 (``taskset -c 0``),
make a few warm-up requests, read its ``VmRSS``; open the connections from
this process, each sending one full GET and reading the whole response so
it is a real idle keep-alive connection, then left open; settle, check none
was closed by the server, read ``VmRSS`` again. The difference divided by
the count is the cost of one idle connection in the server process (the
kernel's socket buffers are not in RSS). Bar for trio_webkit: <= 16 KiB.

Every server is started with ``--keepalive-timeout`` long enough to cover
the measurement (the default of 5 s would close the connections mid-way).
The soft ``RLIMIT_NOFILE`` is raised up to the hard limit (the servers
inherit it); a count the hard limit does not allow is reported as
impossible, with the limits, and the others are measured.

Usage::

    python -m benchmarks.idle [--counts N ...] [--runs N] [--settle S]
                              [--servers NAME ...] [--quick] [--json PATH]

Exit status: 0 when measured (whether or not the bar was met), 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import select
import socket
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    HELLO_SERVERS,
    HOST,
    SERVERS,
    BenchmarkError,
    ServerProcess,
    check_cpus,
    default_json_path,
    machine_info,
    missing_tools_reason,
    read_response,
    rss_kib,
    running_server,
    save_json,
    section_main,
    server_unavailable,
)
from benchmarks.hello import rotated
from benchmarks.report import Row, comparison

BAR_KIB = 16.0
OURS = "trio_webkit"
DEFAULT_SERVERS = (OURS, "hypercorn_trio", "uvicorn_h11")
DEFAULT_COUNTS = (1000, 10000)
KEEPALIVE_TIMEOUT = 120.0
WARMUP_CONNECTIONS = 20
SOCKET_TIMEOUT = 5.0
#: Descriptors beyond the connections: the interpreter, the server's listener, pipes.
FD_HEADROOM = 64
REQUEST = f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()


def fd_limits_for(needed: int) -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE towards ``needed`` (up to the hard limit); (soft, hard).

    Children started afterwards (the servers) inherit it.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def impossible_reason(count: int, limits: tuple[int, int]) -> str | None:
    """Why ``count`` connections cannot be held here (file descriptor limit), or None."""
    soft = limits[0]
    needed = count + WARMUP_CONNECTIONS + FD_HEADROOM
    if soft != resource.RLIM_INFINITY and soft < needed:
        return (
            f"needs {needed} file descriptors per process, RLIMIT_NOFILE is"
            f" soft {limits[0]} / hard {limits[1]} (raise the hard limit: ulimit -Hn)"
        )
    return None


def open_idle(port: int) -> socket.socket:
    """One keep-alive connection that has completed a request and now sits idle."""
    sock = socket.create_connection((HOST, port), timeout=SOCKET_TIMEOUT)
    try:
        sock.sendall(REQUEST)
        read_response(sock)
    except BaseException:
        sock.close()
        raise
    return sock


@contextlib.contextmanager
def idle_connections(port: int, count: int) -> Iterator[list[socket.socket]]:
    """``count`` idle keep-alive connections to ``port``, all closed on exit."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            socks.append(open_idle(port))
        yield socks
    finally:
        for sock in socks:
            sock.close()


def closed_by_server(socks: list[socket.socket]) -> int:
    """How many of ``socks`` the server has closed (readable now means EOF or reset)."""
    poller = select.poll()
    for sock in socks:
        poller.register(sock, select.POLLIN | select.POLLHUP | select.POLLERR)
    return len(poller.poll(0))


def settled_rss(pid: int, settle: float) -> int:
    """VmRSS of ``pid`` in KiB after waiting ``settle`` seconds."""
    time.sleep(settle)
    return rss_kib(pid)


def measure(server: ServerProcess, count: int, settle: float) -> dict[str, Any]:
    """Baseline RSS, RSS with ``count`` idle connections, RSS after closing them."""
    with idle_connections(server.port, WARMUP_CONNECTIONS):
        pass  # one-off allocations (first request, first connections) precede the baseline
    before = settled_rss(server.pid, settle)
    started = time.monotonic()
    try:
        with idle_connections(server.port, count) as socks:
            opened_in = time.monotonic() - started
            during = settled_rss(server.pid, settle)
            closed = closed_by_server(socks)
            server.check_alive()
    except OSError as exc:
        server.check_alive()
        raise BenchmarkError(f"{server.name}: opening {count} connections failed: {exc!r}") from exc
    after_close = settled_rss(server.pid, settle)
    if closed:
        raise BenchmarkError(f"{server.name} closed {closed} of {count} idle connections early")
    return {
        "server": server.name,
        "command": server.command,
        "connections": count,
        "open_seconds": round(opened_in, 2),
        "rss_before_kib": before,
        "rss_idle_kib": during,
        "rss_after_close_kib": after_close,
        "kib_per_connection": (during - before) / count,
    }


def server_args(name: str) -> list[str]:
    """``--keepalive-timeout`` for the servers that would otherwise close idle connections."""
    if SERVERS[name].keepalive_option:
        return ["--keepalive-timeout", str(KEEPALIVE_TIMEOUT)]
    return []


def summarize(results: list[dict[str, Any]], names: list[str], counts: list[int]) -> dict[str, Any]:
    """Per count and server: median, min and max KiB per connection; ours over each peer."""
    summary: dict[str, Any] = {}
    for count in counts:
        per_server: dict[str, Any] = {}
        for name in names:
            values = [
                r["kib_per_connection"]
                for r in results
                if r["server"] == name and r["connections"] == count
            ]
            if values:
                per_server[name] = {
                    "median": statistics.median(values),
                    "min": min(values),
                    "max": max(values),
                    "runs": values,
                }
        if OURS in per_server:
            ours = per_server[OURS]["median"]
            per_server[OURS]["vs"] = {
                name: ours / stats["median"] if stats["median"] > 0 else None
                for name, stats in per_server.items()
                if name != OURS
            }
        summary[str(count)] = per_server
    return summary


def verdicts(summary: dict[str, Any], impossible: dict[str, str]) -> dict[str, str]:
    """trio_webkit's KiB per idle connection against the bar, per count."""
    result = {}
    for count, per_server in summary.items():
        key = f"{int(count):,} idle connections: <= {BAR_KIB:g} KiB each"
        if count in impossible:
            result[key] = f"n/a ({impossible[count]})"
        elif OURS in per_server:
            result[key] = "PASS" if per_server[OURS]["median"] <= BAR_KIB else "FAIL"
    return result


def print_table(
    summary: dict[str, Any], verdict: dict[str, str], impossible: dict[str, str]
) -> None:
    """One line per count and server: KiB per connection (median, spread), ours over it."""
    print(f"\n{'conns':>6} {'server':<17} {'KiB/conn':>9} {'min':>7} {'max':>7} {'ours/it':>8}")
    for count, per_server in summary.items():
        if count in impossible:
            print(f"{int(count):>6} impossible here: {impossible[count]}")
            continue
        vs = per_server.get(OURS, {}).get("vs", {})
        for name, stats in per_server.items():
            ratio = f"{vs[name]:.2f}" if vs.get(name) is not None else "-"
            print(
                f"{int(count):>6} {name:<17} {stats['median']:>9.1f} {stats['min']:>7.1f}"
                f" {stats['max']:>7.1f} {ratio:>8}"
            )
    print("\ntrio_webkit against the bar:")
    for bar, result in verdict.items():
        print(f"  {bar:<44} {result}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; ``--quick``: 1,000 connections, one run, shorter settle."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--counts", nargs="+", type=int, default=list(DEFAULT_COUNTS),
        help="idle connections per measurement (1000 10000)",
    )  # fmt: skip
    parser.add_argument("--runs", type=int, default=3, help="repetitions per count (3)")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds before reading RSS")
    parser.add_argument(
        "--servers", nargs="+", choices=HELLO_SERVERS, default=list(DEFAULT_SERVERS),
        help="servers to measure (default: trio_webkit hypercorn_trio uvicorn_h11)",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="smoke: 1,000 connections, 1 run")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument(
        "--json", type=Path, default=None,
        help="output file (default benchmarks/results/idle-<date>.json)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.quick:
        args.counts, args.runs, args.settle = [1000], 1, 0.2
    if min(args.counts) < 1 or args.runs < 1 or args.settle < 0:
        parser.error("--counts and --runs must be >= 1 and --settle >= 0")
    return args


def run(args: argparse.Namespace, json_path: Path) -> dict[str, Any]:
    """Measure every server at every count, print the table, save the JSON; the report."""
    counts = sorted(set(args.counts))
    limits = fd_limits_for(max(counts) + WARMUP_CONNECTIONS + FD_HEADROOM)
    impossible = {str(count): why for count in counts if (why := impossible_reason(count, limits))}
    missing = {name: why for name in args.servers if (why := server_unavailable(name))}
    names = [name for name in args.servers if name not in missing]
    for what, why in [*missing.items(), *impossible.items()]:
        print(f"  {what} skipped: {why}")
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    results: list[dict[str, Any]] = []
    failed: dict[str, str] = {}
    for rep in range(args.runs):
        print(f"run {rep + 1}/{args.runs}")
        for count in counts:
            if str(count) in impossible:
                continue
            for name in rotated(tuple(names), rep):
                if f"{name} at {count}" in failed:
                    continue
                try:
                    with running_server(name, args.server_cpu, server_args(name)) as server:
                        result = measure(server, count, args.settle)
                except BenchmarkError as exc:
                    if name == OURS:
                        raise
                    failed[f"{name} at {count}"] = str(exc).splitlines()[0]
                    print(f"  {count:>6} {name:<17} failed: {failed[f'{name} at {count}']}")
                    continue
                print(
                    f"  {count:>6} {name:<17} {result['kib_per_connection']:>6.1f} KiB"
                    f" per idle connection (opened in {result['open_seconds']:.1f} s)"
                )
                results.append({"rep": rep, **result})
    summary = summarize(results, names, counts)
    verdict = verdicts(summary, impossible)
    print_table(summary, verdict, impossible)
    for what, why in failed.items():
        print(f"note: {what} failed: {why}")
    report: dict[str, Any] = {
        "benchmark": "idle",
        "started": started,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(packages=("hypercorn", "uvicorn", "httptools")),
        "settings": {
            "counts": counts,
            "runs": args.runs,
            "settle_seconds": args.settle,
            "server_cpu": args.server_cpu,
            "servers": names,
            "keepalive_timeout": KEEPALIVE_TIMEOUT,
            "nofile_limits": limits,
            "request": REQUEST.decode(),
        },
        "missing": missing,
        "impossible": impossible,
        "failed": failed,
        "bar": {"server": OURS, "max_kib_per_connection": BAR_KIB},
        "summary": summary,
        "verdict": verdict,
        "results": results,
    }
    save_json(json_path, report)
    print(f"\nsaved {json_path}")
    return report


def cannot_run() -> str | None:
    """Why this benchmark cannot run here (taskset missing), or None."""
    return missing_tools_reason("taskset")


def section(argv: list[str], json_path: Path | None = None) -> dict[str, Any]:
    """Run with the command-line options ``argv``; the report, saved to ``json_path``.

    ``json_path`` defaults to ``--json``, else ``benchmarks/results/idle-<date>.json``.
    """
    args = parse_args(argv)
    check_cpus(args.server_cpu)
    return run(args, json_path or args.json or default_json_path("idle"))


def rows(report: dict[str, Any]) -> list[Row]:
    """The combined summary's rows: KiB per idle connection per count, ours against peers."""
    result = []
    for count, per_server in report["summary"].items():
        if OURS not in per_server:
            continue
        medians = {name: stats["median"] for name, stats in per_server.items()}
        result.append(
            comparison(
                "idle", f"RSS per idle connection, {int(count):,}", "KiB", "lower",
                medians.pop(OURS), medians, runs=len(per_server[OURS]["runs"]),
            )
        )  # fmt: skip
    return result


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    return section_main(argv, parse_args, cannot_run, section)


if __name__ == "__main__":
    sys.exit(main())
