"""The command line, run as real subprocesses: ``python -m trio_webkit ...``.

Every wait is bounded: output is polled with a deadline, and a process
still running when its test ends is killed by its PID (``Popen.kill``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

import trio_webkit
from trio_webkit.cli import main
from trio_webkit.cli._serving import host_port

COMMAND = [sys.executable, "-m", "trio_webkit"]
STARTUP_SECONDS = 15.0  # importing trio on a slow CI machine
SHUTDOWN_SECONDS = 5.0
URL_LINE = re.compile(r"Serving on (?P<url>http://(?P<host>.+):(?P<port>\d+)/) \(Ctrl-C to stop\)")

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and select()")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run a command that should end by itself (``subprocess.run`` kills it on timeout)."""
    return subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, timeout=STARTUP_SECONDS, check=False
    )


def read_until(stream: object, needle: bytes, deadline: float) -> bytes:
    """Read a pipe until ``needle`` appears or the deadline passes; return what was read."""
    fd = stream.fileno()  # type: ignore[attr-defined]
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


@dataclass
class Served:
    """A running ``trio-webkit echo`` and what it printed."""

    process: subprocess.Popen[bytes]
    url: str
    host: str
    port: int
    stderr: bytes = field(default=b"")

    def wait_stderr(self, needle: bytes) -> None:
        """Wait (bounded) until the process wrote ``needle`` on stderr."""
        if needle not in self.stderr:
            deadline = time.monotonic() + SHUTDOWN_SECONDS
            self.stderr += read_until(self.process.stderr, needle, deadline)

    def stop(self, signum: int) -> tuple[int, str, str]:
        """Send ``signum``; return exit status, stdout and all of stderr once it exits."""
        self.process.send_signal(signum)
        return self.finish()

    def finish(self) -> tuple[int, str, str]:
        """Wait (bounded) for the process to exit; return status, stdout, stderr."""
        out, err = self.process.communicate(timeout=SHUTDOWN_SECONDS)
        self.stderr += err
        return self.process.returncode, out.decode(), self.stderr.decode()


@contextlib.contextmanager
def serving_echo(*args: str) -> Iterator[Served]:
    """Start ``trio-webkit echo -p 0 ARGS`` and wait for its URL line."""
    process = subprocess.Popen(
        [*COMMAND, "echo", "-p", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        line = read_until(process.stdout, b"\n", deadline).decode().strip()
        match = URL_LINE.fullmatch(line)
        assert match, line
        yield Served(process, match["url"], match["host"], int(match["port"]))
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=SHUTDOWN_SECONDS)  # reaps it and closes the pipes


def port_is_free(host: str, port: int) -> bool:
    """Whether a new server could listen on ``host:port`` (as trio does: SO_REUSEADDR)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen()
        except OSError:
            return False
        return True


def get(url: str, data: bytes | None = None) -> tuple[int, str, str]:
    """Status, Content-Type and text of a request to ``url`` (POST if ``data``)."""
    with urllib.request.urlopen(url, data=data, timeout=SHUTDOWN_SECONDS) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


def ipv6_loopback_works() -> bool:
    """Whether ``::1`` can be bound here (not in every container)."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


# --- help, version, usage errors ---------------------------------------------


def test_help_lists_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: trio-webkit ")
    assert "echo" in result.stdout
    assert result.stderr == ""


def test_echo_help() -> None:
    result = run_cli("echo", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: trio-webkit echo ")
    assert "--bind" in result.stdout
    assert "--port" in result.stdout


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout == f"trio-webkit {trio_webkit.__version__}\n"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ([], "required: COMMAND"),
        (["nope"], "invalid choice: 'nope'"),
        (["--frobnicate"], "required: COMMAND"),  # argparse checks COMMAND first
        (["--frobnicate", "echo"], "unrecognized arguments: --frobnicate"),
        (["echo", "-p", "http"], "argument -p/--port"),
        (["echo", "-p", "65536"], "argument -p/--port"),
        (["echo", "-p", "-1"], "argument -p/--port"),
        (["echo", "-p"], "argument -p/--port: expected one argument"),
        (["echo", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["echo", "extra"], "unrecognized arguments: extra"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(args: list[str], fragment: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("trio-webkit")
    assert ": error: " in lines[0]
    assert fragment in lines[0]
    assert "--help" in lines[0]


def test_main_returns_the_status_instead_of_exiting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert main(["echo", "-p", "x"]) == 2
    captured = capsys.readouterr()
    assert captured.out == f"trio-webkit {trio_webkit.__version__}\n"
    assert captured.err.count("\n") == 1


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("127.0.0.1", 8000, "127.0.0.1:8000"),
        ("::1", 80, "[::1]:80"),
        ("fe80::1%eth0", 8000, "[fe80::1%25eth0]:8000"),
        ("localhost", 0, "localhost:0"),
    ],
)
def test_host_port(host: str, port: int, expected: str) -> None:
    assert host_port(host, port) == expected


# --- echo: serving ------------------------------------------------------------


@posix_only
def test_echo_prints_real_url_and_answers_get() -> None:
    with serving_echo() as served:
        assert served.host == "127.0.0.1"
        assert served.port != 0
        status, content_type, page = get(served.url + "hello?x=1")
        assert status == 200
        assert content_type.startswith("text/html")
        assert "GET /hello?x=1 HTTP/1.1" in page
        code, out, err = served.stop(signal.SIGTERM)
    assert code == 0, err
    assert out == ""  # the URL line was the only output
    assert '"GET /hello?x=1 HTTP/1.1" 200' in err  # the access log, on stderr


@posix_only
def test_echo_escapes_posted_body() -> None:
    with serving_echo() as served:
        status, _, page = get(served.url + "form", data=b"<b>&")
        assert status == 200
        assert "&lt;b&gt;&amp;" in page
        assert "<b>&" not in page
        assert served.stop(signal.SIGTERM)[0] == 0


@posix_only
@pytest.mark.skipif(not ipv6_loopback_works(), reason="no IPv6 loopback")
def test_echo_ipv6_url_in_brackets() -> None:
    with serving_echo("-b", "::1") as served:
        assert served.url.startswith("http://[::1]:")
        assert get(served.url)[0] == 200
        assert served.stop(signal.SIGINT)[0] == 0


# --- shutdown -------------------------------------------------------------------


@posix_only
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_shuts_down_gracefully(signum: signal.Signals) -> None:
    with serving_echo() as served:
        # An idle keep-alive connection must not hold the shutdown up
        # (keepalive_timeout is 5 s; the process must be gone well before).
        with socket.create_connection(("127.0.0.1", served.port), timeout=5) as idle:
            idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert idle.recv(65536).startswith(b"HTTP/1.1 200 ")
            started = time.monotonic()
            code, _, err = served.stop(signum)
        assert time.monotonic() - started < 3
        assert code == 0, err
        assert f"{signum.name} received, shutting down" in err
        assert "Traceback" not in err
        assert port_is_free("127.0.0.1", served.port)


def open_in_flight_request(served: Served) -> socket.socket:
    """Start a POST whose handler is waiting for the body (100 Continue seen)."""
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    sock.sendall(
        b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
    )
    interim = b""
    while b"\r\n\r\n" not in interim:
        chunk = sock.recv(65536)
        assert chunk, interim
        interim += chunk
    assert interim.startswith(b"HTTP/1.1 100 "), interim
    return sock


def read_to_eof(sock: socket.socket) -> bytes:
    """Everything the peer sends until it closes (socket timeout bounds each read)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


@posix_only
def test_in_flight_request_finishes_during_shutdown() -> None:
    with serving_echo() as served, open_in_flight_request(served) as sock:
        served.process.send_signal(signal.SIGTERM)
        served.wait_stderr(b"SIGTERM received")
        sock.sendall(b"<b>&")
        response = read_to_eof(sock)
        code, _, err = served.finish()
    assert response.startswith(b"HTTP/1.1 200 ")
    assert b"\r\nconnection: close\r\n" in response.lower()
    assert b"&lt;b&gt;&amp;" in response
    assert code == 0, err


@posix_only
def test_second_signal_stops_at_once() -> None:
    with serving_echo() as served, open_in_flight_request(served) as sock:
        served.process.send_signal(signal.SIGTERM)
        served.wait_stderr(b"SIGTERM received")
        started = time.monotonic()
        code, _, err = served.stop(signal.SIGINT)
        assert time.monotonic() - started < 3  # shutdown_timeout is 10 s
        assert sock.recv(65536) == b""  # cut: no response
    assert code == 1
    assert err.splitlines()[-1] == "trio-webkit: error: stopped before in-flight requests finished"
    assert "Traceback" not in err


# --- errors -------------------------------------------------------------------


def test_port_in_use_is_one_line_and_exit_1() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("echo", "-p", str(port))
    assert result.returncode == 1
    assert result.stdout == ""
    expected = f"trio-webkit: error: cannot listen on 127.0.0.1:{port}: [Errno {errno.EADDRINUSE}] "
    assert result.stderr.startswith(expected), result.stderr
    assert result.stderr.count("\n") == 1
