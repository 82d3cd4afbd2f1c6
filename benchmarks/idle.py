"""Server memory per idle keep-alive connection (RSS from /proc/PID/status).

For each server: start it pinned (``taskset -c 0``), make a few warm-up
requests, read its ``VmRSS``; open ``--connections`` (1,000) plain sockets
from this process, each sending one full GET and reading the whole response
so it is a real idle keep-alive connection, then left open; settle, check
none was closed by the server, read ``VmRSS`` again. The difference divided
by the count is the cost of one idle connection in the server process (the
kernel's socket buffers are not in RSS). Bar for trio_webkit: <= 16 KiB.

trio_webkit is started with ``--keepalive-timeout`` long enough to cover the
measurement (its default of 5 s would close the connections mid-way).

Usage::

    python benchmarks/idle.py [--connections N] [--settle S] [--servers NAME ...] [--json PATH]

Exit status: 0 when measured (whether or not the bar was met), 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import select
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness import (
    HOST,
    SERVERS,
    BenchmarkError,
    ServerProcess,
    check_cpus,
    default_json_path,
    machine_info,
    missing_tools,
    read_response,
    rss_kib,
    running_server,
)
from hello import save_json

BAR_KIB = 16.0
BAR_SERVER = "trio_webkit"
KEEPALIVE_TIMEOUT = 120.0
SERVER_ARGS = {"trio_webkit": ["--keepalive-timeout", str(KEEPALIVE_TIMEOUT)]}
WARMUP_CONNECTIONS = 20
SOCKET_TIMEOUT = 5.0
FD_HEADROOM = 64
REQUEST = f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()


def raise_fd_limit(needed: int) -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to ``needed`` if lower (children inherit it).

    Returns the (soft, hard) limits now in force; raises if the hard limit
    is too low.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise BenchmarkError(f"need {needed} file descriptors, hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


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


def warm_up(port: int) -> None:
    """A few complete request/close cycles, so one-off allocations precede the baseline."""
    with idle_connections(port, WARMUP_CONNECTIONS):
        pass


def settled_rss(pid: int, settle: float) -> int:
    """VmRSS of ``pid`` in KiB after waiting ``settle`` seconds."""
    time.sleep(settle)
    return rss_kib(pid)


def measure(server: ServerProcess, count: int, settle: float) -> dict[str, Any]:
    """Baseline RSS, RSS with ``count`` idle connections, RSS after closing them."""
    warm_up(server.port)
    before = settled_rss(server.pid, settle)
    started = time.monotonic()
    with idle_connections(server.port, count) as socks:
        opened_in = time.monotonic() - started
        during = settled_rss(server.pid, settle)
        closed = closed_by_server(socks)
        server.check_alive()
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


def print_table(results: list[dict[str, Any]]) -> None:
    """One line per server: RSS before, with the idle connections, after, and per connection."""
    print(
        f"\n{'server':<12} {'conns':>6} {'RSS before':>11} {'RSS idle':>10} {'after close':>12}"
        f" {'KiB/conn':>9}  bar"
    )
    for r in results:
        bar = ""
        if r["server"] == BAR_SERVER:
            verdict = "PASS" if r["kib_per_connection"] <= BAR_KIB else "FAIL"
            bar = f"<= {BAR_KIB:.0f} KiB -> {verdict}"
        print(
            f"{r['server']:<12} {r['connections']:>6} {r['rss_before_kib']:>8} KiB"
            f" {r['rss_idle_kib']:>6} KiB {r['rss_after_close_kib']:>8} KiB"
            f" {r['kib_per_connection']:>9.1f}  {bar}"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000, help="idle connections (1000)")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds before reading RSS")
    parser.add_argument(
        "--servers", nargs="+", choices=list(SERVERS), default=list(SERVERS),
        help="servers to measure (default: all; the bar applies to trio_webkit)",
    )  # fmt: skip
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument(
        "--json", type=Path, default=None,
        help="output file (default benchmarks/results/idle-<date>.json)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.connections < 1 or args.settle < 0:
        parser.error("--connections must be >= 1 and --settle >= 0")
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Measure every requested server; the JSON report."""
    limits = raise_fd_limit(args.connections + WARMUP_CONNECTIONS + FD_HEADROOM)
    check_cpus(args.server_cpu)
    report: dict[str, Any] = {
        "benchmark": "idle",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(),
        "settings": {
            "connections": args.connections,
            "settle_seconds": args.settle,
            "server_cpu": args.server_cpu,
            "nofile_limits": limits,
            "request": REQUEST.decode(),
        },
        "bar": {"server": BAR_SERVER, "max_kib_per_connection": BAR_KIB},
        "results": [],
    }
    for name in args.servers:
        extra = SERVER_ARGS.get(name, [])
        with running_server(name, args.server_cpu, extra) as server:
            result = measure(server, args.connections, args.settle)
        print(f"  {name:<12} {result['kib_per_connection']:.1f} KiB per idle connection")
        report["results"].append(result)
    return report


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    if missing_tools("taskset"):
        print("error: taskset not found on PATH (Debian/Ubuntu: util-linux)", file=sys.stderr)
        return 1
    try:
        report = run(args)
    except (BenchmarkError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print_table(report["results"])
    path = args.json or default_json_path("idle")
    save_json(path, report)
    print(f"\nsaved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
