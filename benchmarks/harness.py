"""Shared pieces of the benchmark scripts: pinned server subprocesses, ports, RSS, machine info.

Every server is a child process started here, pinned to one CPU with
``taskset``, listening on 127.0.0.1 only, and stopped by its own PID
(SIGTERM, then SIGKILL after a timeout). Nothing else is ever signalled.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
SERVERS: dict[str, Path] = {
    "bare_trio": BENCH_DIR / "servers" / "bare_trio.py",
    "naive_h11": BENCH_DIR / "servers" / "naive_h11.py",
    "trio_webkit": BENCH_DIR / "servers" / "trio_webkit_hello.py",
}
#: Servers that are not hello-world peers (so not in SERVERS, which idle.py measures).
OTHER_SERVERS: dict[str, Path] = {
    "bulk_trio": BENCH_DIR / "servers" / "bulk_trio.py",
}
STARTUP_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
START_ATTEMPTS = 3


class BenchmarkError(RuntimeError):
    """The benchmark could not run (missing tool, server crash, unparsable output)."""


@dataclass
class ServerProcess:
    """A running server child: its name, port, process and the exact command."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    command: list[str]
    stderr_path: Path

    @property
    def pid(self) -> int:
        """PID of the server itself (``taskset`` execs it, so not a wrapper)."""
        return self.process.pid

    def check_alive(self) -> None:
        """Raise :class:`BenchmarkError` with the stderr tail if the server has exited."""
        code = self.process.poll()
        if code is not None:
            raise BenchmarkError(
                f"server {self.name} exited with code {code}:\n{self.stderr_tail()}"
            )

    def stderr_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines the server wrote to stderr."""
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError:
            return "(no stderr)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty stderr)"


#: The Debian package of each external tool the benchmarks drive.
TOOL_PACKAGES = {"wrk": "wrk", "taskset": "util-linux", "curl": "curl"}


def missing_tools(*names: str) -> list[str]:
    """The executables among ``names`` that are not on PATH."""
    return [name for name in names if shutil.which(name) is None]


def missing_tools_error(*names: str) -> str | None:
    """A one-line error naming the tools among ``names`` not on PATH, or None."""
    missing = missing_tools(*names)
    if not missing:
        return None
    packages = " ".join(TOOL_PACKAGES.get(tool, tool) for tool in missing)
    return (
        f"error: {' and '.join(missing)} not found on PATH "
        f"(Debian/Ubuntu: apt-get install {packages})"
    )


def check_cpus(*cpus: int) -> None:
    """Raise :class:`BenchmarkError` unless this process may run on every CPU in ``cpus``."""
    allowed = os.sched_getaffinity(0)
    absent = sorted(set(cpus) - allowed)
    if absent:
        raise BenchmarkError(f"CPU(s) {absent} not available for pinning (allowed: {allowed})")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the server may still lose a race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def server_command(name: str, port: int, cpu: int, extra_args: Sequence[str] = ()) -> list[str]:
    """The command that starts server ``name`` on ``port``, pinned to ``cpu``."""
    script = SERVERS[name] if name in SERVERS else OTHER_SERVERS[name]
    return ["taskset", "-c", str(cpu), sys.executable, str(script), str(port), *extra_args]


def wait_accepting(server: ServerProcess, timeout: float = STARTUP_TIMEOUT) -> None:
    """Poll until ``server`` accepts a TCP connection; raise if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server.check_alive()
        try:
            with socket.create_connection((HOST, server.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BenchmarkError(
        f"server {server.name} not accepting on port {server.port} "
        f"after {timeout:.0f} s:\n{server.stderr_tail()}"
    )


def stop_process(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """Stop one child we started, by its PID: SIGTERM, then SIGKILL after ``timeout``."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


def child_env() -> dict[str, str]:
    """The environment for a benchmark child: ours, with the repository on PYTHONPATH."""
    return dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )


def _spawn(name: str, command: list[str], port: int, stderr_path: Path, cwd: Path) -> ServerProcess:
    env = child_env()
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    return ServerProcess(name, port, process, command, stderr_path)


@contextlib.contextmanager
def running_server(name: str, cpu: int, extra_args: Sequence[str] = ()) -> Iterator[ServerProcess]:
    """Start server ``name`` pinned to ``cpu``, wait until it accepts, stop it on exit.

    A port lost to a race (the server exits at startup) is retried with a
    new port, :data:`START_ATTEMPTS` times at most.
    """
    with running_command(name, lambda port: server_command(name, port, cpu, extra_args)) as server:
        yield server


@contextlib.contextmanager
def running_command(
    name: str, make_command: Callable[[int], list[str]], cwd: Path = REPO
) -> Iterator[ServerProcess]:
    """Start ``make_command(port)`` on a free port, wait until it accepts, stop it on exit.

    For servers that are not one of our scripts (``python -m http.server``,
    nginx): ``make_command`` builds the whole command line, pinning
    included, for the port chosen. The process started must be the server
    itself (``taskset`` execs it), not a wrapper, since it is stopped by its
    PID. A port lost to a race is retried as in :func:`running_server`.
    """
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        for attempt in range(1, START_ATTEMPTS + 1):
            port = free_port()
            stderr_path = Path(tmp) / f"stderr-{attempt}.txt"
            server = _spawn(name, make_command(port), port, stderr_path, cwd)
            try:
                wait_accepting(server)
            except BenchmarkError:
                stop_process(server.process)
                if attempt == START_ATTEMPTS:
                    raise
                continue
            break
        try:
            yield server
        finally:
            stop_process(server.process)


def read_response(sock: socket.socket) -> bytes:
    """Read one whole 200 response (head and Content-Length body) from ``sock``; its head."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise BenchmarkError(f"connection closed mid-response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200 "):
        raise BenchmarkError(f"expected 200, got {head[:40]!r}")
    match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    length = int(match[1]) if match else 0
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise BenchmarkError("connection closed mid-body")
        body += chunk
    return head


def rss_kib(pid: int) -> int:
    """Resident set size (``VmRSS``) of process ``pid`` in KiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchmarkError(f"no VmRSS in /proc/{pid}/status")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time process ``pid`` has used so far, from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # skip "pid (comm) "; fields[0] is field 3
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def cpus_busy_seconds(cpus: Iterable[int]) -> float:
    """Time CPUs ``cpus`` spent running anything (user, nice, system, steal), from /proc/stat.

    Compared with the CPU time of our own processes over the same interval,
    it shows how much of the pinned cores something else took (other tenants,
    a test run). Interrupt time is left out: loopback traffic is accounted
    there, and that is ours.
    """
    wanted = {f"cpu{cpu}" for cpu in cpus}
    ticks = 0
    for line in Path("/proc/stat").read_text().splitlines():
        fields = line.split()
        if fields and fields[0] in wanted:
            user, nice, system, _idle, _iowait, _irq, _softirq, steal = map(int, fields[1:9])
            ticks += user + nice + system + steal
    return ticks / os.sysconf("SC_CLK_TCK")


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown (no commits?)"


def _tool_version(command: Sequence[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    first = (out.stdout or out.stderr).strip().splitlines()
    return first[0].strip() if first else "unknown"


def machine_info(
    packages: Sequence[str] = (), tools: dict[str, Sequence[str]] | None = None
) -> dict[str, Any]:
    """What the numbers depend on: CPU, cores, kernel, load, Python and library versions.

    ``packages`` (distribution names) and ``tools`` (name: version command)
    add the versions of whatever else a benchmark runs.
    """
    info: dict[str, Any] = {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_allowed": sorted(os.sched_getaffinity(0)),
        "kernel": platform.release(),
        "load_average": os.getloadavg(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "trio": _version("trio"),
        "h11": _version("h11"),
        "trio_webkit": _version("trio_webkit"),
        "repo_revision": _git_revision(),
        "wrk": _tool_version(["wrk", "-v"]),
    }
    info.update({name: _version(name) for name in packages})
    info.update({name: _tool_version(command) for name, command in (tools or {}).items()})
    return info


def without_machine_paths(value: Any) -> Any:
    """``value`` with this machine's paths replaced by neutral names.

    Reports are committed and read elsewhere: the interpreter becomes
    ``python``, the repository ``.``, the temp dir ``<tmp>``, home ``~``.
    """
    if isinstance(value, dict):
        return {key: without_machine_paths(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [without_machine_paths(item) for item in value]
    if not isinstance(value, str):
        return value
    for path, name in (
        (sys.executable, "python"),
        (str(REPO), "."),
        (tempfile.gettempdir(), "<tmp>"),
        (str(Path.home()), "~"),
    ):
        value = value.replace(path, name)
    return value


def timestamp() -> str:
    """Local date and time for file names, e.g. ``2025-01-31T142501``."""
    return datetime.datetime.now().strftime("%Y-%m-%dT%H%M%S")


def default_json_path(prefix: str) -> Path:
    """``benchmarks/results/<prefix>-<date>.json``."""
    return RESULTS_DIR / f"{prefix}-{timestamp()}.json"
