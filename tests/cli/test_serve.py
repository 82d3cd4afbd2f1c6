"""``trio-webkit serve`` end to end, as subprocesses: files, listing, TLS, signals, workers."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_helpers import (
    COMMAND,
    WORKER_LINE,
    Served,
    pid_alive,
    run_cli,
    serving,
    sha256,
    wait_until,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="POSIX signals, SO_REUSEPORT")

BLOB = os.urandom(300_000) + bytes(range(256)) * 40  # binary, not a multiple of any chunk
AWKWARD_NAMES = ["<img src=x onerror=alert(1)>.txt", "a&b \"q\" 'x'.txt", "50% #1?.txt"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory to serve: a binary file, awkward names, a sub-directory."""
    root = tmp_path_factory.mktemp("served")
    (root / "blob.bin").write_bytes(BLOB)
    for name in AWKWARD_NAMES:
        (root / name).write_text(name)
    (root / "sub").mkdir()
    (root / "sub" / "inner.txt").write_text("inner\n")
    return root


@pytest.fixture(scope="module")
def served(tree: Path) -> Iterator[Served]:
    """One ``serve`` of ``tree`` for the module's read-only checks."""
    with serving("serve", str(tree), "-p", "0") as running:
        yield running


def fetch(url: str, context: ssl.SSLContext | None = None) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a GET (4xx/5xx included)."""
    try:
        with urllib.request.urlopen(url, timeout=10, context=context) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


# -- serving files ----------------------------------------------------------------


def test_prints_url_and_serves_a_binary_file(served: Served) -> None:
    assert served.url.startswith("http://127.0.0.1:")
    status, headers, body = fetch(served.url + "blob.bin")
    assert status == 200
    assert headers["Content-Type"] == "application/octet-stream"
    assert sha256(body) == sha256(BLOB)


def test_listing_escapes_names(served: Served) -> None:
    status, headers, body = fetch(served.url)
    page = body.decode()
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert "&lt;img src=x onerror=alert(1)&gt;.txt" in page
    assert "<img" not in page
    assert "a&amp;b &quot;q&quot; &#x27;x&#x27;.txt" in page
    assert 'href="50%25%20%231%3F.txt"' in page
    assert fetch(served.url + "50%25%20%231%3F.txt")[2] == b"50% #1?.txt"


def test_directory_without_slash_redirects(served: Served) -> None:
    status, _, body = fetch(served.url + "sub")  # urllib follows the 301
    assert status == 200
    assert b"inner.txt" in body


def test_missing_file_is_404(served: Served) -> None:
    assert fetch(served.url + "nope")[0] == 404


def test_access_log_on_stderr(tree: Path) -> None:
    with serving("serve", str(tree), "-p", "0") as running:
        assert fetch(running.url + "sub/inner.txt")[0] == 200
        code, out, err = running.stop(signal.SIGTERM)
    assert code == 0, err
    assert out == ""
    assert '"GET /sub/inner.txt HTTP/1.1" 200 6' in err


def test_no_listing_answers_403(tree: Path) -> None:
    with serving("serve", str(tree), "-p", "0", "--no-listing") as running:
        assert fetch(running.url)[0] == 403
        assert fetch(running.url + "sub/")[0] == 403
        assert fetch(running.url + "sub/inner.txt")[2] == b"inner\n"  # files still served
        assert running.stop(signal.SIGTERM)[0] == 0


def test_default_directory_is_the_current_one(tree: Path) -> None:
    with serving("serve", "-p", "0", cwd=tree) as running:
        assert fetch(running.url + "sub/inner.txt")[2] == b"inner\n"
        assert running.stop(signal.SIGINT)[0] == 0


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda tmp: tmp / "missing", "no such directory"),
        (lambda tmp: _file(tmp / "plain.txt"), "not a directory"),
    ],
)
def test_unservable_directory_is_one_line_and_exit_1(
    tmp_path: Path, make: Callable[[Path], Path], problem: str
) -> None:
    path = make(tmp_path)
    result = run_cli("serve", str(path), "-p", "0")
    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr.decode() == f"trio-webkit: error: cannot serve {path}: {problem}\n"


def _file(path: Path) -> Path:
    path.write_text("x")
    return path


# -- graceful stop during a large download ---------------------------------------------


def test_sigterm_during_a_large_download_finishes_it_then_exits_0(tmp_path: Path) -> None:
    size = 48 * 1024 * 1024
    (tmp_path / "large.bin").write_bytes(os.urandom(1024) * (size // 1024))
    with serving("serve", str(tmp_path), "-p", "0") as running:
        with socket.create_connection(("127.0.0.1", running.port), timeout=10) as sock:
            sock.sendall(b"GET /large.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            received = sock.recv(65536)
            assert received.startswith(b"HTTP/1.1 200 OK\r\n")
            started = time.monotonic()
            running.process.send_signal(signal.SIGTERM)  # mid-download: the rest must come
            running.read_stderr(b"SIGTERM received")
            while chunk := sock.recv(1024 * 1024):  # to EOF: the server closes after it
                received += chunk
        code, _, err = running.finish()
        elapsed = time.monotonic() - started
    head, _, body = received.partition(b"\r\n\r\n")
    assert f"content-length: {size}".encode() in head.lower()
    assert len(body) == size
    assert sha256(body) == sha256((tmp_path / "large.bin").read_bytes())
    assert code == 0, err
    assert elapsed < 8
    assert "Traceback" not in err


# -- TLS ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, ssl.SSLContext]:
    """A trustme certificate for 127.0.0.1 (cert and key files) and a client context trusting it."""
    trustme = pytest.importorskip("trustme")
    directory = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    issued.cert_chain_pems[0].write_to_path(str(certfile))
    for pem in issued.cert_chain_pems[1:]:
        pem.write_to_path(str(certfile), append=True)
    issued.private_key_pem.write_to_path(str(keyfile))
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return certfile, keyfile, client


def test_tls_serves_https(tree: Path, certificate: tuple[Path, Path, ssl.SSLContext]) -> None:
    certfile, keyfile, client = certificate
    tls = ("--certfile", str(certfile), "--keyfile", str(keyfile))
    with serving("serve", str(tree), "-p", "0", *tls) as running:
        assert running.url.startswith("https://127.0.0.1:")
        status, _, body = fetch(running.url + "blob.bin", client)
        assert status == 200
        assert sha256(body) == sha256(BLOB)
        # An untrusting client (get: no CA option) fails verification: one line, exit 1.
        result = run_cli("get", running.url + "blob.bin")
        assert result.returncode == 1
        assert result.stdout == b""
        assert result.stderr.count(b"\n") == 1
        assert b"CERTIFICATE_VERIFY_FAILED" in result.stderr
        # bench does not verify (as wrk): it measures the TLS server.
        result = run_cli("bench", "--json", "-n", "20", "-c", "2", running.url + "sub/inner.txt")
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["status_counts"] == {"200": 20}
        assert report["errors_total"] == 0
        code, _, err = running.stop(signal.SIGTERM)
    assert code == 0, err
    assert '"GET /blob.bin HTTP/1.1" 200' in err
    assert "Traceback" not in err


def test_tls_bad_files_are_one_line_and_exit_1(tree: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    result = run_cli("serve", str(tree), "-p", "0", "--certfile", str(junk), "--keyfile", str(junk))
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"trio-webkit: error: cannot load the certificate {junk}")
    missing = tmp_path / "missing.pem"
    result = run_cli("serve", str(tree), "--certfile", str(missing), "--keyfile", str(missing))
    assert result.returncode == 1
    assert "No such file or directory" in result.stderr.decode()


# -- workers ----------------------------------------------------------------------


def worker_pids(served: Served, count: int) -> dict[int, int]:
    """Slot -> PID of the ``count`` workers the parent reported starting (latest per slot)."""
    text = served.read_stderr(f"worker {count} started".encode())
    return {int(slot): int(pid) for slot, pid in WORKER_LINE.findall(text)}


def test_workers_share_the_port_and_stop_on_sigterm(tree: Path) -> None:
    with serving("serve", str(tree), "-p", "0", "--workers", "2") as running:
        pids = worker_pids(running, 2)
        assert sorted(pids) == [1, 2]
        assert running.process.pid not in pids.values()
        assert all(pid_alive(pid) for pid in pids.values())
        for _ in range(40):  # a new connection each: the kernel spreads them
            status, _, body = fetch(running.url + "blob.bin")
            assert (status, len(body)) == (200, len(BLOB))
        code, out, err = running.stop(signal.SIGTERM)
    assert code == 0, err
    assert out == ""
    assert "SIGTERM received, stopping the workers" in err
    for pid in pids.values():  # both served, and both are gone
        assert f'[{pid}] 127.0.0.1 "GET /blob.bin HTTP/1.1" 200' in err
        assert not pid_alive(pid)
    assert "Traceback" not in err


def test_a_dead_worker_is_restarted(tree: Path) -> None:
    with serving("serve", str(tree), "-p", "0", "--workers", "2") as running:
        first = worker_pids(running, 2)
        os.kill(first[1], signal.SIGKILL)
        text = running.wait_stderr(lambda err: len(WORKER_LINE.findall(err)) == 3)
        assert (
            f"worker 1 (pid {first[1]}) exited unexpectedly with status -9; restarting".encode()
            in text
        )
        replacement = worker_pids(running, 2)[1]
        assert replacement != first[1]
        assert wait_until(lambda: fetch(running.url + "sub/inner.txt")[0] == 200)
        code, _, err = running.stop(signal.SIGINT)
    assert code == 0, err
    assert not pid_alive(replacement)
    assert not pid_alive(first[2])


def test_workers_stop_when_the_parent_is_killed(tree: Path) -> None:
    with serving("serve", str(tree), "-p", "0", "--workers", "2") as running:
        pids = worker_pids(running, 2)
        running.process.kill()  # SIGKILL: no chance to forward anything
        running.finish()
    # Their stdin (a pipe from the parent) reached EOF: each stops gracefully.
    assert wait_until(lambda: not any(pid_alive(pid) for pid in pids.values()))


def test_workers_port_in_use_is_one_line_and_exit_1(tree: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", str(tree), "-p", str(port), "--workers", "2")
    assert result.returncode == 1
    assert result.stdout == b""
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"trio-webkit: error: cannot listen on 127.0.0.1:{port}: ")


def test_workers_serve_tls(tree: Path, certificate: tuple[Path, Path, ssl.SSLContext]) -> None:
    certfile, keyfile, client = certificate
    tls = ("--certfile", str(certfile), "--keyfile", str(keyfile))
    with serving("serve", str(tree), "-p", "0", "--workers", "2", *tls) as running:
        assert running.url.startswith("https://127.0.0.1:")
        assert fetch(running.url + "sub/inner.txt", client)[2] == b"inner\n"
        assert running.stop(signal.SIGTERM)[0] == 0


def test_signal_while_workers_start_stops_cleanly(tree: Path) -> None:
    # A worker that has not installed its signal handlers yet must not get the
    # SIGINT/SIGTERM (it would die mid-import): the parent closes its stdin instead.
    command = [*COMMAND, "serve", str(tree), "-p", "0", "--workers", "2"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        running = Served(process, "", 0)
        try:
            pids = worker_pids(running, 2)
            code, out, err = running.stop(signal.SIGINT)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)
    assert code == 0, err
    assert "Serving on" not in out  # stopped before every worker was ready: no URL
    assert "Fatal Python error" not in err
    assert "Traceback" not in err
    assert not any(pid_alive(pid) for pid in pids.values())
