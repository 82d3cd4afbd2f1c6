"""Hello-world throughput: trio_webkit against a naive Trio+h11 loop and the bare-Trio ceiling.

Each server runs pinned to one CPU (``taskset -c 0``), ``wrk -t1 -c50`` runs
pinned to the other (``taskset -c 1``), against 127.0.0.1 only. Per mode
(keep-alive, then ``Connection: close``) every server gets a short warm-up
run, then ``--runs`` measured runs, interleaved round-robin (rotating which
server goes first) so drift on a noisy machine hits all of them alike.
Printed and saved as JSON: the median req/s of each server and its ratio to
the bare-Trio ceiling, checked against the bars in benchmarks/README.md.

Usage::

    python benchmarks/hello.py [--runs N] [--duration S] [--connections C]
                               [--quick] [--json PATH] [--modes MODE ...]

Exit status: 0 when the measurement ran (whether or not the bars were met),
1 when it could not (wrk or taskset missing, a server failed, wrk failed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import resource
import shlex
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness import (
    HOST,
    BenchmarkError,
    ServerProcess,
    check_cpus,
    cpu_seconds,
    default_json_path,
    machine_info,
    missing_tools_error,
    read_response,
    running_server,
    without_machine_paths,
)

SERVER_NAMES = ("bare_trio", "naive_h11", "trio_webkit")
BASELINE = "bare_trio"
MODES = ("keep-alive", "close")
WRK_MODE_ARGS: dict[str, list[str]] = {"keep-alive": [], "close": ["-H", "Connection: close"]}
#: The bare-Trio ceiling ignores request headers, so it needs telling to close.
SERVER_MODE_ARGS: dict[tuple[str, str], list[str]] = {("bare_trio", "close"): ["--close"]}
WARMUP_SECONDS = 2
WRK_GRACE_SECONDS = 30.0
PREFLIGHT_TIMEOUT = 5.0
#: Where a naive Trio+h11 loop is expected to land in keep-alive (from the issue).
NAIVE_REFERENCE = 0.29


@dataclass(frozen=True)
class Bar:
    """Minimum ratio to the bare-Trio ceiling, and the ratio aimed for (if any)."""

    minimum: float
    aim: float | None = None


BARS = {"keep-alive": Bar(0.45, 0.6), "close": Bar(0.8)}


@dataclass(frozen=True)
class Settings:
    """What one invocation measures and how."""

    runs: int
    duration: int
    connections: int
    warmup: int
    pause: float
    server_cpu: int
    client_cpu: int
    modes: tuple[str, ...]


# --- wrk -------------------------------------------------------------------------------


def url(port: int | str) -> str:
    """The URL every benchmark requests."""
    return f"http://{HOST}:{port}/"


def wrk_command(target: str, mode: str, duration: int, settings: Settings) -> list[str]:
    """``taskset -c <client_cpu> wrk -t1 -c<C> -d<S>s [-H 'Connection: close'] <target>``."""
    return [
        "taskset", "-c", str(settings.client_cpu),
        "wrk", "-t1", f"-c{settings.connections}", f"-d{duration}s",
        *WRK_MODE_ARGS[mode],
        target,
    ]  # fmt: skip


def _search(pattern: str, text: str) -> re.Match[str] | None:
    return re.search(pattern, text, re.MULTILINE)


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests/sec, request count, latency, socket errors and non-2xx/3xx count of a run."""
    rate = _search(r"^Requests/sec:\s+([\d.]+)", output)
    total = _search(r"^\s*(\d+) requests in ([\d.]+\w+)", output)
    if rate is None or total is None:
        raise BenchmarkError(f"cannot parse wrk output:\n{output}")
    latency = _search(r"^\s*Latency\s+(\S+)", output)
    errors_line = _search(r"^\s*Socket errors: (.*)$", output)
    errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    if errors_line:
        errors.update({k: int(v) for k, v in re.findall(r"(\w+) (\d+)", errors_line[1])})
    non_2xx = _search(r"^\s*Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests_per_sec": float(rate[1]),
        "requests": int(total[1]),
        "elapsed": total[2],
        "latency_avg": latency[1] if latency else None,
        "socket_errors": errors,
        "non_2xx_3xx": int(non_2xx[1]) if non_2xx else 0,
    }


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(command: list[str], duration: int, server: ServerProcess) -> dict[str, Any]:
    """Run one wrk command (bounded in time) and parse its report.

    Also records how busy each side was: the server's CPU time over the run
    (from /proc) and wrk's (from our reaped children), as a percentage of
    the wall time. A server well under 100 % was not the bottleneck.
    """
    server_before, client_before = cpu_seconds(server.pid), _children_cpu_seconds()
    started = time.monotonic()
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=duration + WRK_GRACE_SECONDS
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchmarkError(f"wrk did not finish in time: {shlex.join(command)}") from exc
    wall = time.monotonic() - started
    server.check_alive()
    server_cpu = cpu_seconds(server.pid) - server_before
    client_cpu = _children_cpu_seconds() - client_before
    if done.returncode != 0:
        raise BenchmarkError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    result = parse_wrk(done.stdout)
    result["server_cpu_percent"] = round(100 * server_cpu / wall, 1)
    result["client_cpu_percent"] = round(100 * client_cpu / wall, 1)
    result["clean"] = not any(result["socket_errors"].values()) and not result["non_2xx_3xx"]
    return result


# --- preflight: does the server behave as the mode assumes? ------------------------------


def preflight(server: ServerProcess, mode: str) -> None:
    """Check the server answers 200 and keeps (keep-alive) or closes (close) the connection.

    Without this a server ignoring ``Connection: close`` would be measured
    as keep-alive in close mode, and wrk would not complain.
    """
    request = b"GET / HTTP/1.1\r\nHost: " + HOST.encode() + b"\r\n"
    request += b"Connection: close\r\n\r\n" if mode == "close" else b"\r\n"
    try:
        with socket.create_connection((HOST, server.port), timeout=PREFLIGHT_TIMEOUT) as sock:
            sock.sendall(request)
            read_response(sock)
            if mode == "close":
                if sock.recv(1) != b"":
                    raise BenchmarkError(f"{server.name}: data after a Connection: close reply")
                return
            sock.sendall(request)
            read_response(sock)
    except OSError as exc:  # includes timeouts: no close, or no second response
        raise BenchmarkError(f"{server.name} failed the {mode} preflight: {exc!r}") from exc


# --- orchestration ---------------------------------------------------------------------


def rotated(names: tuple[str, ...], rep: int) -> list[str]:
    """``names`` starting at position ``rep`` (round-robin without a fixed first server)."""
    shift = rep % len(names)
    return [*names[shift:], *names[:shift]]


def measure(server: ServerProcess, mode: str, duration: int, settings: Settings) -> dict[str, Any]:
    """One wrk run against ``server``; the raw result with its exact command."""
    command = wrk_command(url(server.port), mode, duration, settings)
    result = run_wrk(command, duration, server)
    result.update(server=server.name, mode=mode, command=shlex.join(command))
    flag = "" if result["clean"] else "  UNCLEAN: " + describe_errors(result)
    print(
        f"  {mode:<10} {server.name:<12} {result['requests_per_sec']:>10,.0f} req/s"
        f"  cpu server {result['server_cpu_percent']:>3.0f} %"
        f" wrk {result['client_cpu_percent']:>3.0f} %{flag}"
    )
    return result


def describe_errors(result: dict[str, Any]) -> str:
    """Socket errors and non-2xx/3xx count of a run, for humans."""
    errors = ", ".join(f"{k} {v}" for k, v in result["socket_errors"].items() if v)
    parts = [f"socket errors: {errors}"] if errors else []
    if result["non_2xx_3xx"]:
        parts.append(f"non-2xx/3xx: {result['non_2xx_3xx']}")
    return "; ".join(parts)


def run_mode(mode: str, settings: Settings) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Start every server for ``mode``, warm up, measure round-robin; raw runs and commands."""
    runs: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        servers: dict[str, ServerProcess] = {}
        for name in SERVER_NAMES:
            extra = SERVER_MODE_ARGS.get((name, mode), [])
            servers[name] = stack.enter_context(running_server(name, settings.server_cpu, extra))
            preflight(servers[name], mode)
        commands = {name: shlex.join(server.command) for name, server in servers.items()}
        if settings.warmup:
            print(f"warm-up ({settings.warmup} s each)")
            for name in SERVER_NAMES:
                measure(servers[name], mode, settings.warmup, settings)
        for rep in range(settings.runs):
            print(f"run {rep + 1}/{settings.runs}")
            for name in rotated(SERVER_NAMES, rep):
                time.sleep(settings.pause)
                runs.append(
                    {"rep": rep, **measure(servers[name], mode, settings.duration, settings)}
                )
    return runs, commands


def summarize(runs: list[dict[str, Any]], modes: tuple[str, ...]) -> dict[str, Any]:
    """Per mode and server: median, min, max req/s, unclean runs, ratio of medians to baseline."""
    summary: dict[str, Any] = {}
    for mode in modes:
        per_server: dict[str, Any] = {}
        for name in SERVER_NAMES:
            mine = [r for r in runs if r["mode"] == mode and r["server"] == name]
            rates = [r["requests_per_sec"] for r in mine]
            per_server[name] = {
                "median": statistics.median(rates),
                "min": min(rates),
                "max": max(rates),
                "runs": rates,
                "server_cpu_percent": statistics.median(r["server_cpu_percent"] for r in mine),
                "client_cpu_percent": statistics.median(r["client_cpu_percent"] for r in mine),
                "unclean_runs": sum(not r["clean"] for r in mine),
            }
        base = per_server[BASELINE]["median"]
        for stats in per_server.values():
            stats["ratio"] = stats["median"] / base if base else None
        summary[mode] = per_server
    return summary


def verdicts(summary: dict[str, Any]) -> dict[str, str]:
    """Per mode, trio_webkit's ratio against its bar: 'PASS', 'PASS (aim met)' or 'FAIL'."""
    result = {}
    for mode, per_server in summary.items():
        bar, ratio = BARS[mode], per_server["trio_webkit"]["ratio"]
        if ratio is None or ratio < bar.minimum:
            result[mode] = "FAIL"
        elif bar.aim is not None and ratio >= bar.aim:
            result[mode] = "PASS (aim met)"
        else:
            result[mode] = "PASS"
    return result


def bar_text(mode: str, name: str) -> str:
    """The bar shown next to a server's ratio."""
    if name == "trio_webkit":
        bar = BARS[mode]
        aim = f", aim {bar.aim:.2f}" if bar.aim is not None else ""
        return f"bar >= {bar.minimum:.2f}{aim}"
    if name == "naive_h11" and mode == "keep-alive":
        return f"reference ~{NAIVE_REFERENCE:.2f}"
    return ""


def print_table(summary: dict[str, Any], verdict: dict[str, str]) -> None:
    """Medians, spread and ratios to the bare-Trio ceiling, one line per mode and server."""
    print(
        f"\n{'mode':<10} {'server':<12} {'median req/s':>12} {'min':>9} {'max':>9}"
        f" {'ratio':>6} {'srv cpu':>7} {'wrk cpu':>7}  bar"
    )
    for mode, per_server in summary.items():
        for name, stats in per_server.items():
            ratio = f"{stats['ratio']:.3f}" if stats["ratio"] is not None else "n/a"
            note = bar_text(mode, name)
            if name == "trio_webkit":
                note += f"  -> {verdict[mode]}"
            if stats["unclean_runs"]:
                note += f"  ({stats['unclean_runs']} unclean run(s))"
            print(
                f"{mode:<10} {name:<12} {stats['median']:>12,.0f} {stats['min']:>9,.0f}"
                f" {stats['max']:>9,.0f} {ratio:>6} {stats['server_cpu_percent']:>6.0f}%"
                f" {stats['client_cpu_percent']:>6.0f}%  {note}"
            )


def save_json(path: Path, report: dict[str, Any]) -> None:
    """Write ``report`` to ``path`` (directories created), pretty-printed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(without_machine_paths(report), indent=2) + "\n")


# --- command line ----------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; ``--quick`` overrides runs, duration and warm-up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="measured runs per server (3)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per run (10)")
    parser.add_argument("--connections", type=int, default=50, help="wrk -c (50)")
    parser.add_argument("--warmup", type=int, default=WARMUP_SECONDS, help="warm-up seconds")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between runs (1)")
    parser.add_argument("--quick", action="store_true", help="smoke: 1 run of 2 s, no warm-up")
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="output file (default benchmarks/results/hello-<date>.json)",
    )
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.duration, args.warmup, args.pause = 1, 2, 0, 0.2
    if args.runs < 1 or args.duration < 1 or args.connections < 1:
        parser.error("--runs, --duration and --connections must be >= 1")
    return args


def settings_from(args: argparse.Namespace) -> Settings:
    """Freeze the parsed options."""
    return Settings(
        runs=args.runs, duration=args.duration, connections=args.connections,
        warmup=args.warmup, pause=args.pause, server_cpu=args.server_cpu,
        client_cpu=args.client_cpu, modes=tuple(args.modes),
    )  # fmt: skip


def run(settings: Settings, json_path: Path) -> None:
    """Measure every mode, print the table, save the JSON report."""
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    machine = machine_info()
    runs: list[dict[str, Any]] = []
    server_commands = {}
    for mode in settings.modes:
        mode_runs, server_commands[mode] = run_mode(mode, settings)
        runs += mode_runs
    summary = summarize(runs, settings.modes)
    verdict = verdicts(summary)
    print_table(summary, verdict)
    report = {
        "benchmark": "hello",
        "started": started,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine,
        "settings": asdict(settings),
        "wrk_commands": {
            mode: shlex.join(wrk_command(url("PORT"), mode, settings.duration, settings))
            for mode in settings.modes
        },
        "server_commands": server_commands,
        "bars": {mode: asdict(bar) for mode, bar in BARS.items()},
        "naive_reference": NAIVE_REFERENCE,
        "summary": summary,
        "verdict": verdict,
        "runs": runs,
    }
    save_json(json_path, report)
    print(f"\nsaved {json_path}")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    error = missing_tools_error("wrk", "taskset")
    if error:
        print(error, file=sys.stderr)
        return 1
    try:
        check_cpus(args.server_cpu, args.client_cpu)
        run(settings_from(args), args.json or default_json_path("hello"))
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
