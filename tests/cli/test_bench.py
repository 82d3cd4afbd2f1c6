"""``trio-webkit bench`` end to end, as subprocesses, against ``serve`` and raw servers."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import (
    COMMAND,
    Served,
    free_port,
    raw_server,
    read_request_head,
    run_cli,
    serving,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="subprocess servers")

LATENCY_KEYS = {"mean", "stdev", "min", "p50", "p75", "p90", "p99", "max"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("bench")
    (root / "hello.txt").write_text("hello\n")
    with serving("serve", str(root), "-p", "0") as running:
        yield running


def bench_json(*args: str) -> dict[str, Any]:
    """Run ``bench --json ARGS``; the parsed report (exit status 0 asserted)."""
    result = run_cli("bench", "--json", *args, timeout=30)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_count_prints_wrk_like_statistics(served: Served) -> None:
    result = run_cli("bench", "-n", "200", "-c", "4", served.url + "hello.txt", timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    text = result.stdout.decode()
    lines = text.splitlines()
    assert lines[0] == f"Running 200 requests @ {served.url}hello.txt"
    assert lines[1] == "  4 connections"
    assert "Thread Stats" in text
    assert "    Latency " in text
    assert "  Latency Distribution" in text
    for percentile in ("50%", "75%", "90%", "99%", "max"):
        assert any(line.strip().startswith(percentile) for line in lines), percentile
    assert any(line.startswith("  200 requests in ") and line.endswith(" read") for line in lines)
    assert "  Socket errors: connect 0, read 0, write 0, timeout 0" in lines
    assert "  Status codes: 200: 200" in lines
    assert "Non-2xx" not in text
    assert lines[-2].startswith("Requests/sec:")
    assert lines[-1].startswith("Transfer/sec:")


def test_json_has_the_expected_keys_and_counts(served: Served) -> None:
    report = bench_json("-n", "200", "-c", "4", served.url + "hello.txt")
    assert report["url"] == served.url + "hello.txt"
    assert report["connections"] == 4
    assert report["rate"] is None
    assert report["requests"] == 200
    assert report["status_counts"] == {"200": 200}
    assert report["errors"] == {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    assert report["errors_total"] == 0
    assert report["non_2xx_3xx"] == 0
    assert report["requests_per_sec"] > 0
    assert report["duration_s"] > 0
    assert report["bytes_read"] > 200 * len("hello\n")  # heads and bodies
    latency = report["latency_ms"]
    assert set(latency) == LATENCY_KEYS
    assert 0 < latency["min"] <= latency["p50"] <= latency["p90"] <= latency["p99"]
    assert latency["p99"] <= latency["max"]


def test_error_statuses_are_counted(served: Served) -> None:
    result = run_cli("bench", "-n", "30", "-c", "3", served.url + "missing", timeout=30)
    assert result.returncode == 0
    assert "  Non-2xx or 3xx responses: 30" in result.stdout.decode().splitlines()
    assert bench_json("-n", "30", served.url + "missing")["status_counts"] == {"404": 30}


def test_duration_stops_by_itself(served: Served) -> None:
    started = time.monotonic()
    report = bench_json("-d", "500ms", "-c", "2", served.url + "hello.txt")
    assert time.monotonic() - started < 10
    assert 0.45 < report["duration_s"] < 2
    assert report["requests"] > 0
    assert report["errors_total"] == 0


def test_rate_is_constant_and_bounded(served: Served) -> None:
    started = time.monotonic()
    report = bench_json("--rate", "50", "-n", "20", "-c", "2", served.url + "hello.txt")
    assert time.monotonic() - started < 10
    assert report["rate"] == 50
    assert report["requests"] == 20
    # The 20th request is due 19/50 s after the start: the run cannot be shorter.
    assert 0.37 <= report["duration_s"] < 3
    by_time = bench_json("--rate", "100", "-d", "0.5", "-c", "4", served.url + "hello.txt")
    assert 0.45 < by_time["duration_s"] < 1.5
    # 50 are due within the 0.5 s (never more); ones still in flight at the end are
    # not counted, and a loaded machine may leave a few behind.
    assert 30 <= by_time["requests"] <= 51


def slow_keepalive(conn: socket.socket) -> None:
    """Answer each request after 0.1 s, keeping the connection open."""
    while read_request_head(conn):
        time.sleep(0.1)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


def test_rate_latency_counts_from_the_scheduled_time() -> None:
    # 20 requests due every 50 ms on one connection to a server that needs 100 ms
    # each: request i is due at 50i ms but answered at about 100(i+1) ms. Measured
    # from the scheduled time (no coordinated omission), the last one waited ~1.05 s;
    # measured from when it was sent, every latency would be ~0.1 s.
    with raw_server(slow_keepalive) as server:
        report = bench_json("--rate", "20", "-n", "20", "-c", "1", server.url)
    latency = report["latency_ms"]
    assert report["requests"] == 20
    assert latency["min"] >= 90
    assert latency["max"] > 800
    assert latency["p50"] > 400


def test_timeouts_are_counted() -> None:
    def silent(conn: socket.socket) -> None:
        read_request_head(conn)
        conn.recv(1)

    with raw_server(silent) as server:
        result = run_cli("bench", "--json", "-n", "1", "-c", "1", "--timeout", "0.3", server.url)
    assert result.returncode == 1
    assert json.loads(result.stdout)["errors"]["timeout"] == 1
    assert result.stderr.decode() == (
        f"trio-webkit: error: every request to {server.url} failed (1 errors)\n"
    )


def test_server_closing_idle_connections_is_not_an_error() -> None:
    def one_per_connection(conn: socket.socket) -> None:
        read_request_head(conn)  # answers as keep-alive, then closes anyway
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        time.sleep(0.05)

    with raw_server(one_per_connection) as server:
        report = bench_json("--rate", "20", "-n", "5", "-c", "1", server.url)
    assert report["requests"] == 5
    assert report["errors_total"] == 0


def test_every_request_failing_is_exit_1(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    result = run_cli("bench", "-n", "5", "-c", "2", url, timeout=30)
    assert result.returncode == 1
    assert "  Socket errors: connect 5, read 0, write 0, timeout 0" in result.stdout.decode()
    assert result.stderr.decode() == (
        f"trio-webkit: error: every request to {url} failed (5 errors)\n"
    )


def test_unknown_host_is_one_line_and_exit_1() -> None:
    result = run_cli("bench", "-n", "1", "http://no-such-host.invalid/")
    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr.decode().startswith(
        "trio-webkit: error: cannot resolve no-such-host.invalid"
    )
    assert result.stderr.count(b"\n") == 1


def test_ctrl_c_stops_early_and_still_reports(served: Served) -> None:
    command = [*COMMAND, "bench", "--json", "-d", "60", "-c", "2", served.url + "hello.txt"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        try:
            time.sleep(1.5)  # started, and sending
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)
    assert process.returncode == 0, err
    report = json.loads(out)
    assert report["requests"] > 0
    assert report["duration_s"] < 10
