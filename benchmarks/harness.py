"""Shared pieces of the benchmark scripts: pinned server subprocesses, ports, RSS, machine info.

Every server is a child process started here, pinned to one CPU with
``taskset``, listening on 127.0.0.1 only, and stopped by its own PID
(SIGTERM, then SIGKILL after a timeout). Nothing else is ever signalled.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.util
import json
import os
import platform
import re
import resource
import shlex
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


@dataclass(frozen=True)
class ServerScript:
    """A server script in ``servers/``: run as ``python SCRIPT PORT *args``.

    ``needs`` names the Python modules it imports (a peer whose modules are
    missing is reported as such and skipped); ``keepalive_option`` says it
    takes ``--keepalive-timeout S`` (the idle benchmark raises it).
    """

    script: Path
    args: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    keepalive_option: bool = False


_SCRIPTS = BENCH_DIR / "servers"
SERVERS: dict[str, ServerScript] = {
    "bare_trio": ServerScript(_SCRIPTS / "bare_trio.py"),
    "naive_h11": ServerScript(_SCRIPTS / "naive_h11.py"),
    "trio_webkit": ServerScript(_SCRIPTS / "trio_webkit_hello.py", keepalive_option=True),
    "hypercorn_trio": ServerScript(
        _SCRIPTS / "asgi_hello.py", ("hypercorn-trio",), ("hypercorn",), keepalive_option=True
    ),
    "uvicorn_h11": ServerScript(
        _SCRIPTS / "asgi_hello.py", ("uvicorn-h11",), ("uvicorn",), keepalive_option=True
    ),
    "uvicorn_httptools": ServerScript(
        _SCRIPTS / "asgi_hello.py",
        ("uvicorn-httptools",),
        ("uvicorn", "httptools"),
        keepalive_option=True,
    ),
    "aiohttp": ServerScript(_SCRIPTS / "aiohttp_hello.py", (), ("aiohttp",), keepalive_option=True),
    # Not a hello-world server: every GET gets SIZE bytes (client.py's download).
    "bulk_trio": ServerScript(_SCRIPTS / "bulk_trio.py"),
}
#: The hello-world servers, in the order tables list them (bare_trio is the ceiling).
HELLO_SERVERS = (
    "bare_trio", "naive_h11", "trio_webkit", "hypercorn_trio",
    "uvicorn_h11", "uvicorn_httptools", "aiohttp",
)  # fmt: skip
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


def missing_tools_reason(*names: str) -> str | None:
    """A one-line reason naming the tools among ``names`` not on PATH, or None."""
    missing = missing_tools(*names)
    if not missing:
        return None
    packages = " ".join(TOOL_PACKAGES.get(tool, tool) for tool in missing)
    return f"{' and '.join(missing)} not found on PATH (Debian/Ubuntu: apt-get install {packages})"


def profiler_unavailable() -> str | None:
    """Why ``--profile`` cannot work here (py-spy missing), or None."""
    if shutil.which("py-spy") is None:
        return "--profile: py-spy not found on PATH (pip install py-spy)"
    return None


def section_main(
    argv: list[str] | None,
    parse_args: Callable[[list[str]], argparse.Namespace],
    cannot_run: Callable[[], str | None],
    section: Callable[[list[str]], object],
) -> int:
    """A section script's command line: parse, check the tools, run it; the exit status.

    Bad options exit with status 2 (argparse); a missing tool or a failure
    while running prints a one-line error and gives 1; a run that ended,
    whether or not the bars were met, gives 0.
    """
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)  # --help and bad options end here
    error = cannot_run() or (profiler_unavailable() if getattr(args, "profile", False) else None)
    if error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        section(argv)
    except (BenchmarkError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


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


def missing_modules_reason(*modules: str) -> str | None:
    """A one-line reason naming the modules among ``modules`` not installed, or None."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return f"{' and '.join(missing)} not installed (pip install {' '.join(missing)})"


def server_unavailable(name: str) -> str | None:
    """Why server ``name`` cannot run here (a module missing), or None."""
    return missing_modules_reason(*SERVERS[name].needs)


def pinned(cpu: int, *command: str) -> list[str]:
    """``command`` under ``taskset -c <cpu>``."""
    return ["taskset", "-c", str(cpu), *command]


@contextlib.contextmanager
def pinned_self(cpu: int) -> Iterator[None]:
    """Run this process on ``cpu`` only for the block (for load made in-process)."""
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, previous)


def server_command(name: str, port: int, cpu: int, extra_args: Sequence[str] = ()) -> list[str]:
    """The command that starts server ``name`` on ``port``, pinned to ``cpu``."""
    server = SERVERS[name]
    return pinned(cpu, sys.executable, str(server.script), str(port), *server.args, *extra_args)


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


#: A run during which other processes took more of the two pinned cores than this is noisy.
NOISY_OTHER_PERCENT = 10.0


@dataclass(frozen=True)
class CpuSnapshot:
    """Wall clock, busy time of the pinned cores, and our processes' CPU time, at one moment."""

    wall: float
    cores_busy: float
    server: float
    children: float

    @classmethod
    def take(cls, server: ServerProcess, cpus: Sequence[int]) -> CpuSnapshot:
        """Now, for ``server`` and the pinned ``cpus`` (server's and load generator's)."""
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # reaped load generators
        return cls(
            wall=time.monotonic(),
            cores_busy=cpus_busy_seconds(cpus),
            server=cpu_seconds(server.pid),
            children=usage.ru_utime + usage.ru_stime,
        )

    def server_seconds_until(self, later: CpuSnapshot) -> float:
        """CPU time the server used between the two snapshots."""
        return later.server - self.server

    def other_percent_until(self, later: CpuSnapshot) -> float:
        """Time something else ran on the pinned cores, in % of the wall time between them.

        Busy time of both cores minus what the server and the (reaped) load
        generator used: another tenant or a test run competing for our cores.
        """
        ours = (later.server - self.server) + (later.children - self.children)
        other = (later.cores_busy - self.cores_busy) - ours
        return round(max(0.0, 100 * other / (later.wall - self.wall)), 1)


def noisy(result: dict[str, Any]) -> bool:
    """Whether other processes took a noticeable share of the pinned cores during the run."""
    return bool(result["other_cpu_percent"] > NOISY_OTHER_PERCENT)


def until_quiet(
    measure: Callable[[], dict[str, Any]], pause: float, retries: int, retry_pause: float
) -> dict[str, Any]:
    """``measure()`` after ``pause`` s, measured again (``retries`` times at most) while noisy.

    A run during which other processes took a share of the pinned cores
    (:func:`noisy`) says more about them than about the servers; on a shared
    machine such disturbances come and go within seconds. The run kept is
    the first quiet one, or the last; the noisy ones before it stay in the
    JSON under ``discarded_noisy``.
    """
    discarded: list[dict[str, Any]] = []
    for attempt in range(retries + 1):
        time.sleep(pause if attempt == 0 else retry_pause)
        result = measure()
        if not noisy(result) or attempt == retries:
            return {**result, "discarded_noisy": discarded}
        print(f"    noisy: measuring again in {retry_pause:g} s")
        discarded.append(result)
    raise AssertionError("unreachable")


def noise_warning(noisy_runs: int) -> str:
    """The warning printed under a table with ``noisy_runs`` noisy runs kept."""
    return (
        f"warning: in {noisy_runs} run(s) other processes took more than"
        f" {NOISY_OTHER_PERCENT:g} % of the pinned cores: the ratios are unreliable;"
        " re-run on a quiet machine (or with more --runs)"
    )


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


def save_json(path: Path, report: dict[str, Any]) -> None:
    """Write ``report`` without machine paths to ``path`` (directories created), indented."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(without_machine_paths(report), indent=2) + "\n")


# --- trio-webkit bench (the project's own load generator) -----------------------------


def bench_command(url: str, connections: int, duration: float, cpu: int) -> list[str]:
    """``taskset -c CPU python -m trio_webkit bench URL -c C -d S --json`` (the working tree)."""
    return pinned(
        cpu, sys.executable, "-m", "trio_webkit", "bench", url,
        "-c", str(connections), "-d", f"{duration:g}", "--json",
    )  # fmt: skip


def run_bench(command: list[str], duration: float, grace: float = 60.0) -> dict[str, Any]:
    """Run ``trio-webkit bench --json`` once (bounded by ``duration + grace``); its report."""
    try:
        done = subprocess.run(
            command, cwd=REPO, env=child_env(), capture_output=True, text=True,
            timeout=duration + grace,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise BenchmarkError(f"bench did not finish in time: {shlex.join(command)}") from exc
    if done.returncode != 0:
        raise BenchmarkError(f"bench failed ({done.returncode}): {done.stderr[-2000:]}")
    try:
        report: dict[str, Any] = json.loads(done.stdout)
        float(report["requests_per_sec"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BenchmarkError(f"cannot parse bench --json output: {done.stdout[:500]!r}") from exc
    return report


def bench_cli_unavailable() -> str | None:
    """None when ``python -m trio_webkit bench --help`` works, else why not."""
    command = [sys.executable, "-m", "trio_webkit", "bench", "--help"]
    try:
        done = subprocess.run(
            command, cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        return "`trio-webkit bench --help` did not finish in 30 s"
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
        return f"`trio-webkit bench --help` failed ({done.returncode}): {last[0]}"
    return None


def timestamp() -> str:
    """Local date and time for file names, e.g. ``2025-01-31T142501``."""
    return datetime.datetime.now().strftime("%Y-%m-%dT%H%M%S")


def default_json_path(prefix: str) -> Path:
    """``benchmarks/results/<prefix>-<date>.json``."""
    return RESULTS_DIR / f"{prefix}-{timestamp()}.json"
