"""The command line in-process: usage errors, --help, and the pure parts (progress, stats)."""

from __future__ import annotations

import argparse
import io
import math

import pytest

from trio_webkit.cli import main
from trio_webkit.cli._progress import ProgressBar, format_bytes, format_duration, render
from trio_webkit.cli._stats import Latency, Recorder, format_size, format_time, percentile
from trio_webkit.cli._stats import render as render_report
from trio_webkit.cli.bench import Budget, duration_argument
from trio_webkit.cli.get import header_argument

# -- --help and usage errors ------------------------------------------------------------


@pytest.mark.parametrize("command", ["serve", "get", "bench", "echo"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"usage: trio-webkit {command} ")
    assert captured.err == ""


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("serve", "get", "bench", "echo"):
        assert f"    {command} " in out


def test_worker_flag_is_hidden(capsys: pytest.CaptureFixture[str]) -> None:
    main(["serve", "--help"])
    assert "--worker " not in capsys.readouterr().out


URL = "http://127.0.0.1:9/"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        # serve
        (["serve", "--workers", "0"], "argument --workers"),
        (["serve", "--workers", "two"], "argument --workers"),
        (["serve", "-p", "70000"], "argument -p/--port"),
        (["serve", "a", "b"], "unrecognized arguments: b"),
        (["serve", "--certfile", "c.pem"], "--certfile and --keyfile go together"),
        (["serve", "--keyfile", "k.pem"], "--certfile and --keyfile go together"),
        # get
        (["get"], "required: URL"),
        (["get", "ftp://example.com/"], "argument URL"),
        (["get", "example.com"], "argument URL"),
        (["get", "http://"], "argument URL"),
        (["get", URL, "-H", "NoColon"], "argument -H/--header: expected 'Name: value'"),
        (["get", URL, "-H", "Bad Name: x"], "argument -H/--header"),
        (["get", URL, "-H", "X: a\rb"], "argument -H/--header"),
        (["get", URL, "-X", "GET /x"], "argument -X/--request"),
        (["get", URL, "--timeout", "0"], "argument --timeout"),
        (["get", URL, "--timeout", "-1"], "argument --timeout"),
        (["get", URL, "--timeout", "nan"], "argument --timeout"),
        (["get", URL, "--timeout", "soon"], "argument --timeout"),
        (["get", URL, "--max-redirects", "-1"], "argument --max-redirects"),
        (["get", URL, "-o"], "argument -o/--output: expected one argument"),
        (["get", "data:,x", "-d", "y"], "file: and data: URLs can only be read"),
        (["get", "file:///etc/hostname", "-X", "POST"], "file: and data: URLs can only be read"),
        # bench
        (["bench"], "required: URL"),
        (["bench", "file:///x"], "argument URL"),
        (["bench", URL, "-c", "0"], "argument -c/--connections"),
        (["bench", URL, "-n", "0"], "argument -n/--requests"),
        (["bench", URL, "-n", "x"], "argument -n/--requests"),
        (["bench", URL, "-d", "0"], "argument -d/--duration"),
        (["bench", URL, "-d", "5x"], "argument -d/--duration"),
        (["bench", URL, "-n", "5", "-d", "1"], "not allowed with argument"),
        (["bench", URL, "--rate", "0"], "argument --rate"),
        (["bench", URL, "--rate", "inf"], "argument --rate"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(
    args: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    # argparse reports unrecognized arguments from the top-level parser.
    prog = "trio-webkit" if "unrecognized" in fragment else f"trio-webkit {args[0]}"
    assert lines[0].startswith(f"{prog}: error: ")
    assert fragment in lines[0]
    assert lines[0].endswith(f"(see '{prog} --help')")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("X-A: b", ("X-A", "b")), ("X-Empty:", ("X-Empty", "")), ("K:  v:w ", ("K", "v:w"))],
)
def test_header_argument(text: str, expected: tuple[str, str]) -> None:
    assert header_argument(text) == expected


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5", 5.0), ("2.5s", 2.5), ("500ms", 0.5), ("1m", 60.0), (".5", 0.5), ("1h", 3600.0)],
)
def test_duration_argument(text: str, seconds: float) -> None:
    assert duration_argument(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "-1", "0ms", "1d", "1e3", "nan"])
def test_duration_argument_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        duration_argument(text)


def test_budget() -> None:
    budget = Budget(2)
    assert [budget.take() for _ in range(3)] == [True, True, False]
    unlimited = Budget(None)
    assert all(unlimited.take() for _ in range(1000))


# -- the progress bar -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (5 * 1024**2, "5.0 MiB"),
        (3 * 1024**4, "3.0 TiB"),
    ],
)
def test_format_bytes(count: int, text: str) -> None:
    assert format_bytes(count) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0:00"), (5.4, "0:05"), (65, "1:05"), (3725, "1:02:05"), (None, "--:--"), (-1, "--:--")],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_render_with_a_known_total() -> None:
    line = render(512 * 1024, 1024 * 1024, 2.0, 80, done=False)
    assert line.startswith(" 50% [")
    assert "512.0 KiB / 1.0 MiB" in line
    assert "256.0 KiB/s" in line
    assert line.endswith("ETA 0:02")
    assert len(line) == 80 - 1 or len(line) <= 80
    bar = line[line.index("[") + 1 : line.index("]")]
    assert bar.count("=") == len(bar) // 2


def test_render_done_shows_the_total_time() -> None:
    line = render(1000, 1000, 3.0, 80, done=True)
    assert line.startswith("100% [")
    assert line.endswith("in 0:03")


def test_render_without_a_total() -> None:
    assert render(2048, None, 2.0, 80, done=False) == "2.0 KiB  1.0 KiB/s  0:02"


@pytest.mark.parametrize("width", [10, 30, 45, 200])
def test_render_never_exceeds_the_width(width: int) -> None:
    assert len(render(123_456_789, 987_654_321, 12.5, width, done=False)) <= width


def test_progress_bar_throttles_redraws() -> None:
    now = [0.0]
    stream = io.StringIO()
    bar = ProgressBar(100, stream=stream, interval=0.1, clock=lambda: now[0], width=60)
    for received in range(1, 11):  # ten updates within 0.05 s: one redraw
        now[0] += 0.005
        bar.update(received)
    assert stream.getvalue().count("\r") == 1
    now[0] += 0.2
    bar.update(50)
    assert stream.getvalue().count("\r") == 2
    bar.finish()
    text = stream.getvalue()
    assert text.count("\r") == 3
    assert text.endswith("\n")
    assert "100%" not in text.split("\r")[2]  # 50 of 100 at the end: not claimed complete
    assert all(len(part.rstrip("\n")) <= 59 for part in text.split("\r"))


def test_progress_bar_abandon_ends_the_line() -> None:
    stream = io.StringIO()
    bar = ProgressBar(None, stream=stream, width=40)
    bar.abandon()
    assert stream.getvalue() == ""  # nothing drawn: nothing to end
    bar.update(10)
    bar.abandon()
    assert stream.getvalue().endswith("\n")


# -- load-test statistics ------------------------------------------------------------------


def test_percentile_is_nearest_rank() -> None:
    ordered = [float(x) for x in range(1, 101)]  # 1..100
    assert percentile(ordered, 50) == 50
    assert percentile(ordered, 90) == 90
    assert percentile(ordered, 99) == 99
    assert percentile(ordered, 100) == 100
    assert percentile([7.0], 99) == 7.0
    assert percentile([1.0, 2.0], 0) == 1.0


def test_latency_statistics() -> None:
    latency = Latency.of([0.001, 0.002, 0.003, 0.004, 0.100])
    assert latency is not None
    assert latency.minimum == 0.001
    assert latency.maximum == 0.100
    assert math.isclose(latency.mean, 0.022)
    assert latency.percentiles[50] == 0.003
    assert latency.percentiles[99] == 0.100
    assert latency.within_stdev == 0.8  # all but the outlier
    assert Latency.of([]) is None
    single = Latency.of([0.5])
    assert single is not None and single.stdev == 0


def test_recorder_summary_and_json() -> None:
    recorder = Recorder()
    for _ in range(3):
        recorder.response(200, 0.01, 100)
    recorder.response(404, 0.02, 50)
    recorder.response(301, 0.02, 50)
    recorder.error("connect")
    recorder.error("timeout")
    summary = recorder.summary(2.0)
    assert summary.requests == 5
    assert summary.statuses == {200: 3, 301: 1, 404: 1}
    assert summary.non_2xx_3xx == 1
    assert summary.error_count == 2
    assert summary.requests_per_second == 2.5
    assert summary.bytes_per_second == 200
    data = summary.as_json()
    assert data["status_counts"] == {"200": 3, "301": 1, "404": 1}
    assert data["errors"] == {"connect": 1, "read": 0, "write": 0, "timeout": 1}
    assert data["latency_ms"]["max"] == 20


def test_report_layout() -> None:
    recorder = Recorder()
    recorder.response(200, 0.000_5, 1024)
    recorder.response(500, 0.012, 1024)
    text = render_report(recorder.summary(0.5), title="Running 2 requests @ X", setup="1 conn")
    lines = text.splitlines()
    assert lines[:2] == ["Running 2 requests @ X", "  1 conn"]
    assert "  2 requests in 500.00ms, 2.00KB read" in lines
    assert "  Non-2xx or 3xx responses: 1" in lines
    assert "  Status codes: 200: 1, 500: 1" in lines
    assert lines[-2] == "Requests/sec:       4.00"
    assert lines[-1] == "Transfer/sec:     4.00KB"


def test_report_without_responses_has_no_latency_table() -> None:
    recorder = Recorder()
    recorder.error("connect")
    text = render_report(recorder.summary(0.1), title="t", setup="s")
    assert "Latency" not in text
    assert "  Socket errors: connect 1, read 0, write 0, timeout 0" in text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.000_635_91, "635.91us"), (0.012_92, "12.92ms"), (1.2, "1.20s"), (90, "1.50m")],
)
def test_format_time(seconds: float, text: str) -> None:
    assert format_time(seconds) == text


@pytest.mark.parametrize(
    ("count", "text"), [(512, "512.00B"), (2048, "2.00KB"), (17.76 * 1024**2, "17.76MB")]
)
def test_format_size(count: float, text: str) -> None:
    assert format_size(count) == text
