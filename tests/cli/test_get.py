"""``trio-webkit get`` end to end, as subprocesses, against ``serve``, ``echo`` and raw servers."""

from __future__ import annotations

import base64
import os
import pty
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import (
    COMMAND,
    STARTUP_SECONDS,
    Served,
    free_port,
    raw_server,
    read_request_head,
    run_cli,
    serving,
    sha256,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="POSIX signals and ptys")

BLOB = os.urandom(700_000) + b"\r\n\x00\xff" * 1000  # binary: CR, LF, NUL, high bytes


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("get")
    (root / "blob.bin").write_bytes(BLOB)
    (root / "hello.txt").write_text("hello\n")
    (root / "sub").mkdir()
    return root


@pytest.fixture(scope="module")
def served(tree: Path) -> Iterator[Served]:
    with serving("serve", str(tree), "-p", "0") as running:
        yield running


@pytest.fixture(scope="module")
def echo() -> Iterator[Served]:
    with serving("echo", "-p", "0") as running:
        yield running


def one_error_line(result: subprocess.CompletedProcess[bytes]) -> str:
    """The single stderr line of a failed command (asserted single)."""
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("trio-webkit: error: ")
    return lines[0]


# -- bodies -------------------------------------------------------------------------


def test_binary_body_to_stdout(served: Served) -> None:
    result = run_cli("get", served.url + "blob.bin")
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    assert sha256(result.stdout) == sha256(BLOB)


def test_binary_body_to_file_without_progress_when_not_a_tty(
    served: Served, tmp_path: Path
) -> None:
    target = tmp_path / "copy.bin"
    result = run_cli("get", "-o", str(target), served.url + "blob.bin")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    assert result.stderr == b""  # stderr is a pipe: no progress bar
    assert sha256(target.read_bytes()) == sha256(BLOB)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.bin"]  # no temporary left


def test_progress_bar_when_stderr_is_a_terminal(served: Served, tmp_path: Path) -> None:
    target = tmp_path / "copy.bin"
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [*COMMAND, "get", "-o", str(target), served.url + "blob.bin"],
            stdout=subprocess.PIPE,
            stderr=terminal,
        )
        os.close(terminal)
        try:
            out, _ = process.communicate(timeout=STARTUP_SECONDS)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)
        shown = b""
        while True:  # what the terminal got (EIO once the last writer is gone)
            try:
                chunk = os.read(controller, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)
    assert process.returncode == 0
    assert out == b""
    assert sha256(target.read_bytes()) == sha256(BLOB)
    text = shown.decode()
    assert "\r" in text
    assert "100% [" in text
    assert "/s" in text  # the rate
    assert text.rstrip().endswith(tuple("0123456789"))  # "... in 0:00"
    assert " in 0:0" in text


def test_include_prints_status_and_headers_first(served: Served) -> None:
    result = run_cli("get", "-i", served.url + "hello.txt")
    assert result.returncode == 0, result.stderr
    head, separator, body = result.stdout.partition(b"\r\n\r\n")
    assert separator
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 200 OK"
    assert "Content-Length: 6" in lines
    assert "Content-Type: text/plain; charset=utf-8" in lines
    assert body == b"hello\n"


def test_include_with_output_file(served: Served, tmp_path: Path) -> None:
    target = tmp_path / "hello.txt"
    result = run_cli("get", "-i", "-o", str(target), served.url + "hello.txt")
    assert result.returncode == 0
    assert result.stdout.startswith(b"HTTP/1.1 200 OK\r\n")
    assert result.stdout.endswith(b"\r\n\r\n")  # the head only: the body went to the file
    assert target.read_bytes() == b"hello\n"


def test_redirect_is_followed(served: Served) -> None:
    result = run_cli("get", "-i", served.url + "sub")
    assert result.returncode == 0
    assert result.stdout.startswith(b"HTTP/1.1 200 OK\r\n")
    stopped = run_cli("get", "-i", "--max-redirects", "0", served.url + "sub")
    assert stopped.returncode == 0
    assert stopped.stdout.startswith(b"HTTP/1.1 301 Moved Permanently\r\n")
    assert b"\r\nLocation: " in stopped.stdout
    assert stopped.stdout.endswith(b"\r\n\r\n301 Moved Permanently\n")


def endless_redirects(conn: socket.socket) -> None:
    """Redirect /N to /N+1, forever, on a keep-alive connection."""
    while head := read_request_head(conn):
        number = int(head.split(b" ")[1].strip(b"/") or b"0")
        conn.sendall(
            b"HTTP/1.1 302 Found\r\nLocation: /%d\r\nContent-Length: 0\r\n\r\n" % (number + 1)
        )


def test_too_many_redirects_is_exit_1() -> None:
    with raw_server(endless_redirects) as server:
        result = run_cli("get", "--max-redirects", "3", server.url + "0")
    assert result.returncode == 1
    assert result.stdout == b""
    line = one_error_line(result)
    assert server.url in line  # the library names the last URL it was sent to
    assert "more than 3 redirects" in line


def test_method_headers_and_data(echo: Served) -> None:
    result = run_cli(
        "get", "-X", "put", "-H", "X-Test: <v>", "-H", "X-Empty:", "-d", "a=1&b", echo.url + "x"
    )
    assert result.returncode == 0, result.stderr
    page = result.stdout.decode().lower()  # the echo page shows header names as received
    assert "put /x http/1.1" in page
    assert "<th>x-test</th><td>&lt;v&gt;</td>" in page
    assert "<th>x-empty</th><td></td>" in page
    assert "<th>content-type</th><td>application/x-www-form-urlencoded</td>" in page
    assert "a=1&amp;b" in page


def test_data_defaults_to_post_and_reads_files(echo: Served, tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_bytes(b'{"k": "<v>"}')
    result = run_cli("get", "-d", f"@{body}", "-H", "Content-Type: application/json", echo.url)
    assert result.returncode == 0, result.stderr
    page = result.stdout.decode()
    assert "POST / HTTP/1.1" in page
    assert "<td>application/json</td>" in page
    assert "x-www-form-urlencoded" not in page
    assert "{&quot;k&quot;: &quot;&lt;v&gt;&quot;}" in page


def test_data_url() -> None:
    payload = base64.b64encode(b"\x00binary\xff").decode()
    result = run_cli("get", f"data:application/octet-stream;base64,{payload}")
    assert (result.returncode, result.stdout, result.stderr) == (0, b"\x00binary\xff", b"")
    result = run_cli("get", "-i", "data:,Hello%2C%20World")
    assert result.returncode == 0
    assert result.stdout.endswith(b"\r\n\r\nHello, World")
    assert b"Content-Length: 12\r\n" in result.stdout


def test_file_url(tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(BLOB)
    result = run_cli("get", source.as_uri())
    assert result.returncode == 0, result.stderr
    assert sha256(result.stdout) == sha256(BLOB)
    target = tmp_path / "copy.bin"
    assert run_cli("get", "-o", str(target), source.as_uri()).returncode == 0
    assert target.read_bytes() == BLOB


def test_missing_file_url_is_one_line_and_exit_1(tmp_path: Path) -> None:
    url = (tmp_path / "missing").as_uri()
    result = run_cli("get", url)
    assert result.returncode == 1
    assert url in one_error_line(result)


# -- failures: exit 1, one line naming the URL ------------------------------------------


def test_not_found_is_exit_1_and_writes_nothing(served: Served, tmp_path: Path) -> None:
    url = served.url + "missing"
    target = tmp_path / "out"
    result = run_cli("get", "-o", str(target), url)
    assert result.returncode == 1
    assert result.stdout == b""
    assert one_error_line(result) == f"trio-webkit: error: GET {url}: HTTP 404 Not Found"
    assert list(tmp_path.iterdir()) == []


def test_not_found_with_include_shows_the_response(served: Served) -> None:
    url = served.url + "missing"
    result = run_cli("get", "-i", url)
    assert result.returncode == 1
    assert result.stdout.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert result.stdout.endswith(b"\r\n\r\n404 Not Found\n")
    assert one_error_line(result) == f"trio-webkit: error: GET {url}: HTTP 404 Not Found"


def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}/x"
    result = run_cli("get", url)
    assert result.returncode == 1
    assert result.stdout == b""
    line = one_error_line(result)
    assert url in line
    assert "connect" in line


def silent(conn: socket.socket) -> None:
    """Read the request, answer nothing, until the client gives up."""
    read_request_head(conn)
    conn.recv(1)  # returns when the client closes (or after the 5 s socket timeout)


def test_timeout() -> None:
    with raw_server(silent) as server:
        started = time.monotonic()
        result = run_cli("get", "--timeout", "0.5", server.url + "slow")
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    line = one_error_line(result)
    assert server.url + "slow" in line
    assert "0.5" in line
    assert elapsed < 5


def truncating(conn: socket.socket) -> None:
    """Announce 100 000 body bytes, send 1 000, close."""
    read_request_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)


def test_truncated_body_is_exit_1(tmp_path: Path) -> None:
    with raw_server(truncating) as server:
        url = server.url + "cut"
        to_stdout = run_cli("get", url)
        target = tmp_path / "cut.bin"
        to_file = run_cli("get", "-o", str(target), url)
    for result in (to_stdout, to_file):
        assert result.returncode == 1
        line = one_error_line(result)
        assert url in line
    assert len(to_stdout.stdout) <= 1000  # what came may have been written, no more
    assert list(tmp_path.iterdir()) == []  # never a truncated file under the name


def test_interrupted_download_leaves_no_file(tmp_path: Path) -> None:
    def stalling(conn: socket.socket) -> None:
        read_request_head(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
        conn.recv(1)  # until the client is gone

    with raw_server(stalling) as server:
        target = tmp_path / "partial.bin"
        process = subprocess.Popen(
            [*COMMAND, "get", "-o", str(target), server.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while not list(tmp_path.iterdir()) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert list(tmp_path.iterdir()), "the temporary file never appeared"
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=5)
    assert process.returncode == 130, err
    assert list(tmp_path.iterdir()) == []


def test_output_is_a_directory(served: Served, tmp_path: Path) -> None:
    result = run_cli("get", "-o", str(tmp_path), served.url + "hello.txt")
    assert result.returncode == 1
    expected = f"trio-webkit: error: cannot write to {tmp_path}: it is a directory"
    assert one_error_line(result) == expected


def test_unwritable_output_is_one_line(served: Served, tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "dir.bin"
    result = run_cli("get", "-o", str(target), served.url + "hello.txt")
    assert result.returncode == 1
    assert "No such file or directory" in one_error_line(result)


def test_broken_pipe_on_stdout_is_quiet(served: Served) -> None:
    command = [*COMMAND, "get", served.url + "blob.bin"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.read(10)
        process.stdout.close()
        err = process.stderr.read()
        process.wait(timeout=STARTUP_SECONDS)
    assert process.returncode == 1
    assert "Traceback" not in err.decode()
    assert err.decode().count("\n") <= 1
