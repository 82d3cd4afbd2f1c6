"""Hello-world throughput: trio_webkit against its peers and the bare-Trio ceiling.

The servers (``harness.HELLO_SERVERS``): the bare-Trio ceiling, a naive
Trio+h11 loop, trio_webkit, hypercorn's Trio worker, uvicorn with h11 and
with httptools, aiohttp. Each runs pinned to one CPU (``taskset -c 0``),
``wrk -t1 -c50`` runs pinned to the other (``taskset -c 1``), against
127.0.0.1 only. Per mode (keep-alive, then ``Connection: close``) every
server gets a short warm-up run, then ``--runs`` measured runs, interleaved
round-robin (rotating which server goes first) so drift on a noisy machine
hits all of them alike. A peer that is not installed (or fails to start)
is reported as missing with the reason; the others are measured anyway.
Printed and saved as JSON: the median req/s of each server, its ratio to
the bare-Trio ceiling and trio_webkit's ratio to each peer, checked against
the bars in benchmarks/README.md.

Usage::

    python -m benchmarks.hello [--runs N] [--duration S] [--connections C]
                               [--quick] [--profile] [--json PATH]
                               [--modes MODE ...] [--servers NAME ...]

Exit status: 0 when the measurement ran (whether or not the bars were met),
1 when it could not (wrk or taskset missing, a server failed, wrk failed).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import resource
import shlex
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    HELLO_SERVERS,
    HOST,
    BenchmarkError,
    CpuSnapshot,
    ServerProcess,
    check_cpus,
    cpu_seconds,
    default_json_path,
    machine_info,
    missing_tools_reason,
    noise_warning,
    noisy,
    read_response,
    running_server,
    save_json,
    section_main,
    server_unavailable,
    until_quiet,
)
from benchmarks.profiling import profile_path, profiled
from benchmarks.report import Row, comparison

BASELINE = "bare_trio"
OURS = "trio_webkit"
#: Servers a run cannot do without; any other one missing is skipped with the reason.
REQUIRED = (BASELINE, OURS)
#: "distinct" is keep-alive with a different target in every request (distinct.lua):
#: what trio_webkit does when no request head repeats, so its HeadCache cannot help.
MODES = ("keep-alive", "close", "distinct")
DISTINCT_SCRIPT = Path(__file__).with_name("distinct.lua")
WRK_MODE_ARGS: dict[str, list[str]] = {
    "keep-alive": [],
    "close": ["-H", "Connection: close"],
    "distinct": ["-s", str(DISTINCT_SCRIPT)],
}
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
#: DESIGN.md: keep-alive "well ahead of hypercorn's trio worker, and at least uvicorn
#: with h11". The minimum ratio of trio_webkit's median to the peer's.
PEER_BARS = {"hypercorn_trio": 1.0, "uvicorn_h11": 1.0}


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
    servers: tuple[str, ...] = HELLO_SERVERS
    #: A run during which other processes took the pinned cores is measured again
    #: (this many times at most, after ``retry_pause`` seconds): see harness.until_quiet.
    retries: int = 1
    retry_pause: float = 2.0
    #: Sample trio_webkit with py-spy during each mode (see profiling.py).
    profile: bool = False


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
    cpus = (settings.server_cpu, settings.client_cpu)
    before = CpuSnapshot.take(server, cpus)
    result = run_wrk(command, duration, server)
    after = CpuSnapshot.take(server, cpus)
    result.update(
        server=server.name,
        mode=mode,
        command=shlex.join(command),
        other_cpu_percent=before.other_percent_until(after),
    )
    flag = "" if result["clean"] else "  UNCLEAN: " + describe_errors(result)
    flag += "  NOISY" if noisy(result) else ""
    print(
        f"  {mode:<10} {server.name:<17} {result['requests_per_sec']:>10,.0f} req/s"
        f"  cpu server {result['server_cpu_percent']:>3.0f} %"
        f" wrk {result['client_cpu_percent']:>3.0f} %"
        f" other {result['other_cpu_percent']:>3.0f} %{flag}"
    )
    return result


def describe_errors(result: dict[str, Any]) -> str:
    """Socket errors and non-2xx/3xx count of a run, for humans."""
    errors = ", ".join(f"{k} {v}" for k, v in result["socket_errors"].items() if v)
    parts = [f"socket errors: {errors}"] if errors else []
    if result["non_2xx_3xx"]:
        parts.append(f"non-2xx/3xx: {result['non_2xx_3xx']}")
    return "; ".join(parts)


def start_checked(
    stack: contextlib.ExitStack, name: str, mode: str, settings: Settings
) -> ServerProcess:
    """Start server ``name`` for ``mode`` and preflight it; it stops when ``stack`` closes."""
    extra = SERVER_MODE_ARGS.get((name, mode), [])
    with contextlib.ExitStack() as own:
        server = own.enter_context(running_server(name, settings.server_cpu, extra))
        preflight(server, mode)
        stack.enter_context(own.pop_all())
    return server


def start_servers(
    stack: contextlib.ExitStack, mode: str, settings: Settings, missing: dict[str, str]
) -> dict[str, ServerProcess]:
    """Every server of ``settings`` that can run, started and checked for ``mode``.

    A peer that fails to start or to pass the preflight is added to
    ``missing`` with the first line of the error; the ceiling and trio_webkit
    failing is an error.
    """
    servers: dict[str, ServerProcess] = {}
    for name in settings.servers:
        if name in missing:
            continue
        try:
            servers[name] = start_checked(stack, name, mode, settings)
        except BenchmarkError as exc:
            if name in REQUIRED:
                raise
            missing[name] = f"failed in {mode} mode: {str(exc).splitlines()[0]}"
            print(f"  {name} skipped: {missing[name]}")
    return servers


def run_mode(
    mode: str, settings: Settings, missing: dict[str, str], json_path: Path
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Start every server for ``mode``, warm up, measure round-robin; raw runs and commands."""
    runs: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        servers = start_servers(stack, mode, settings, missing)
        names = tuple(servers)
        commands = {name: shlex.join(server.command) for name, server in servers.items()}
        if settings.profile:
            output = profile_path(json_path, f"{OURS}-{mode}")
            stack.enter_context(profiled(servers[OURS], output, settings.client_cpu))
        if settings.warmup:
            print(f"warm-up ({settings.warmup} s each)")
            for name in names:
                measure(servers[name], mode, settings.warmup, settings)
        for rep in range(settings.runs):
            print(f"run {rep + 1}/{settings.runs}")
            for name in rotated(names, rep):
                one = partial(measure, servers[name], mode, settings.duration, settings)
                retry = (settings.pause, settings.retries, settings.retry_pause)
                runs.append({"rep": rep, **until_quiet(one, *retry)})
    return runs, commands


def summarize(runs: list[dict[str, Any]], modes: tuple[str, ...]) -> dict[str, Any]:
    """Per mode and server: median, min, max req/s, unclean runs, ratio of medians to baseline.

    trio_webkit's entry also has ``vs``: its median over each other server's.
    """
    summary: dict[str, Any] = {}
    for mode in modes:
        per_server: dict[str, Any] = {}
        for name in HELLO_SERVERS:
            mine = [r for r in runs if r["mode"] == mode and r["server"] == name]
            if not mine:
                continue
            rates = [r["requests_per_sec"] for r in mine]
            per_server[name] = {
                "median": statistics.median(rates),
                "min": min(rates),
                "max": max(rates),
                "runs": rates,
                "server_cpu_percent": statistics.median(r["server_cpu_percent"] for r in mine),
                "client_cpu_percent": statistics.median(r["client_cpu_percent"] for r in mine),
                "other_cpu_percent": statistics.median(r["other_cpu_percent"] for r in mine),
                "unclean_runs": sum(not r["clean"] for r in mine),
                "noisy_runs": sum(noisy(r) for r in mine),
                "remeasured": sum(len(r["discarded_noisy"]) for r in mine),
            }
        base = per_server[BASELINE]["median"]
        for stats in per_server.values():
            stats["ratio"] = stats["median"] / base if base else None
        ours = per_server[OURS]["median"]
        per_server[OURS]["vs"] = {
            name: ours / stats["median"] if stats["median"] else None
            for name, stats in per_server.items()
            if name != OURS
        }
        summary[mode] = per_server
    return summary


def _judge(value: float | None, minimum: float, aim: float | None = None) -> str:
    if value is None:
        return "n/a"
    if value < minimum:
        return "FAIL"
    return "PASS (aim met)" if aim is not None and value >= aim else "PASS"


def verdicts(summary: dict[str, Any], missing: dict[str, str]) -> dict[str, str]:
    """trio_webkit against each bar (ratio to the ceiling per mode, keep-alive peers)."""
    result = {}
    for mode, per_server in summary.items():
        bar = BARS.get(mode)
        if bar is None:  # distinct: shown for honesty, no bar of its own
            continue
        aim = f" (aim {bar.aim:g})" if bar.aim is not None else ""
        key = f"{mode} req/s >= {bar.minimum:g} x {BASELINE}{aim}"
        result[key] = _judge(per_server[OURS]["ratio"], bar.minimum, bar.aim)
    if "keep-alive" in summary:
        vs = summary["keep-alive"][OURS]["vs"]
        for peer, minimum in PEER_BARS.items():
            key = f"keep-alive req/s >= {minimum:g} x {peer}"
            if peer in vs:
                result[key] = _judge(vs[peer], minimum)
            else:
                result[key] = f"n/a ({missing.get(peer, 'not run')})"
    return result


def bar_text(mode: str, name: str) -> str:
    """A reference shown next to a server's ratio."""
    if name == "naive_h11" and mode == "keep-alive":
        return f"reference ~{NAIVE_REFERENCE:.2f}"
    return ""


def print_table(summary: dict[str, Any], verdict: dict[str, str], missing: dict[str, str]) -> None:
    """Medians, spread, ratios to the ceiling and trio_webkit's ratios; the verdicts."""
    print(
        f"\n{'mode':<10} {'server':<17} {'median req/s':>12} {'min':>9} {'max':>9}"
        f" {'x bare':>6} {'ours/it':>7} {'srv cpu':>7} {'wrk cpu':>7} {'other':>5}"
    )
    for mode, per_server in summary.items():
        for name, stats in per_server.items():
            ratio = f"{stats['ratio']:.3f}" if stats["ratio"] is not None else "n/a"
            vs = per_server[OURS]["vs"].get(name)
            ours_over = f"{vs:.2f}" if vs is not None else "-"
            note = bar_text(mode, name)
            for key, text in (
                ("unclean_runs", "unclean"),
                ("noisy_runs", "noisy"),
                ("remeasured", "noisy re-measured"),
            ):
                if stats[key]:
                    note += f"  {stats[key]} {text}"
            print(
                f"{mode:<10} {name:<17} {stats['median']:>12,.0f} {stats['min']:>9,.0f}"
                f" {stats['max']:>9,.0f} {ratio:>6} {ours_over:>7}"
                f" {stats['server_cpu_percent']:>6.0f}% {stats['client_cpu_percent']:>6.0f}%"
                f" {stats['other_cpu_percent']:>4.0f}%  {note}"
            )
    for name, why in missing.items():
        print(f"note: {name} missing: {why}")
    noisy_runs = sum(
        s["noisy_runs"] for per_server in summary.values() for s in per_server.values()
    )
    if noisy_runs:
        print(noise_warning(noisy_runs))
    print("\ntrio_webkit against the bars:")
    for bar, result in verdict.items():
        print(f"  {bar:<48} {result}")


# --- command line ----------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; ``--quick`` overrides runs, duration and warm-up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="measured runs per server (3)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per run (5)")
    parser.add_argument("--connections", type=int, default=50, help="wrk -c (50)")
    parser.add_argument("--warmup", type=int, default=WARMUP_SECONDS, help="warm-up seconds")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between runs (0.5)")
    parser.add_argument(
        "--retries", type=int, default=1,
        help="measure a noisy run again, this many times at most (1; --quick: 0)",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="smoke: 1 run of 1 s, no warm-up")
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="output file (default benchmarks/results/hello-<date>.json)",
    )
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument(
        "--servers", nargs="+", choices=HELLO_SERVERS, default=list(HELLO_SERVERS),
        help=f"servers to measure (default: all; {BASELINE} and {OURS} are always run)",
    )  # fmt: skip
    parser.add_argument(
        "--profile", action="store_true",
        help=f"sample {OURS} with py-spy; flame graphs next to the JSON",
    )  # fmt: skip
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.duration, args.warmup, args.pause, args.retries = 1, 1, 0, 0.1, 0
    if args.runs < 1 or args.duration < 1 or args.connections < 1 or args.retries < 0:
        parser.error("--runs, --duration and --connections must be >= 1, --retries >= 0")
    return args


def settings_from(args: argparse.Namespace) -> Settings:
    """Freeze the parsed options."""
    return Settings(
        runs=args.runs, duration=args.duration, connections=args.connections,
        warmup=args.warmup, pause=args.pause, server_cpu=args.server_cpu,
        client_cpu=args.client_cpu, modes=tuple(args.modes),
        servers=tuple(dict.fromkeys([*REQUIRED, *args.servers])), profile=args.profile,
        retries=args.retries,
    )  # fmt: skip


def run(settings: Settings, json_path: Path) -> dict[str, Any]:
    """Measure every mode, print the table, save the JSON report; the report."""
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    machine = machine_info(
        packages=("hypercorn", "uvicorn", "httptools", "aiohttp"),
    )
    missing = {
        name: why for name in settings.servers if (why := server_unavailable(name)) is not None
    }
    for name, why in missing.items():
        print(f"  {name} skipped: {why}")
    runs: list[dict[str, Any]] = []
    server_commands = {}
    for mode in settings.modes:
        mode_runs, server_commands[mode] = run_mode(mode, settings, missing, json_path)
        runs += mode_runs
    summary = summarize(runs, settings.modes)
    verdict = verdicts(summary, missing)
    print_table(summary, verdict, missing)
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
        "missing": missing,
        "bars": {
            **{mode: asdict(bar) for mode, bar in BARS.items()},
            "keep-alive vs peers": PEER_BARS,
        },
        "naive_reference": NAIVE_REFERENCE,
        "summary": summary,
        "verdict": verdict,
        "runs": runs,
    }
    if settings.profile:
        report["profiles"] = [
            profile_path(json_path, f"{OURS}-{mode}").name for mode in settings.modes
        ]
    save_json(json_path, report)
    print(f"\nsaved {json_path}")
    return report


def section(argv: list[str], json_path: Path | None = None) -> dict[str, Any]:
    """Run with the command-line options ``argv``; the report, saved to ``json_path``.

    ``json_path`` defaults to ``--json``, else ``benchmarks/results/hello-<date>.json``.
    """
    args = parse_args(argv)
    check_cpus(args.server_cpu, args.client_cpu)
    return run(settings_from(args), json_path or args.json or default_json_path("hello"))


def rows(report: dict[str, Any]) -> list[Row]:
    """The combined summary's rows: per mode, trio_webkit against the ceiling and each peer."""
    result = []
    for mode, per_server in report["summary"].items():
        medians = {name: stats["median"] for name, stats in per_server.items()}
        result.append(
            comparison(
                "hello", f"{mode} req/s", "req/s", "higher", medians.pop(OURS),
                medians, ceiling=BASELINE, runs=report["settings"]["runs"],
            )
        )  # fmt: skip
    return result


def cannot_run() -> str | None:
    """Why this benchmark cannot run here (wrk or taskset missing), or None."""
    return missing_tools_reason("wrk", "taskset")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    return section_main(argv, parse_args, cannot_run, section)


if __name__ == "__main__":
    sys.exit(main())
