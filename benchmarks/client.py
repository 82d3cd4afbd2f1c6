"""Client speed and memory: trio_webkit.Client against httpx on Trio, a bare Trio+h11 loop and curl.

Requests per second: the bare-Trio canned server (``servers/bare_trio.py``,
so the server is never the bottleneck) runs pinned to core 0; each client
runs as its own Python process pinned to core 1 (``taskset -c 1``) and
loops GETs for ``--duration`` seconds, one at a time on one keep-alive
connection (``sequential``) or from 50 tasks at once (``concurrent``); and
one at a time again against ``bare_trio.py --vary``, whose every response
differs (``varied``: what a client costs when it must parse every response;
trio_webkit replays a response h11 already parsed when the same bytes come
back, which the canned server allows on every request).

Download: ``servers/bulk_trio.py`` (pinned to core 0) answers a GET with a
``--size-mib`` (1024) MiB body from one preallocated buffer; trio_webkit,
httpx, the h11 loop and ``curl -o /dev/null`` each fetch it once per run,
counting and discarding the chunks. Reported: MB/s (10^6 bytes per second)
and the peak RSS of the client process.

Every client script lives in ``benchmarks/clients/`` and prints one JSON
line. Runs are repeated ``--runs`` (3) times, round-robin with a rotating
first client; the table shows medians and their ratios to httpx, curl and
the h11 reference, checked against the bars of benchmarks/README.md.

Usage::

    python -m benchmarks.client [--runs N] [--duration S] [--size-mib M]
                                [--quick] [--json PATH]

Exit status: 0 when the measurement ran (whether or not the bars were met),
1 when it could not (taskset or curl missing, a server or client failed).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import shlex
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    BENCH_DIR,
    HOST,
    REPO,
    BenchmarkError,
    CpuSnapshot,
    ServerProcess,
    check_cpus,
    child_env,
    default_json_path,
    machine_info,
    missing_tools_reason,
    noise_warning,
    noisy,
    pinned,
    rss_kib,
    running_server,
    save_json,
    section_main,
    stop_process,
)
from benchmarks.hello import preflight, rotated
from benchmarks.report import Row, comparison

CLIENTS_DIR = BENCH_DIR / "clients"
#: Clients run as Python scripts (``clients/<name>_client.py``).
SCRIPTS = {name: CLIENTS_DIR / f"{name}_client.py" for name in ("trio_webkit", "httpx", "h11")}
RPS_CLIENTS = ("trio_webkit", "httpx", "h11")
DOWNLOAD_CLIENTS = ("trio_webkit", "httpx", "curl", "h11")
#: Mode name: tasks in flight. ``varied`` is ``sequential`` against a server whose
#: every response differs (``bare_trio.py --vary``): no client can reuse an earlier
#: parse there (trio_webkit's replay of known responses never applies). No bar.
MODES = {"sequential": 1, "concurrent": 50, "varied": 1}
#: The modes the ``rps_vs_httpx`` bar is for.
BARRED_MODES = ("sequential", "concurrent")
MIB = 1024 * 1024
#: Seconds a client process may take beyond its own run (interpreter start, imports).
PROCESS_GRACE = 60.0
#: A download slower than this (MB/s) would hit its deadline: a bound, not an expectation.
SLOWEST_DOWNLOAD = 10.0
MAX_REQUESTS = 1_000_000
TIME_COMMAND = Path("/usr/bin/time")
CURL_FORMAT = "%{http_code} %{size_download} %{time_total}"
PREFLIGHT_TIMEOUT = 5.0
RSS_POLL_SECONDS = 0.005


@dataclass(frozen=True)
class Bars:
    """trio_webkit's bars: ratios to httpx and curl, and its peak RSS for the download."""

    rps_vs_httpx: float = 3.0
    download_vs_curl: float = 0.8
    download_peak_rss_mib: float = 64.0
    download_size_mib: int = 1024


BARS = Bars()


@dataclass(frozen=True)
class Settings:
    """What one invocation measures and how."""

    runs: int
    duration: float
    warmup: float
    size: int
    pause: float
    server_cpu: int
    client_cpu: int


# --- commands --------------------------------------------------------------------------


def url(port: int | str) -> str:
    """The URL every client requests."""
    return f"http://{HOST}:{port}/"


def rps_command(name: str, mode: str, port: int | str, settings: Settings) -> list[str]:
    """``taskset -c 1 python clients/<name>_client.py rps URL --concurrency C ...``."""
    return pinned(
        settings.client_cpu, sys.executable, str(SCRIPTS[name]), "rps", url(port),
        "--concurrency", str(MODES[mode]), "--duration", str(settings.duration),
        "--warmup", str(settings.warmup), "--max-requests", str(MAX_REQUESTS),
    )  # fmt: skip


def download_deadline(settings: Settings) -> float:
    """Seconds a download may take at most (at :data:`SLOWEST_DOWNLOAD` MB/s, plus 10 s)."""
    return round(settings.size / (SLOWEST_DOWNLOAD * 1e6) + 10, 1)


def download_command(name: str, port: int | str, settings: Settings) -> list[str]:
    """The pinned command downloading the bulk body once with client ``name``."""
    deadline = str(download_deadline(settings))
    if name == "curl":
        curl = ["curl", "-s", "-S", "-o", "/dev/null", "--max-time", deadline]
        curl += ["-w", CURL_FORMAT, url(port)]
        if TIME_COMMAND.exists():  # its %M is curl's peak RSS in KiB, on stderr
            return pinned(settings.client_cpu, str(TIME_COMMAND), "-f", "maxrss_kib=%M", *curl)
        return pinned(settings.client_cpu, *curl)
    return pinned(
        settings.client_cpu, sys.executable, str(SCRIPTS[name]), "download", url(port),
        "--size", str(settings.size), "--max-seconds", deadline,
    )  # fmt: skip


# --- running one client ----------------------------------------------------------------


def run_client(command: list[str], timeout: float) -> tuple[str, str]:
    """Run one client process to its end (bounded by ``timeout``); its stdout and stderr."""
    try:
        done = subprocess.run(
            command, cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:  # subprocess.run has killed it by then
        message = f"client did not finish in {timeout:.0f} s: {shlex.join(command)}"
        raise BenchmarkError(message) from exc
    if done.returncode != 0:
        raise BenchmarkError(
            f"client failed ({done.returncode}): {shlex.join(command)}\n{done.stderr[-2000:]}"
        )
    return done.stdout, done.stderr


def json_line(stdout: str, command: list[str]) -> dict[str, Any]:
    """The JSON line a client script printed last."""
    lines = stdout.strip().splitlines()
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError) as exc:
        raise BenchmarkError(f"no JSON line from {shlex.join(command)}: {stdout!r}") from exc
    return result


def run_curl_polled(command: list[str], timeout: float) -> tuple[str, str, int]:
    """Run curl, sampling its VmRSS from /proc (no /usr/bin/time); stdout, stderr, peak KiB."""
    peak = 0
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        deadline = time.monotonic() + timeout
        try:
            while process.poll() is None:
                if time.monotonic() > deadline:
                    raise BenchmarkError(f"curl did not finish in {timeout:.0f} s")
                with contextlib.suppress(OSError, BenchmarkError):
                    peak = max(peak, rss_kib(process.pid))  # taskset execs curl: same PID
                time.sleep(RSS_POLL_SECONDS)
        finally:
            stop_process(process)  # type: ignore[arg-type]  # no-op once it has exited
        stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise BenchmarkError(f"curl failed ({process.returncode}): {stderr}")
    return stdout, stderr, peak


def curl_download(command: list[str], settings: Settings) -> dict[str, Any]:
    """One curl download: bytes, seconds (curl's time_total), errors and peak RSS."""
    timeout = download_deadline(settings) + PROCESS_GRACE
    if TIME_COMMAND.exists():
        stdout, stderr = run_client(command, timeout)
        lines = [line for line in stderr.splitlines() if line.startswith("maxrss_kib=")]
        if not lines:
            raise BenchmarkError(f"no maxrss_kib from /usr/bin/time: {stderr!r}")
        peak = int(lines[-1].split("=", 1)[1])
    else:
        stdout, stderr, peak = run_curl_polled(command, timeout)
    try:
        code, size, seconds = stdout.split()
        received, elapsed = int(size), float(seconds)
    except ValueError as exc:
        raise BenchmarkError(f"cannot parse curl's -w output: {stdout!r}") from exc
    error = None
    if code != "200" or received != settings.size:
        error = f"status {code}, {received} of {settings.size} bytes"
    return {
        "bytes": received,
        "seconds": elapsed,
        "errors": int(error is not None),
        "first_error": error,
        "rss_before_kib": None,
        "peak_rss_kib": peak,
    }


def measure_rps(name: str, mode: str, server: ServerProcess, settings: Settings) -> dict[str, Any]:
    """One requests-per-second run of client ``name``; the raw result with its command."""
    command = rps_command(name, mode, server.port, settings)
    before = CpuSnapshot.take(server, (settings.server_cpu, settings.client_cpu))
    stdout, _ = run_client(command, settings.warmup + settings.duration + PROCESS_GRACE)
    after = CpuSnapshot.take(server, (settings.server_cpu, settings.client_cpu))
    result = json_line(stdout, command)
    server.check_alive()
    busy = result["warmup_seconds"] + result["seconds"]
    result.update(
        client=name,
        mode=mode,
        command=shlex.join(command),
        requests_per_sec=result["requests"] / result["seconds"],
        client_cpu_percent=round(100 * result["cpu_seconds"] / result["seconds"], 1),
        # The server idles while the client starts: divide by the client's busy time.
        server_cpu_percent=round(100 * before.server_seconds_until(after) / busy, 1),
        other_cpu_percent=before.other_percent_until(after),
    )
    print(
        f"  {mode:<10} {name:<12} {result['requests_per_sec']:>9,.0f} req/s"
        f"  cpu client {result['client_cpu_percent']:>3.0f} %"
        f" server {result['server_cpu_percent']:>3.0f} %"
        f" other {result['other_cpu_percent']:>3.0f} %{run_flags(result)}"
    )
    return result


def measure_download(name: str, server: ServerProcess, settings: Settings) -> dict[str, Any]:
    """One download by client ``name``; the raw result with its command."""
    command = download_command(name, server.port, settings)
    before = CpuSnapshot.take(server, (settings.server_cpu, settings.client_cpu))
    if name == "curl":
        result = curl_download(command, settings)
    else:
        stdout, _ = run_client(command, download_deadline(settings) + PROCESS_GRACE)
        result = json_line(stdout, command)
    after = CpuSnapshot.take(server, (settings.server_cpu, settings.client_cpu))
    server.check_alive()
    result.update(
        client=name,
        command=shlex.join(command),
        mb_per_sec=result["bytes"] / result["seconds"] / 1e6,
        # The server idles while the client starts: divide by the transfer's time.
        server_cpu_percent=round(100 * before.server_seconds_until(after) / result["seconds"], 1),
        other_cpu_percent=before.other_percent_until(after),
    )
    print(
        f"  download   {name:<12} {result['mb_per_sec']:>9,.0f} MB/s"
        f"  peak RSS {result['peak_rss_kib'] / 1024:>5.1f} MiB"
        f"  server cpu {result['server_cpu_percent']:>3.0f} %"
        f" other {result['other_cpu_percent']:>3.0f} %{run_flags(result)}"
    )
    return result


def run_flags(result: dict[str, Any]) -> str:
    """``  ERRORS: ...`` and ``  NOISY`` markers of one run, for the progress lines."""
    flags = ""
    if result["errors"]:
        flags += f"  ERRORS: {result['errors']} ({result['first_error']})"
    if noisy(result):
        flags += "  NOISY"
    return flags


# --- preflight -------------------------------------------------------------------------


def bulk_preflight(server: ServerProcess, size: int) -> None:
    """Check the bulk server answers 200 with ``Content-Length: size`` (body not read)."""
    request = f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    head = b""
    try:
        with socket.create_connection((HOST, server.port), timeout=PREFLIGHT_TIMEOUT) as sock:
            sock.sendall(request)
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                head += chunk
    except OSError as exc:
        raise BenchmarkError(f"{server.name} failed the preflight: {exc!r}") from exc
    head = head.partition(b"\r\n\r\n")[0].lower()
    if not head.startswith(b"http/1.1 200 ") or f"content-length: {size}".encode() not in head:
        raise BenchmarkError(f"{server.name} answered {head[:120]!r}, not a {size}-byte 200")


# --- orchestration ---------------------------------------------------------------------


Runs = list[dict[str, Any]]


def run_all(settings: Settings) -> tuple[Runs, Runs, dict[str, str]]:
    """Start both servers, check them, measure round-robin; raw runs and server commands."""
    rps_runs: Runs = []
    download_runs: Runs = []
    with contextlib.ExitStack() as stack:
        bare = stack.enter_context(running_server("bare_trio", settings.server_cpu))
        varied = stack.enter_context(running_server("bare_trio", settings.server_cpu, ["--vary"]))
        bulk = stack.enter_context(
            running_server("bulk_trio", settings.server_cpu, [str(settings.size)])
        )
        preflight(bare, "keep-alive")  # 200, and a second request on the same connection
        preflight(varied, "keep-alive")
        bulk_preflight(bulk, settings.size)
        commands = {s.name: shlex.join(s.command) for s in (bare, bulk)}
        commands["bare_trio --vary"] = shlex.join(varied.command)
        for rep in range(settings.runs):
            print(f"run {rep + 1}/{settings.runs}")
            for mode in MODES:
                for name in rotated(RPS_CLIENTS, rep):
                    time.sleep(settings.pause)
                    server = varied if mode == "varied" else bare
                    rps_runs.append({"rep": rep, **measure_rps(name, mode, server, settings)})
            for name in rotated(DOWNLOAD_CLIENTS, rep):
                time.sleep(settings.pause)
                download_runs.append({"rep": rep, **measure_download(name, bulk, settings)})
    return rps_runs, download_runs, commands


def _ratio(value: float, base: float | None) -> float | None:
    return value / base if base else None


def _stats(mine: Runs, key: str) -> dict[str, Any]:
    """Median, spread, errors, CPU shares, noisy runs and peak RSS of one client's runs."""
    values = [r[key] for r in mine]
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": values,
        "errors": sum(r["errors"] for r in mine),
        "server_cpu_percent": statistics.median(r["server_cpu_percent"] for r in mine),
        "other_cpu_percent": statistics.median(r["other_cpu_percent"] for r in mine),
        "noisy_runs": sum(noisy(r) for r in mine),
        "peak_rss_kib": max(r["peak_rss_kib"] for r in mine),
    }


def summarize(rps_runs: Runs, download_runs: Runs) -> dict[str, Any]:
    """Medians, spread, errors and ratios of medians per mode and client, and per downloader."""
    summary: dict[str, Any] = {}
    for mode in MODES:
        per_client: dict[str, Any] = {}
        for name in RPS_CLIENTS:
            mine = [r for r in rps_runs if r["mode"] == mode and r["client"] == name]
            per_client[name] = _stats(mine, "requests_per_sec")
            per_client[name]["client_cpu_percent"] = statistics.median(
                r["client_cpu_percent"] for r in mine
            )
        for stats in per_client.values():
            stats["vs_httpx"] = _ratio(stats["median"], per_client["httpx"]["median"])
            stats["vs_h11"] = _ratio(stats["median"], per_client["h11"]["median"])
        summary[mode] = per_client
    downloads: dict[str, Any] = {}
    for name in DOWNLOAD_CLIENTS:
        mine = [r for r in download_runs if r["client"] == name]
        before = [r["rss_before_kib"] for r in mine if r["rss_before_kib"] is not None]
        downloads[name] = _stats(mine, "mb_per_sec")
        downloads[name]["rss_before_kib"] = max(before) if before else None
    for stats in downloads.values():
        for base in ("curl", "httpx", "h11"):
            stats[f"vs_{base}"] = _ratio(stats["median"], downloads[base]["median"])
    summary["download"] = downloads
    return summary


def verdicts(summary: dict[str, Any], settings: Settings) -> dict[str, str]:
    """trio_webkit against each bar: 'PASS' or 'FAIL' (RSS: noted if the body was smaller)."""

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    result = {
        f"{mode} req/s >= {BARS.rps_vs_httpx:g} x httpx": verdict(
            (summary[mode]["trio_webkit"]["vs_httpx"] or 0) >= BARS.rps_vs_httpx
        )
        for mode in BARRED_MODES
    }
    ours = summary["download"]["trio_webkit"]
    result[f"download MB/s >= {BARS.download_vs_curl:g} x curl"] = verdict(
        (ours["vs_curl"] or 0) >= BARS.download_vs_curl
    )
    rss = verdict(ours["peak_rss_kib"] < BARS.download_peak_rss_mib * 1024)
    if settings.size < BARS.download_size_mib * MIB:
        rss += f" (body {settings.size // MIB} MiB, the bar is for {BARS.download_size_mib} MiB)"
    result[f"download peak RSS < {BARS.download_peak_rss_mib:g} MiB"] = rss
    return result


def _times(value: float | None) -> str:
    return f"{value:.2f}x" if value is not None else "n/a"


def _marks(stats: dict[str, Any]) -> str:
    """Errors and noisy runs of one client, or nothing."""
    marks = []
    if stats["errors"]:
        marks.append(f"{stats['errors']} error(s)")
    if stats["noisy_runs"]:
        marks.append(f"{stats['noisy_runs']} noisy")
    return ", ".join(marks)


def print_table(summary: dict[str, Any], verdict: dict[str, str], settings: Settings) -> None:
    """Medians, spread, CPU shares, ratios and the verdicts; a warning when runs were noisy."""
    print(
        f"\n{'req/s':<10} {'client':<12} {'median':>9} {'min':>9} {'max':>9}"
        f" {'cpu':>5} {'srv':>5} {'other':>5} {'x httpx':>8} {'x h11':>7}"
    )
    for mode in MODES:
        for name, s in summary[mode].items():
            print(
                f"{mode:<10} {name:<12} {s['median']:>9,.0f} {s['min']:>9,.0f} {s['max']:>9,.0f}"
                f" {s['client_cpu_percent']:>4.0f}% {s['server_cpu_percent']:>4.0f}%"
                f" {s['other_cpu_percent']:>4.0f}% {_times(s['vs_httpx']):>8}"
                f" {_times(s['vs_h11']):>7}  {_marks(s)}"
            )
    size = f"{settings.size / MIB:g} MiB"
    print(
        f"\n{'download':<10} {'client':<12} {'MB/s':>9} {'min':>9} {'max':>9}"
        f" {'peak RSS':>9} {'before':>7} {'srv':>5} {'other':>5} {'x curl':>7} {'x httpx':>8}"
        f" {'x h11':>7}"
    )
    for name, s in summary["download"].items():
        before = f"{s['rss_before_kib'] / 1024:.1f}M" if s["rss_before_kib"] else "-"
        print(
            f"{size:<10} {name:<12} {s['median']:>9,.0f} {s['min']:>9,.0f} {s['max']:>9,.0f}"
            f" {s['peak_rss_kib'] / 1024:>8.1f}M {before:>7} {s['server_cpu_percent']:>4.0f}%"
            f" {s['other_cpu_percent']:>4.0f}% {_times(s['vs_curl']):>7}"
            f" {_times(s['vs_httpx']):>8} {_times(s['vs_h11']):>7}  {_marks(s)}"
        )
    print("\ntrio_webkit against the bars:")
    for bar, result in verdict.items():
        print(f"  {bar:<32} {result}")
    groups = [*(summary[mode].values() for mode in MODES), summary["download"].values()]
    noisy_runs = sum(s["noisy_runs"] for group in groups for s in group)
    if noisy_runs:
        print("\n" + noise_warning(noisy_runs))


# --- command line ----------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; ``--quick`` overrides runs, duration, warm-up and size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="measured runs per client (3)")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per req/s run (3)")
    parser.add_argument(
        "--warmup", type=float, default=0.5, help="uncounted seconds at the start of each (0.5)"
    )
    parser.add_argument("--size-mib", type=int, default=1024, help="download body MiB (1024)")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between runs (0.5)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke: 1 run of 0.5 s, 16 MiB download (< 30 s)"
    )
    parser.add_argument(
        "--json", type=Path, default=None,
        help="output file (default benchmarks/results/client-<date>.json)",
    )  # fmt: skip
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.duration, args.warmup, args.size_mib, args.pause = 1, 0.5, 0.1, 16, 0.1
    if args.runs < 1 or args.duration <= 0 or args.size_mib < 1 or args.warmup < 0:
        parser.error("--runs and --size-mib must be >= 1, --duration > 0, --warmup >= 0")
    return args


def settings_from(args: argparse.Namespace) -> Settings:
    """Freeze the parsed options."""
    return Settings(
        runs=args.runs, duration=args.duration, warmup=args.warmup, size=args.size_mib * MIB,
        pause=args.pause, server_cpu=args.server_cpu, client_cpu=args.client_cpu,
    )  # fmt: skip


def run(settings: Settings, json_path: Path) -> dict[str, Any]:
    """Measure everything, print the table, save the JSON report; the report."""
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    machine = machine_info(
        packages=("httpx", "httpcore", "anyio"), tools={"curl": ["curl", "--version"]}
    )
    rps_runs, download_runs, server_commands = run_all(settings)
    summary = summarize(rps_runs, download_runs)
    verdict = verdicts(summary, settings)
    print_table(summary, verdict, settings)
    report = {
        "benchmark": "client",
        "started": started,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine,
        "settings": asdict(settings),
        "client_commands": {
            **{
                f"{mode} {name}": shlex.join(rps_command(name, mode, "PORT", settings))
                for mode in MODES
                for name in RPS_CLIENTS
            },
            **{
                f"download {name}": shlex.join(download_command(name, "PORT", settings))
                for name in DOWNLOAD_CLIENTS
            },
        },
        "server_commands": server_commands,
        "bars": asdict(BARS),
        "summary": summary,
        "verdict": verdict,
        "rps_runs": rps_runs,
        "download_runs": download_runs,
    }
    save_json(json_path, report)
    print(f"\nsaved {json_path}")
    return report


def cannot_run() -> str | None:
    """Why this benchmark cannot run here (a tool or httpx missing), or None."""
    error = missing_tools_reason("taskset", "curl")
    if error:
        return error
    if importlib.util.find_spec("httpx") is None:
        return "httpx is not installed (pip install httpx)"
    return None


def section(argv: list[str], json_path: Path | None = None) -> dict[str, Any]:
    """Run with the command-line options ``argv``; the report, saved to ``json_path``.

    ``json_path`` defaults to ``--json``, else ``benchmarks/results/client-<date>.json``.
    """
    args = parse_args(argv)
    check_cpus(args.server_cpu, args.client_cpu)
    return run(settings_from(args), json_path or args.json or default_json_path("client"))


def rows(report: dict[str, Any]) -> list[Row]:
    """The combined summary's rows: req/s per mode, download MB/s and peak RSS."""
    summary, runs = report["summary"], report["settings"]["runs"]
    result = []
    for mode in MODES:
        medians = {name: stats["median"] for name, stats in summary[mode].items()}
        result.append(
            comparison(
                "client", f"{mode} GETs/s", "req/s", "higher", medians.pop("trio_webkit"),
                medians, ceiling="h11", runs=runs,
            )
        )  # fmt: skip
    size = f"{report['settings']['size'] // MIB} MiB"
    downloads = summary["download"]
    for key, what, unit, better, scale in (
        ("median", f"download {size} MB/s", "MB/s", "higher", 1),
        ("peak_rss_kib", f"download {size} peak RSS", "MiB", "lower", 1 / 1024),
    ):
        values = {name: stats[key] * scale for name, stats in downloads.items()}
        result.append(
            comparison(
                "client", what, unit, better, values.pop("trio_webkit"), values,
                ceiling="h11" if better == "higher" else None, runs=runs,
            )
        )  # fmt: skip
    return result


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    return section_main(argv, parse_args, cannot_run, section)


if __name__ == "__main__":
    sys.exit(main())
