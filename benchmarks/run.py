"""``python -m benchmarks run``: every section in one run, one combined report.

Runs the sections named (default: all, in this order) with their own
default settings, or with their ``--quick`` smoke settings::

    hello   hello-world req/s, keep-alive and Connection: close (hello.py)
    static  small-file req/s, large-file MB/s, RSS with slow readers (static.py)
    client  the client: GETs/s and download MB/s (client.py)
    idle    server RSS per idle keep-alive connection, 1k and 10k (idle.py)
    slow    normal clients' p99 latency under 500 slowloris connections (slow.py)

Each section writes its detailed report, ``<section>-<date>.json``, and the
run writes ``run-<date>.json`` beside them: every section's status
(ran, skipped, failed), verdicts and detail file, and the summary rows
(see report.py) that are printed at the end and that ``plot.py`` draws.
Results go to ``benchmarks/results/``; smoke runs go to
``benchmarks/results/quick/`` (not committed).

A section that cannot run here (wrk, curl, taskset or httpx missing) makes
a full run stop before anything starts, with the reason; with ``--quick``
it is reported as skipped and the others run. A peer that is missing
(hypercorn, uvicorn, httptools, aiohttp, nginx) is reported inside its
section, which runs without it. A section that fails while running is
reported and the run goes on with the next one.

Exit status: 0 when every section that could run ran (bars met or not:
they are for people, not a CI gate), 1 when one failed or could not start
(or, without ``--quick``, could not run at all), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import client, hello, idle, slow, static
from benchmarks.harness import (
    REPO,
    RESULTS_DIR,
    BenchmarkError,
    check_cpus,
    machine_info,
    profiler_unavailable,
    save_json,
    timestamp,
)
from benchmarks.report import Row, text_table

SERVER_CPU, CLIENT_CPU = 0, 1
QUICK_DIR = RESULTS_DIR / "quick"


@dataclass(frozen=True)
class Section:
    """One section: its checks, how to run it, how to summarise it."""

    cannot_run: Callable[[], str | None]
    run: Callable[[list[str], Path], dict[str, Any]]
    rows: Callable[[dict[str, Any]], list[Row]]
    #: Whether it takes ``--profile`` (it measures a trio_webkit server).
    profiles: bool


SECTIONS: dict[str, Section] = {
    "hello": Section(hello.cannot_run, hello.section, hello.rows, profiles=True),
    "static": Section(static.cannot_run, static.section, static.rows, profiles=True),
    "client": Section(client.cannot_run, client.section, client.rows, profiles=False),
    "idle": Section(idle.cannot_run, idle.section, idle.rows, profiles=False),
    "slow": Section(slow.cannot_run, slow.section, slow.rows, profiles=True),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``run [--quick] [--runs N] [--profile] [--results-dir DIR] [SECTION...]``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="trio_webkit's benchmark suite: every peer side by side, in one run.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="run the benchmark sections and write the combined report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "sections", nargs="*", metavar="SECTION",
        help=f"sections to run, of: {' '.join(SECTIONS)} (default: all)",
    )  # fmt: skip
    run.add_argument(
        "--quick", action="store_true",
        help="smoke mode: one short repetition of each section; sections whose tools"
        " are missing are skipped",
    )  # fmt: skip
    run.add_argument(
        "--runs", type=int, default=None, help="repetitions per measurement (sections: 3)"
    )
    run.add_argument(
        "--profile", action="store_true",
        help="sample the trio_webkit server with py-spy (hello, static, slow);"
        " flame graphs next to the results",
    )  # fmt: skip
    run.add_argument(
        "--results-dir", type=Path, default=None,
        help="where the JSON goes (default benchmarks/results/, with --quick .../quick/)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    unknown = [name for name in args.sections if name not in SECTIONS]
    if unknown:
        run.error(f"unknown section(s) {', '.join(unknown)}: choose from {', '.join(SECTIONS)}")
    if args.runs is not None and args.runs < 1:
        run.error("--runs must be >= 1")
    args.sections = list(dict.fromkeys(args.sections)) or list(SECTIONS)
    if args.results_dir is None:
        args.results_dir = QUICK_DIR if args.quick else RESULTS_DIR
    return args


def section_argv(name: str, args: argparse.Namespace) -> list[str]:
    """The command-line options the section gets: ``--quick``, ``--runs``, ``--profile``."""
    argv = ["--quick"] if args.quick else []
    if args.runs is not None:
        argv += ["--runs", str(args.runs)]
    if args.profile and SECTIONS[name].profiles:
        argv.append("--profile")
    return argv


def cannot_run(name: str) -> str | None:
    """Why section ``name`` cannot run here (two CPUs to pin to, its tools), or None."""
    try:
        check_cpus(SERVER_CPU, CLIENT_CPU)
    except BenchmarkError as exc:
        return str(exc)
    return SECTIONS[name].cannot_run()


def relative(path: Path) -> str:
    """``path`` relative to the repository when inside it (reports name no machine paths)."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def run_section(name: str, args: argparse.Namespace, stamp: str) -> dict[str, Any]:
    """Run one section; its entry in the combined report (rows included when it ran)."""
    detail = args.results_dir / f"{name}-{stamp}.json"
    argv = section_argv(name, args)
    options = shlex.join([*argv, "--json", relative(detail)])
    print(f"\n=== {name}: python -m benchmarks.{name} {options}")
    started = time.monotonic()
    try:
        report = SECTIONS[name].run(argv, detail)
    except (BenchmarkError, OSError) as exc:
        print(f"error: section {name} failed: {exc}", file=sys.stderr)
        seconds = round(time.monotonic() - started, 1)
        return {"status": "failed", "reason": str(exc), "seconds": seconds}
    entry: dict[str, Any] = {
        "status": "ran",
        "seconds": round(time.monotonic() - started, 1),
        "detail": relative(detail),
        "argv": argv,
        "verdict": report.get("verdict", {}),
        "rows": SECTIONS[name].rows(report),
    }
    for key in ("missing", "skipped", "impossible", "failed"):
        if report.get(key):
            entry[key] = report[key]
    return entry


def print_summary(report: dict[str, Any]) -> None:
    """The combined table, every verdict, and what was skipped, missing or failed."""
    mode = (
        "smoke run (--quick: 1 short run, not for conclusions)"
        if report["quick"]
        else "medians of each section's runs"
    )
    print(f"\n=== summary: {mode}; ratio = trio_webkit / reference\n")
    print(text_table(report["rows"]) if report["rows"] else "(no rows)")
    print("\nbars:")
    for name, entry in report["sections"].items():
        for bar, verdict in entry.get("verdict", {}).items():
            print(f"  {name:<7} {bar:<56} {verdict}")
    print()
    for name, entry in report["sections"].items():
        notes = [f"{entry['status']} in {entry['seconds']:.0f} s"] if "seconds" in entry else []
        if entry["status"] != "ran":
            notes = [f"{entry['status']}: {entry['reason']}"]
        for key in ("missing", "skipped", "impossible", "failed"):
            notes += [f"{key} {what}: {why}" for what, why in entry.get(key, {}).items()]
        print(f"  {name:<7} " + "\n          ".join(notes))


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks``; returns the exit status."""
    args = parse_args(argv)
    if args.profile and (why := profiler_unavailable()):
        print(f"error: {why}", file=sys.stderr)
        return 1
    reasons = {name: why for name in args.sections if (why := cannot_run(name))}
    if reasons and not args.quick:
        for name, why in reasons.items():
            print(f"error: section {name} cannot run: {why}", file=sys.stderr)
        print("(with --quick such sections are skipped)", file=sys.stderr)
        return 1
    stamp = timestamp()
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    machine = machine_info(
        packages=("hypercorn", "uvicorn", "httptools", "aiohttp", "httpx"),
        tools={"curl": ["curl", "--version"], "nginx": ["nginx", "-v"]},
    )
    wall = time.monotonic()
    sections: dict[str, Any] = {}
    for name in args.sections:
        if name in reasons:
            print(f"\n=== {name}: skipped: {reasons[name]}")
            sections[name] = {"status": "skipped", "reason": reasons[name]}
        else:
            sections[name] = run_section(name, args, stamp)
    rows = [row for entry in sections.values() for row in entry.pop("rows", [])]
    report = {
        "benchmark": "run",
        "command": shlex.join(["python", "-m", "benchmarks", *(argv or sys.argv[1:])]),
        "quick": args.quick,
        "started": started,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": round(time.monotonic() - wall, 1),
        "machine": machine,
        "sections": sections,
        "rows": rows,
    }
    path = args.results_dir / f"run-{stamp}.json"
    save_json(path, report)
    print_summary(report)
    print(f"\nsaved {relative(path)} ({report['seconds']:.0f} s)")
    return 1 if any(entry["status"] == "failed" for entry in sections.values()) else 0
