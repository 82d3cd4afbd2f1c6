"""Helpers for the command-line tests: bounded subprocesses and tiny raw servers.

Every wait is bounded (a deadline on every read, ``timeout=`` on every
``subprocess.run``/``communicate``), every process a test starts is killed
by its PID when the test ends, and everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

COMMAND = [sys.executable, "-m", "trio_webkit"]
STARTUP_SECONDS = 15.0  # importing trio on a slow CI machine
SHUTDOWN_SECONDS = 10.0
URL_LINE = re.compile(
    r"Serving on (?P<url>(?P<scheme>https?)://(?P<host>.+):(?P<port>\d+)/) \(Ctrl-C to stop\)"
)
WORKER_LINE = re.compile(rb"worker (\d+) started \(pid (\d+)\)")


def run_cli(
    *args: str, timeout: float = STARTUP_SECONDS, **kwargs: object
) -> subprocess.CompletedProcess[bytes]:
    """Run a command that ends by itself (killed on timeout); bytes out and err."""
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [*COMMAND, *args], capture_output=True, timeout=timeout, check=False, **kwargs
    )


def read_until(fd: int, needle: bytes, deadline: float) -> bytes:
    """Read ``fd`` until ``needle`` appears or the deadline passes; return what was read."""
    seen = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while needle not in seen:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise AssertionError(f"timed out waiting for {needle!r}; got {seen!r}")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"EOF while waiting for {needle!r}; got {seen!r}")
            seen += chunk
    return seen


class Served:
    """A running serving command; its stderr is drained by a thread (a full pipe
    would block the server's access log, and so the server)."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, port: int) -> None:
        self.process = process
        self.url = url
        self.port = port
        self._stderr = b""
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.process.stderr is not None
        fd = self.process.stderr.fileno()
        with contextlib.suppress(OSError):
            while chunk := os.read(fd, 65536):
                with self._changed:
                    self._stderr += chunk
                    self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def stderr(self) -> bytes:
        """Everything read from stderr so far."""
        with self._changed:
            return self._stderr

    def wait_stderr(
        self, condition: Callable[[bytes], bool], seconds: float = SHUTDOWN_SECONDS
    ) -> bytes:
        """Wait (bounded) until ``condition(all of stderr)`` holds; all of stderr."""
        with self._changed:
            if not self._changed.wait_for(lambda: condition(self._stderr), timeout=seconds):
                raise AssertionError(f"timed out; stderr so far: {self._stderr!r}")
            return self._stderr

    def read_stderr(self, needle: bytes, seconds: float = SHUTDOWN_SECONDS) -> bytes:
        """Wait (bounded) until stderr holds ``needle``; all of stderr so far."""
        return self.wait_stderr(lambda err: needle in err, seconds)

    def stop(self, signum: int, seconds: float = SHUTDOWN_SECONDS) -> tuple[int, str, str]:
        """Send ``signum``; exit status, stdout and all of stderr once it exits."""
        self.process.send_signal(signum)
        return self.finish(seconds)

    def finish(self, seconds: float = SHUTDOWN_SECONDS) -> tuple[int, str, str]:
        """Wait (bounded) for the process to exit; exit status, stdout, stderr."""
        assert self.process.stdout is not None
        self.process.wait(timeout=seconds)
        self._reader.join(timeout=seconds)
        out = self.process.stdout.read()
        return self.process.returncode, out.decode(), self.stderr.decode(errors="replace")


@contextlib.contextmanager
def serving(*args: str, cwd: Path | None = None) -> Iterator[Served]:
    """Start ``trio-webkit ARGS`` (a serving command) and wait for its URL line."""
    process = subprocess.Popen(
        [*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd
    )
    served = None
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        line = read_until(process.stdout.fileno(), b"\n", deadline).decode().strip()
        match = URL_LINE.fullmatch(line)
        assert match, line
        served = Served(process, match["url"], int(match["port"]))
        yield served
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=SHUTDOWN_SECONDS)
        if served is not None:
            served._reader.join(timeout=SHUTDOWN_SECONDS)  # EOF: it ends by itself
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def free_port() -> int:
    """A port nothing listens on (bound, then released: connecting there is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def wait_until(condition: Callable[[], bool], seconds: float = SHUTDOWN_SECONDS) -> bool:
    """Poll ``condition`` until true or ``seconds`` passed; its last value."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# -- a raw server in the test process, one thread -------------------------------

Behaviour = Callable[[socket.socket], None]


@dataclass
class RawServer:
    """A listening socket on loopback whose connections get ``behaviour``."""

    url: str
    port: int
    connections: int = 0


@contextlib.contextmanager
def raw_server(behaviour: Behaviour) -> Iterator[RawServer]:
    """Serve each connection with ``behaviour(conn)`` in one thread, one at a time.

    Leaving the block closes the listening socket and joins the thread
    (bounded); ``behaviour`` must itself return within a few seconds.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.1)
    port = listener.getsockname()[1]
    server = RawServer(f"http://127.0.0.1:{port}/", port)
    stop = threading.Event()

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server.connections += 1
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    behaviour(conn)

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=SHUTDOWN_SECONDS)
        listener.close()


def read_request_head(conn: socket.socket) -> bytes:
    """Read one request head (up to the blank line); ``b""`` if the client closed first."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        head += chunk
    return head
