"""Static files: trio_webkit's FileServer against http.server, aiohttp and nginx.

Every server runs pinned to core 0 (``taskset -c 0``) and serves the same
temporary directory: ``small.bin`` (1 KiB) and ``large.bin`` (1 GiB of real
bytes, not sparse; 64 MiB with ``--quick``), written once per invocation and
deleted at the end. The load runs pinned to core 1. Measured, ``--runs``
(3) times round-robin with a rotating first server:

1. small-file req/s: ``wrk -t1 -c50 -d<S>s .../small.bin`` (200s only, no
   socket errors, or the run is flagged);
2. large-file MB/s: one ``curl -o /dev/null`` of ``large.bin``;
3. server RSS while 10 slow clients (raw sockets, each reading 64 KiB every
   10 ms) download ``large.bin`` at once for a few seconds: the growth over
   the RSS before them must stay flat, not follow the bytes sent;
4. ``trio-webkit bench -c 50`` against ``wrk -t1 -c50`` on the bare-Trio
   ceiling server (``servers/bare_trio.py``): how much load our own load
   generator drives, as a fraction of wrk's.

Printed and saved as JSON: medians, ratios and the bars of issue 5 (see
benchmarks/README.md, section "Static files"), with the exact commands.

Usage::

    python -m benchmarks.static [--runs N] [--quick] [--profile] [--json PATH]

Exit status: 0 when the measurement ran (whether or not the bars were met),
1 when it could not (wrk, taskset or curl missing, a server or tool failed).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    BENCH_DIR,
    HOST,
    BenchmarkError,
    CpuSnapshot,
    ServerProcess,
    bench_cli_unavailable,
    bench_command,
    check_cpus,
    cpu_seconds,
    default_json_path,
    machine_info,
    missing_tools_reason,
    noise_warning,
    noisy,
    pinned,
    pinned_self,
    rss_kib,
    run_bench,
    running_command,
    running_server,
    save_json,
    section_main,
    until_quiet,
)
from benchmarks.hello import Settings as WrkSettings
from benchmarks.hello import describe_errors, preflight, rotated, run_wrk, wrk_command
from benchmarks.profiling import profile_path, profiled
from benchmarks.report import Row, comparison

SERVER_NAMES = ("trio_webkit", "http.server", "aiohttp", "nginx")
SMALL_NAME = "small.bin"
SMALL_SIZE = 1024
LARGE_NAME = "large.bin"
MIB = 1024 * 1024
WARMUP_SECONDS = 2
PREFLIGHT_TIMEOUT = 10.0
CURL_FORMAT = "%{http_code} %{size_download} %{time_total}"
#: A download slower than this (MB/s) hits its deadline: a bound, not an expectation.
SLOWEST_DOWNLOAD = 10.0
PROCESS_GRACE = 60.0
#: Slow clients: how many, bytes per read, seconds between reads.
SLOW_CLIENTS = 10
SLOW_READ = 65536
SLOW_INTERVAL = 0.010
#: Seconds the server gets after the slow clients close, before its RSS is read again.
SLOW_SETTLE = 1.0
#: Seconds between the RSS samples kept in the JSON report (all are used for the peak).
RSS_KEEP_EVERY = 0.1
#: Seconds to wait before measuring a noisy run again.
RETRY_PAUSE = 3.0


@dataclass(frozen=True)
class Bars:
    """Issue 5's bars for trio_webkit's FileServer."""

    small_vs_http_server: float = 3.0
    small_vs_aiohttp: float = 1.0
    large_vs_nginx: float = 0.5
    #: "Flat": the RSS growth with 10 slow clients on the 1 GiB file, at most.
    slow_rss_growth_mib: float = 16.0
    bench_vs_wrk: float = 0.3
    bench_vs_wrk_aim: float = 0.5


BARS = Bars()


@dataclass(frozen=True)
class Settings:
    """What one invocation measures and how."""

    runs: int
    duration: int
    connections: int
    warmup: int
    large_size: int
    slow_clients: int
    slow_seconds: float
    bench_duration: int
    pause: float
    retries: int
    retry_pause: float
    server_cpu: int
    client_cpu: int
    #: Sample trio_webkit's file server with py-spy for the whole run (see profiling.py).
    profile: bool = False

    def wrk(self) -> WrkSettings:
        """The part ``hello.wrk_command`` reads (connections, client CPU), as its type."""
        return WrkSettings(
            runs=self.runs, duration=self.duration, connections=self.connections,
            warmup=self.warmup, pause=self.pause, server_cpu=self.server_cpu,
            client_cpu=self.client_cpu, modes=("keep-alive",),
        )  # fmt: skip

    def retry(self) -> tuple[float, int, float]:
        """:func:`harness.until_quiet`'s pause, retries and retry pause."""
        return (self.pause, self.retries, self.retry_pause)

    def cpus(self) -> tuple[int, int]:
        """The two pinned CPUs (the server's, the load generator's)."""
        return (self.server_cpu, self.client_cpu)


Runs = list[dict[str, Any]]


# --- the files -------------------------------------------------------------------------


def write_files(directory: Path, large_size: int) -> bytes:
    """Write ``small.bin`` (1 KiB random) and ``large.bin`` (real bytes); the small file's bytes.

    The large file is a random 1 MiB block written over and over (every
    block really on disk, so the page cache holds it as any other file),
    then flushed; its allocation is checked not to be sparse.
    """
    small = os.urandom(SMALL_SIZE)
    (directory / SMALL_NAME).write_bytes(small)
    block = os.urandom(MIB)
    with (directory / LARGE_NAME).open("wb") as file:
        whole, rest = divmod(large_size, MIB)
        for _ in range(whole):
            file.write(block)
        file.write(block[:rest])
        file.flush()
        os.fsync(file.fileno())
    info = (directory / LARGE_NAME).stat()
    if info.st_size != large_size or info.st_blocks * 512 < large_size:
        raise BenchmarkError(f"{LARGE_NAME} is sparse or short: {info}")
    return small


# --- the servers -----------------------------------------------------------------------


def nginx_config(workdir: Path, port: int, root: Path) -> Path:
    """Write a one-process, foreground nginx config for ``port`` serving ``root``; its path.

    Everything nginx writes (pid, temp directories) stays in ``workdir``.
    ``keepalive_requests`` is raised from nginx's default of 1000 so that, like
    the Python servers, it keeps wrk's connections for the whole run.
    """
    temps = "\n".join(
        f"    {kind}_temp_path {workdir / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    config = workdir / f"nginx-{port}.conf"
    config.write_text(
        "daemon off;\nmaster_process off;\nworker_processes 1;\n"
        f"error_log stderr;\npid {workdir / 'nginx.pid'};\n"
        "events { worker_connections 4096; }\n"
        "http {\n"
        "    access_log off;\n    sendfile on;\n    keepalive_requests 1000000;\n"
        "    default_type application/octet-stream;\n"
        f"{temps}\n"
        f"    server {{ listen {HOST}:{port}; root {root}; }}\n"
        "}\n"
    )
    return config


def command_factory(name: str, root: Path, workdir: Path, cpu: int) -> Callable[[int], list[str]]:
    """The function building server ``name``'s pinned command for a port."""
    python = sys.executable
    servers = BENCH_DIR / "servers"
    if name == "trio_webkit":
        script = str(servers / "trio_webkit_files.py")
        return lambda port: pinned(cpu, python, script, str(root), str(port))
    if name == "aiohttp":
        script = str(servers / "aiohttp_files.py")
        return lambda port: pinned(cpu, python, script, str(root), str(port))
    if name == "http.server":
        return lambda port: pinned(
            cpu, python, "-m", "http.server", str(port), "--bind", HOST, "--directory", str(root)
        )
    if name == "nginx":
        nginx = shutil.which("nginx") or "nginx"

        def nginx_command(port: int) -> list[str]:
            config = nginx_config(workdir, port, root)
            return pinned(cpu, nginx, "-e", "stderr", "-p", str(workdir), "-c", str(config))

        return nginx_command
    raise ValueError(name)


def unavailable() -> dict[str, str]:
    """Peers that cannot run here, with why (they are skipped and their bars not judged)."""
    skipped = {}
    if importlib.util.find_spec("aiohttp") is None:
        skipped["aiohttp"] = "aiohttp not installed (pip install aiohttp)"
    if shutil.which("nginx") is None:
        skipped["nginx"] = "nginx not found (Debian/Ubuntu: apt-get install nginx)"
    return skipped


# --- preflight -------------------------------------------------------------------------


def http_get(port: int, method: str, path: str) -> tuple[bytes, dict[str, str], bytes]:
    """One request with ``Connection: close``; status line, headers and (GET) whole body."""
    request = f"{method} /{path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"
    data = b""
    with socket.create_connection((HOST, port), timeout=PREFLIGHT_TIMEOUT) as sock:
        sock.sendall(request.encode())
        while chunk := sock.recv(65536):
            data += chunk
            if method == "HEAD" and b"\r\n\r\n" in data:
                break
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines)}
    return status.encode(), headers, body


def file_preflight(server: ServerProcess, small: bytes, large_size: int) -> None:
    """Check the server sends small.bin's exact bytes and announces large.bin's size."""
    try:
        status, headers, body = http_get(server.port, "GET", SMALL_NAME)
        if not re.match(rb"HTTP/1\.[01] 200 ", status) or body != small:
            raise BenchmarkError(f"{server.name}: GET /{SMALL_NAME} gave {status!r}, wrong body")
        status, headers, _ = http_get(server.port, "HEAD", LARGE_NAME)
        if not re.match(rb"HTTP/1\.[01] 200 ", status):
            raise BenchmarkError(f"{server.name}: HEAD /{LARGE_NAME} gave {status!r}")
        if headers.get("content-length") != str(large_size):
            raise BenchmarkError(
                f"{server.name}: /{LARGE_NAME} announced {headers.get('content-length')}"
                f" bytes, not {large_size}"
            )
    except OSError as exc:
        raise BenchmarkError(f"{server.name} failed the preflight: {exc!r}") from exc


# --- 1. small file: wrk ----------------------------------------------------------------


def file_url(port: int | str, name: str) -> str:
    """``http://127.0.0.1:PORT/NAME``."""
    return f"http://{HOST}:{port}/{name}"


def measure_small(server: ServerProcess, duration: int, settings: Settings) -> dict[str, Any]:
    """One wrk run on small.bin; the raw result with its command and the noise share."""
    command = wrk_command(file_url(server.port, SMALL_NAME), "keep-alive", duration, settings.wrk())
    before = CpuSnapshot.take(server, settings.cpus())
    result = run_wrk(command, duration, server)
    after = CpuSnapshot.take(server, settings.cpus())
    result.update(
        server=server.name,
        command=shlex.join(command),
        other_cpu_percent=before.other_percent_until(after),
    )
    flags = "" if result["clean"] else "  UNCLEAN: " + describe_errors(result)
    flags += "  NOISY" if noisy(result) else ""
    print(
        f"  small     {server.name:<12} {result['requests_per_sec']:>10,.0f} req/s"
        f"  cpu server {result['server_cpu_percent']:>3.0f} % wrk"
        f" {result['client_cpu_percent']:>3.0f} % other {result['other_cpu_percent']:>3.0f} %"
        f"{flags}"
    )
    return result


# --- 2. large file: curl ---------------------------------------------------------------


def curl_deadline(settings: Settings) -> float:
    """Seconds one large download may take (at :data:`SLOWEST_DOWNLOAD` MB/s, plus 10 s)."""
    return round(settings.large_size / (SLOWEST_DOWNLOAD * 1e6) + 10, 1)


def curl_command(port: int | str, settings: Settings) -> list[str]:
    """``taskset -c 1 curl -s -S -o /dev/null --max-time T -w FORMAT .../large.bin``."""
    return pinned(
        settings.client_cpu, "curl", "-s", "-S", "-o", "/dev/null",
        "--max-time", str(curl_deadline(settings)), "-w", CURL_FORMAT,
        file_url(port, LARGE_NAME),
    )  # fmt: skip


def measure_large(server: ServerProcess, settings: Settings) -> dict[str, Any]:
    """One curl download of large.bin: MB/s, exact size, server CPU and noise share."""
    command = curl_command(server.port, settings)
    before = CpuSnapshot.take(server, settings.cpus())
    try:
        done = subprocess.run(
            command, capture_output=True, text=True,
            timeout=curl_deadline(settings) + PROCESS_GRACE,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise BenchmarkError(f"curl did not finish in time: {shlex.join(command)}") from exc
    after = CpuSnapshot.take(server, settings.cpus())
    server.check_alive()
    try:
        code, size, seconds = done.stdout.split()
        received, elapsed = int(size), float(seconds)
    except ValueError as exc:
        raise BenchmarkError(f"cannot parse curl's output: {done.stdout!r} {done.stderr}") from exc
    error = None
    if done.returncode != 0 or code != "200" or received != settings.large_size:
        error = f"curl exit {done.returncode}, status {code}, {received} of {settings.large_size}"
    result = {
        "server": server.name,
        "command": shlex.join(command),
        "bytes": received,
        "seconds": elapsed,
        "mb_per_sec": received / elapsed / 1e6 if elapsed else 0.0,
        "errors": int(error is not None),
        "first_error": error,
        "server_cpu_percent": round(100 * before.server_seconds_until(after) / elapsed, 1),
        "other_cpu_percent": before.other_percent_until(after),
    }
    flags = f"  ERROR: {error}" if error else ""
    flags += "  NOISY" if noisy(result) else ""
    print(
        f"  large     {server.name:<12} {result['mb_per_sec']:>10,.0f} MB/s "
        f"  cpu server {result['server_cpu_percent']:>3.0f} %"
        f" other {result['other_cpu_percent']:>3.0f} %{flags}"
    )
    return result


# --- 3. slow clients: server RSS -------------------------------------------------------


def open_slow_clients(port: int, count: int) -> list[socket.socket]:
    """``count`` sockets, each having sent a GET for large.bin, set non-blocking."""
    request = f"GET /{LARGE_NAME} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    sockets = []
    try:
        for _ in range(count):
            sock = socket.create_connection((HOST, port), timeout=PREFLIGHT_TIMEOUT)
            sockets.append(sock)
            sock.sendall(request)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def read_slowly(
    sockets: list[socket.socket], seconds: float, pid: int
) -> tuple[list[int], list[str], list[tuple[float, int]]]:
    """Read up to 64 KiB per socket every 10 ms for ``seconds``, sampling the server's RSS.

    Returns the bytes each socket received (head included), the status line
    each got ('' if none yet; 'EOF' appended when the server closed or
    reset the connection early),
    and (seconds, VmRSS KiB) samples taken every tick.
    """
    received = [0] * len(sockets)
    heads = [b""] * len(sockets)
    closed = [False] * len(sockets)
    samples: list[tuple[float, int]] = []
    started = time.monotonic()
    tick = started
    while (now := time.monotonic()) - started < seconds:
        for i, sock in enumerate(sockets):
            if closed[i]:
                continue
            try:
                chunk = sock.recv(SLOW_READ)
            except BlockingIOError:
                continue
            except OSError:  # reset by the server: counted as cut off, like an early EOF
                chunk = b""
            if not chunk:
                closed[i] = True
                continue
            received[i] += len(chunk)
            if b"\r\n" not in heads[i]:
                heads[i] += chunk[:256]
        samples.append((round(now - started, 3), rss_kib(pid)))
        tick += SLOW_INTERVAL
        time.sleep(max(0.0, tick - time.monotonic()))
    statuses = [
        h.split(b"\r\n", 1)[0].decode("latin-1") + (" EOF" if c else "")
        for h, c in zip(heads, closed, strict=True)
    ]
    return received, statuses, samples


def measure_slow(server: ServerProcess, settings: Settings) -> dict[str, Any]:
    """Server VmRSS before, during (peak) and after 10 slow downloads of large.bin."""
    time.sleep(0.5)
    before = rss_kib(server.pid)
    cpu_before = cpu_seconds(server.pid)
    with pinned_self(settings.client_cpu):
        sockets = open_slow_clients(server.port, settings.slow_clients)
        try:
            received, statuses, samples = read_slowly(sockets, settings.slow_seconds, server.pid)
        except OSError as exc:  # the server's /proc entry is gone: it died
            server.check_alive()
            raise BenchmarkError(f"{server.name}: slow clients failed: {exc!r}") from exc
        finally:
            for sock in sockets:
                sock.close()
    server_cpu = cpu_seconds(server.pid) - cpu_before
    server.check_alive()
    time.sleep(SLOW_SETTLE)
    after = rss_kib(server.pid)
    peak = max(rss for _, rss in samples)
    half = settings.slow_seconds / 2
    first_half = max((rss for t, rss in samples if t < half), default=before)
    ok_statuses = [s for s in statuses if re.match(r"HTTP/1\.[01] 200 ", s) and "EOF" not in s]
    error = None
    if len(ok_statuses) != len(statuses) or min(received) == 0:
        error = f"statuses {sorted(set(statuses))}, least received {min(received)} bytes"
    kept, last_kept = [], -RSS_KEEP_EVERY
    for t, rss in samples:
        if t - last_kept >= RSS_KEEP_EVERY:
            kept.append([t, rss])
            last_kept = t
    result = {
        "server": server.name,
        "clients": settings.slow_clients,
        "seconds": settings.slow_seconds,
        "rss_before_kib": before,
        "rss_peak_kib": peak,
        "rss_growth_kib": peak - before,
        "rss_late_growth_kib": peak - first_half,  # growth during the second half
        "rss_after_kib": after,
        "received_bytes": sum(received),
        "received_per_client": received,
        "server_cpu_seconds": round(server_cpu, 3),
        "errors": int(error is not None),
        "first_error": error,
        "rss_samples": kept,
    }
    print(
        f"  slow x{settings.slow_clients:<3} {server.name:<12} RSS {before / 1024:6.1f}"
        f" -> peak {peak / 1024:6.1f} MiB (+{(peak - before) / 1024:.1f})"
        f", after {after / 1024:6.1f}; clients got {sum(received) / 1e6:,.0f} MB"
        + (f"  ERROR: {error}" if error else "")
    )
    return result


# --- 4. trio-webkit bench vs wrk -------------------------------------------------------


def bare_url(port: int | str) -> str:
    """The bare-Trio server's URL."""
    return f"http://{HOST}:{port}/"


def static_bench_command(port: int | str, settings: Settings) -> list[str]:
    """``taskset -c 1 python -m trio_webkit bench URL -c 50 -d S --json`` (the working tree)."""
    return bench_command(
        bare_url(port), settings.connections, settings.bench_duration, settings.client_cpu
    )


def measure_generator(tool: str, server: ServerProcess, settings: Settings) -> dict[str, Any]:
    """One load run of ``tool`` (wrk or bench) on the bare-Trio server."""
    duration = settings.bench_duration
    if tool == "wrk":
        command = wrk_command(bare_url(server.port), "keep-alive", duration, settings.wrk())
    else:
        command = static_bench_command(server.port, settings)
    before = CpuSnapshot.take(server, settings.cpus())
    if tool == "wrk":
        raw = run_wrk(command, duration, server)
        rate, clean = raw["requests_per_sec"], raw["clean"]
    else:
        wall = time.monotonic()
        raw = run_bench(command, duration, PROCESS_GRACE)
        rate = float(raw["requests_per_sec"])
        clean = not raw.get("errors_total") and not raw.get("non_2xx_3xx")
        raw["process_seconds"] = round(time.monotonic() - wall, 2)
    after = CpuSnapshot.take(server, settings.cpus())
    server.check_alive()
    result = {
        "tool": tool,
        "command": shlex.join(command),
        "requests_per_sec": rate,
        "clean": clean,
        "other_cpu_percent": before.other_percent_until(after),
        "raw": raw,
    }
    flags = "" if clean else "  UNCLEAN"
    flags += "  NOISY" if noisy(result) else ""
    print(f"  load gen  {tool:<12} {rate:>10,.0f} req/s on bare_trio{flags}")
    return result


# --- orchestration ---------------------------------------------------------------------


def run_all(
    settings: Settings,
    names: list[str],
    root: Path,
    small: bytes,
    bench_available: bool,
    profile_output: Path | None = None,
) -> dict[str, Any]:
    """Start every server, check them, warm up, measure round-robin; raw runs and commands."""
    small_runs: Runs = []
    large_runs: Runs = []
    slow_runs: Runs = []
    load_runs: Runs = []
    generators = ["wrk", "bench"] if bench_available else ["wrk"]
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-nginx-")))
        servers: dict[str, ServerProcess] = {}
        for name in names:
            make = command_factory(name, root, workdir, settings.server_cpu)
            servers[name] = stack.enter_context(running_command(name, make))
            file_preflight(servers[name], small, settings.large_size)
        bare = stack.enter_context(running_server("bare_trio", settings.server_cpu))
        preflight(bare, "keep-alive")
        if profile_output is not None:
            ours = servers["trio_webkit"]
            stack.enter_context(profiled(ours, profile_output, settings.client_cpu))
        commands = {
            name: shlex.join(s.command) for name, s in {**servers, "bare_trio": bare}.items()
        }
        if settings.warmup:
            print(f"warm-up ({settings.warmup} s each)")
            for name in names:
                measure_small(servers[name], settings.warmup, settings)
        for rep in range(settings.runs):
            print(f"run {rep + 1}/{settings.runs}")
            order = rotated(tuple(names), rep)
            for name in order:
                measure = partial(measure_small, servers[name], settings.duration, settings)
                small_runs.append({"rep": rep, **until_quiet(measure, *settings.retry())})
            for name in order:
                measure = partial(measure_large, servers[name], settings)
                large_runs.append({"rep": rep, **until_quiet(measure, *settings.retry())})
            for name in order:
                slow_runs.append({"rep": rep, **measure_slow(servers[name], settings)})
            for tool in rotated(tuple(generators), rep):
                measure = partial(measure_generator, tool, bare, settings)
                load_runs.append({"rep": rep, **until_quiet(measure, *settings.retry())})
        final_rss = {name: rss_kib(s.pid) for name, s in servers.items()}
    return {
        "small_runs": small_runs,
        "large_runs": large_runs,
        "slow_runs": slow_runs,
        "load_runs": load_runs,
        "server_commands": commands,
        "final_rss_kib": final_rss,
    }


def _ratio(value: float | None, base: float | None) -> float | None:
    return value / base if value is not None and base else None


def _spread(values: list[float]) -> dict[str, Any]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": values,
    }


def summarize(raw: dict[str, Any], names: list[str], bench_note: str | None) -> dict[str, Any]:
    """Medians, spreads, ratios and noise per measurement and server."""
    small: dict[str, Any] = {}
    large: dict[str, Any] = {}
    slow: dict[str, Any] = {}
    for name in names:
        mine = [r for r in raw["small_runs"] if r["server"] == name]
        small[name] = {
            **_spread([r["requests_per_sec"] for r in mine]),
            "server_cpu_percent": statistics.median(r["server_cpu_percent"] for r in mine),
            "client_cpu_percent": statistics.median(r["client_cpu_percent"] for r in mine),
            "other_cpu_percent": statistics.median(r["other_cpu_percent"] for r in mine),
            "unclean_runs": sum(not r["clean"] for r in mine),
            "noisy_runs": sum(noisy(r) for r in mine),
            "remeasured": sum(len(r["discarded_noisy"]) for r in mine),
        }
        mine = [r for r in raw["large_runs"] if r["server"] == name]
        large[name] = {
            **_spread([r["mb_per_sec"] for r in mine]),
            "server_cpu_percent": statistics.median(r["server_cpu_percent"] for r in mine),
            "other_cpu_percent": statistics.median(r["other_cpu_percent"] for r in mine),
            "errors": sum(r["errors"] for r in mine),
            "noisy_runs": sum(noisy(r) for r in mine),
            "remeasured": sum(len(r["discarded_noisy"]) for r in mine),
        }
        mine = [r for r in raw["slow_runs"] if r["server"] == name]
        worst = max(mine, key=lambda r: r["rss_growth_kib"])
        slow[name] = {
            "rss_growth_kib_max": worst["rss_growth_kib"],
            "rss_growth_kib_runs": [r["rss_growth_kib"] for r in mine],
            "rss_late_growth_kib_max": max(r["rss_late_growth_kib"] for r in mine),
            "rss_before_kib": worst["rss_before_kib"],
            "rss_peak_kib": worst["rss_peak_kib"],
            "rss_after_kib": worst["rss_after_kib"],
            "received_bytes_median": statistics.median(r["received_bytes"] for r in mine),
            "errors": sum(r["errors"] for r in mine),
            "final_rss_kib": raw["final_rss_kib"][name],
        }
    for name in names:
        small[name]["vs_http_server"] = _ratio(
            small[name]["median"], small.get("http.server", {}).get("median")
        )
        small[name]["vs_aiohttp"] = _ratio(
            small[name]["median"], small.get("aiohttp", {}).get("median")
        )
        large[name]["vs_nginx"] = _ratio(
            large[name]["median"], large.get("nginx", {}).get("median")
        )
    load: dict[str, Any] = {}
    for tool in ("wrk", "bench"):
        mine = [r for r in raw["load_runs"] if r["tool"] == tool]
        if mine:
            load[tool] = {
                **_spread([r["requests_per_sec"] for r in mine]),
                "unclean_runs": sum(not r["clean"] for r in mine),
                "noisy_runs": sum(noisy(r) for r in mine),
                "remeasured": sum(len(r["discarded_noisy"]) for r in mine),
            }
    load["bench_vs_wrk"] = _ratio(load.get("bench", {}).get("median"), load["wrk"]["median"])
    load["bench_note"] = bench_note
    return {"small": small, "large": large, "slow": slow, "load_generator": load}


def verdicts(
    summary: dict[str, Any], skipped: dict[str, str], settings: Settings
) -> dict[str, str]:
    """trio_webkit against each bar: PASS, FAIL, or why it could not be judged."""

    def judge(value: float | None, bar: float, missing: str) -> str:
        if value is None:
            return f"n/a ({missing})"
        return "PASS" if value >= bar else "FAIL"

    ours_small = summary["small"]["trio_webkit"]
    ours_large = summary["large"]["trio_webkit"]
    result = {
        f"small req/s >= {BARS.small_vs_http_server:g} x http.server": judge(
            ours_small["vs_http_server"], BARS.small_vs_http_server, "no http.server"
        ),
        "small req/s >= aiohttp": judge(
            ours_small["vs_aiohttp"], BARS.small_vs_aiohttp, skipped.get("aiohttp", "no aiohttp")
        ),
        f"large MB/s >= {BARS.large_vs_nginx:g} x nginx": judge(
            ours_large["vs_nginx"], BARS.large_vs_nginx, skipped.get("nginx", "no nginx")
        ),
    }
    growth = summary["slow"]["trio_webkit"]["rss_growth_kib_max"]
    rss = "PASS" if growth <= BARS.slow_rss_growth_mib * 1024 else "FAIL"
    if summary["slow"]["trio_webkit"]["errors"]:
        rss += " (but a slow client failed: see the runs)"
    if settings.large_size < 1024 * MIB:
        rss += f" (file {settings.large_size // MIB} MiB, the bar is for 1 GiB)"
    result[
        f"RSS growth, {settings.slow_clients} slow clients <= {BARS.slow_rss_growth_mib:g} MiB"
    ] = rss
    ratio = summary["load_generator"]["bench_vs_wrk"]
    bench = judge(ratio, BARS.bench_vs_wrk, summary["load_generator"]["bench_note"] or "")
    if bench == "PASS" and ratio >= BARS.bench_vs_wrk_aim:
        bench = "PASS (aim met)"
    result[f"bench/wrk >= {BARS.bench_vs_wrk:g} (aim {BARS.bench_vs_wrk_aim:g})"] = bench
    return result


# --- report ----------------------------------------------------------------------------


def _times(value: float | None) -> str:
    return f"{value:.2f}x" if value is not None else "-"


def _marks(stats: dict[str, Any]) -> str:
    marks = []
    for key, text in (
        ("unclean_runs", "unclean"),
        ("errors", "error(s)"),
        ("noisy_runs", "noisy"),
        ("remeasured", "noisy re-measured"),
    ):
        if stats.get(key):
            marks.append(f"{stats[key]} {text}")
    return ", ".join(marks)


def print_table(
    summary: dict[str, Any], verdict: dict[str, str], skipped: dict[str, str], settings: Settings
) -> None:
    """The medians, ratios, RSS and verdicts; notes for skipped peers and noisy runs."""
    print(
        f"\nsmall file (1 KiB), wrk -t1 -c{settings.connections} -d{settings.duration}s, "
        f"{settings.runs} run(s)"
    )
    print(
        f"{'server':<12} {'req/s':>9} {'min':>9} {'max':>9} {'srv':>5} {'wrk':>5} {'other':>5}"
        f" {'x http.server':>13} {'x aiohttp':>9}"
    )
    for name, s in summary["small"].items():
        print(
            f"{name:<12} {s['median']:>9,.0f} {s['min']:>9,.0f} {s['max']:>9,.0f}"
            f" {s['server_cpu_percent']:>4.0f}% {s['client_cpu_percent']:>4.0f}%"
            f" {s['other_cpu_percent']:>4.0f}% {_times(s['vs_http_server']):>13}"
            f" {_times(s['vs_aiohttp']):>9}  {_marks(s)}"
        )
    size = f"{settings.large_size / MIB:g} MiB"
    print(f"\nlarge file ({size}), curl -o /dev/null")
    print(
        f"{'server':<12} {'MB/s':>9} {'min':>9} {'max':>9} {'srv':>5} {'other':>5} {'x nginx':>8}"
    )
    for name, s in summary["large"].items():
        print(
            f"{name:<12} {s['median']:>9,.0f} {s['min']:>9,.0f} {s['max']:>9,.0f}"
            f" {s['server_cpu_percent']:>4.0f}% {s['other_cpu_percent']:>4.0f}%"
            f" {_times(s['vs_nginx']):>8}  {_marks(s)}"
        )
    print(
        f"\nserver RSS, {settings.slow_clients} slow clients on the {size} file"
        f" ({SLOW_READ // 1024} KiB every {SLOW_INTERVAL * 1000:g} ms each,"
        f" {settings.slow_seconds:g} s; worst run)"
    )
    print(
        f"{'server':<12} {'before':>8} {'peak':>8} {'growth':>8} {'2nd half':>8} {'after':>8}"
        f" {'sent':>9}"
    )
    for name, s in summary["slow"].items():
        print(
            f"{name:<12} {s['rss_before_kib'] / 1024:>7.1f}M {s['rss_peak_kib'] / 1024:>7.1f}M"
            f" {s['rss_growth_kib_max'] / 1024:>+7.1f}M"
            f" {s['rss_late_growth_kib_max'] / 1024:>+7.1f}M"
            f" {s['rss_after_kib'] / 1024:>7.1f}M {s['received_bytes_median'] / 1e6:>7,.0f}MB"
            f"  {_marks(s)}"
        )
    load = summary["load_generator"]
    print(f"\nload generators on bare_trio, -c{settings.connections}, {settings.bench_duration} s")
    for tool in ("wrk", "bench"):
        if tool in load:
            s = load[tool]
            print(
                f"{tool:<12} {s['median']:>9,.0f} {s['min']:>9,.0f} {s['max']:>9,.0f}  {_marks(s)}"
            )
        else:
            print(f"{tool:<12} not available yet: {load['bench_note']}")
    print(f"bench / wrk  {_times(load['bench_vs_wrk'])}")
    for name, why in skipped.items():
        print(f"\nnote: {name} skipped: {why}")
    print("\ntrio_webkit against the bars:")
    for bar, result in verdict.items():
        print(f"  {bar:<44} {result}")
    groups = [
        summary["small"],
        summary["large"],
        {k: v for k, v in load.items() if k in ("wrk", "bench")},
    ]
    noisy_runs = sum(s.get("noisy_runs", 0) for group in groups for s in group.values())
    if noisy_runs:
        print("\n" + noise_warning(noisy_runs))


# --- command line ----------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; ``--quick`` overrides runs, durations, sizes and pauses."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="measured runs per server (3)")
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run (3)")
    parser.add_argument("--connections", type=int, default=50, help="wrk/bench -c (50)")
    parser.add_argument("--warmup", type=int, default=WARMUP_SECONDS, help="warm-up seconds (2)")
    parser.add_argument("--large-mib", type=int, default=1024, help="large file MiB (1024)")
    parser.add_argument("--slow-seconds", type=float, default=3.0, help="slow-client phase (3)")
    parser.add_argument(
        "--bench-duration", type=int, default=3, help="seconds per bench/wrk run (3)"
    )
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between runs (0.5)")
    parser.add_argument(
        "--retries", type=int, default=2,
        help="measure a noisy run again, this many times at most (2; --quick: 0)",
    )  # fmt: skip
    parser.add_argument(
        "--quick", action="store_true",
        help="smoke: 1 run of 1 s, 16 MiB large file, no warm-up (< 30 s)",
    )  # fmt: skip
    parser.add_argument(
        "--profile", action="store_true",
        help="sample trio_webkit with py-spy; flame graph next to the JSON",
    )  # fmt: skip
    parser.add_argument(
        "--json", type=Path, default=None,
        help="output file (default benchmarks/results/static-<date>.json)",
    )  # fmt: skip
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.duration, args.warmup, args.large_mib = 1, 1, 0, 16
        args.slow_seconds, args.bench_duration, args.pause, args.retries = 0.5, 1, 0.1, 0
    if min(args.runs, args.duration, args.connections, args.large_mib, args.bench_duration) < 1:
        parser.error("--runs, --duration, --connections, --large-mib, --bench-duration: >= 1")
    if args.slow_seconds <= 0 or args.warmup < 0 or args.retries < 0:
        parser.error("--slow-seconds must be > 0, --warmup and --retries >= 0")
    return args


def settings_from(args: argparse.Namespace) -> Settings:
    """Freeze the parsed options."""
    return Settings(
        runs=args.runs, duration=args.duration, connections=args.connections,
        warmup=args.warmup, large_size=args.large_mib * MIB, slow_clients=SLOW_CLIENTS,
        slow_seconds=args.slow_seconds, bench_duration=args.bench_duration, pause=args.pause,
        retries=args.retries, retry_pause=RETRY_PAUSE,
        server_cpu=args.server_cpu, client_cpu=args.client_cpu, profile=args.profile,
    )  # fmt: skip


def run(settings: Settings, json_path: Path) -> dict[str, Any]:
    """Write the files, measure everything, print the table, save the JSON report; the report."""
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    skipped = unavailable()
    names = [name for name in SERVER_NAMES if name not in skipped]
    bench_note = bench_cli_unavailable()
    machine = machine_info(
        packages=("aiohttp",),
        tools={"curl": ["curl", "--version"], "nginx": ["nginx", "-v"]},
    )
    with tempfile.TemporaryDirectory(prefix="bench-static-") as tmp:
        root = Path(tmp)
        mib = settings.large_size // MIB
        print(f"writing {SMALL_NAME} (1 KiB) and {LARGE_NAME} ({mib} MiB) in {root}")
        small = write_files(root, settings.large_size)
        output = profile_path(json_path, "trio_webkit") if settings.profile else None
        raw = run_all(settings, names, root, small, bench_note is None, output)
    summary = summarize(raw, names, bench_note)
    verdict = verdicts(summary, skipped, settings)
    print_table(summary, verdict, skipped, settings)
    report = {
        "benchmark": "static",
        "started": started,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine,
        "settings": asdict(settings),
        "skipped": skipped,
        "commands": {
            "small": shlex.join(
                wrk_command(
                    file_url("PORT", SMALL_NAME), "keep-alive", settings.duration, settings.wrk()
                )
            ),
            "large": shlex.join(curl_command("PORT", settings)),
            "slow": (
                f"{settings.slow_clients} sockets in this process (pinned to core"
                f" {settings.client_cpu}): 'GET /{LARGE_NAME} HTTP/1.1', then recv({SLOW_READ})"
                f" each every {SLOW_INTERVAL * 1000:g} ms for {settings.slow_seconds:g} s;"
                " server VmRSS from /proc every tick"
            ),
            "wrk": shlex.join(
                wrk_command(bare_url("PORT"), "keep-alive", settings.bench_duration, settings.wrk())
            ),
            "bench": shlex.join(static_bench_command("PORT", settings)),
            "servers": raw["server_commands"],
        },
        "bars": asdict(BARS),
        "summary": summary,
        "verdict": verdict,
        **{key: raw[key] for key in ("small_runs", "large_runs", "slow_runs", "load_runs")},
    }
    if settings.profile:
        report["profiles"] = [profile_path(json_path, "trio_webkit").name]
    save_json(json_path, report)
    print(f"\nsaved {json_path}")
    return report


def cannot_run() -> str | None:
    """Why this benchmark cannot run here (wrk, taskset or curl missing), or None."""
    return missing_tools_reason("wrk", "taskset", "curl")


def section(argv: list[str], json_path: Path | None = None) -> dict[str, Any]:
    """Run with the command-line options ``argv``; the report, saved to ``json_path``.

    ``json_path`` defaults to ``--json``, else ``benchmarks/results/static-<date>.json``.
    """
    args = parse_args(argv)
    check_cpus(args.server_cpu, args.client_cpu)
    return run(settings_from(args), json_path or args.json or default_json_path("static"))


def rows(report: dict[str, Any]) -> list[Row]:
    """The combined summary's rows: small-file req/s, large-file MB/s, bench against wrk.

    The RSS growth with slow clients is left to its bar (a few MiB at most
    for every server: their ratios would be ratios of noise).
    """
    summary, runs = report["summary"], report["settings"]["runs"]
    size = f"{report['settings']['large_size'] // MIB} MiB"
    result = []
    for group, what, unit in (
        ("small", "1 KiB file req/s", "req/s"),
        ("large", f"{size} file MB/s", "MB/s"),
    ):
        values = {name: stats["median"] for name, stats in summary[group].items()}
        result.append(
            comparison("static", what, unit, "higher", values.pop("trio_webkit"), values, runs=runs)
        )
    load = summary["load_generator"]
    if "bench" in load:
        result.append(
            comparison(
                "static", "trio-webkit bench req/s on bare_trio", "req/s", "higher",
                load["bench"]["median"], {"wrk": load["wrk"]["median"]}, runs=runs,
            )
        )  # fmt: skip
    return result


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    return section_main(argv, parse_args, cannot_run, section)


if __name__ == "__main__":
    sys.exit(main())
