"""The docs' benchmark tables: newest report per benchmark, any report shape.

``docs/_ext/benchmark_results.py`` renders whatever ``benchmarks/results/``
holds when the docs are built, so it must pick the right files and never
fail on a report's content. These tests feed it reports of every shape the
benchmark scripts write (and some they might), from a temporary directory.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import benchmark_results as br  # noqa: E402
import reference_tables  # noqa: E402

X, DASH = br.TIMES, br.NONE


def write(directory: Path, name: str, data: Any) -> Path:
    path = directory / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_newest_report_of_each_benchmark(tmp_path: Path) -> None:
    write(
        tmp_path,
        "hello-2026-01-01T000000.json",
        {"benchmark": "hello", "started": "2026-01-01T00:00:00+0000"},
    )
    write(
        tmp_path,
        "hello-2026-02-01T000000.json",
        {"benchmark": "hello", "started": "2026-02-01T00:00:00+0000"},
    )
    write(tmp_path, "idle-2026-01-05T000000.json", {"benchmark": "idle"})
    write(tmp_path, "zeta-2026-01-01.json", {})  # no "benchmark" field: named by its file
    write(tmp_path, "client-2026-03-01T000000.json", {"benchmark": "client", "started": "garbage"})
    reports, skipped = br.latest_reports(tmp_path)
    assert [r.benchmark for r in reports] == ["hello", "client", "idle", "zeta"]
    assert reports[0].path.name == "hello-2026-02-01T000000.json"
    assert skipped == []


def test_started_time_wins_over_the_file_name(tmp_path: Path) -> None:
    write(tmp_path, "hello-b.json", {"benchmark": "hello", "started": "2026-01-01T00:00:00+0000"})
    write(tmp_path, "hello-a.json", {"benchmark": "hello", "started": "2026-05-01T00:00:00+0000"})
    (report,), _ = br.latest_reports(tmp_path)
    assert report.path.name == "hello-a.json"


def test_unreadable_files_are_skipped_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "hello-broken.json").write_text('{"benchmark": "hel', encoding="utf-8")
    write(tmp_path, "static-list.json", [1, 2, 3])
    (tmp_path / "notes.txt").write_text("not a report", encoding="utf-8")
    reports, skipped = br.latest_reports(tmp_path)
    assert reports == []
    assert sorted(item.path.name for item in skipped) == ["hello-broken.json", "static-list.json"]


def test_missing_directory_is_empty(tmp_path: Path) -> None:
    assert br.latest_reports(tmp_path / "nowhere") == ([], [])


def report(data: dict[str, Any], benchmark: str = "hello") -> br.Report:
    return br.Report(benchmark, Path(f"{benchmark}-x.json"), None, data)


def test_summary_sections_become_tables() -> None:
    data = {
        "summary": {
            "keep-alive": {
                "bare_trio": {"median": 65021.97, "min": 1.0, "runs": [1, 2], "ratio": 1.0},
                "trio_webkit": {"median": 17899.3, "ratio": 0.2753, "server_cpu_percent": 99.6},
            },
            "load_generator": {"wrk": {"median": 67182.1}, "bench_vs_wrk": 0.2918, "note": None},
        },
        "verdict": {"keep-alive": "FAIL"},
    }
    keep_alive, load, verdicts = br.report_tables(report(data))
    assert keep_alive.title == "keep-alive"
    # The median first, then ratios; spread (min, runs) left out; missing cells get a dash.
    assert keep_alive.header == ["", "median req/s", "ratio", "server CPU %"]
    assert keep_alive.rows == [
        ["bare_trio", "65,022", f"1.00{X}", DASH],
        ["trio_webkit", "17,899", f"0.28{X}", "99.6"],
    ]
    assert load.header == ["", "median"]  # no unit known for this benchmark's section
    assert load.notes == [f"bench vs wrk: 0.29{X}"]
    assert verdicts.rows == [["keep-alive", "FAIL"]]


def test_units_only_where_known() -> None:
    data = {"summary": {"download": {"curl": {"median": 3953.5, "vs_curl": 1.0}}}}
    (table,) = br.report_tables(report(data, "client"))
    assert table.header == ["", "median MB/s", f"{X} curl"]


def test_the_combined_run_becomes_the_summary_table() -> None:
    """``run-<date>.json`` from ``python -m benchmarks run`` (rows as benchmarks/report.py)."""
    data = {
        "benchmark": "run",
        "command": "python -m benchmarks run",
        "rows": [
            {
                "section": "hello",
                "measurement": "keep-alive req/s",
                "unit": "req/s",
                "better": "higher",
                "trio_webkit": 17899.3,
                "runs": 3,
                "references": [
                    {"name": "bare_trio", "value": 65021.9, "ratio": 0.275, "ceiling": True},
                    {"name": "hypercorn", "value": None, "ratio": None, "ceiling": False},
                ],
            },
            {
                "section": "idle",
                "measurement": "RSS per idle connection",
                "unit": "KiB",
                "better": "lower",
                "trio_webkit": 8.06,
                "references": [],
            },
        ],
        "sections": {
            "hello": {"status": "ran", "verdict": {"keep-alive >= 0.45 x bare": "FAIL"}},
            "slow": {"status": "skipped", "reason": "wrk missing"},
            "odd": "not an entry",
        },
    }
    summary, bars = br.report_tables(report(data, "run"))
    assert summary.header[:3] == ["section", "measurement (median)", "trio_webkit"]
    assert summary.rows == [
        [
            "hello",
            "keep-alive req/s",
            "17,899 req/s",
            "bare_trio (ceiling)",
            "65,022 req/s",
            f"0.28{X}",
        ],
        ["", "", "", "hypercorn", DASH, DASH],
        ["idle", "RSS per idle connection (lower is better)", "8.1 KiB", DASH, DASH, DASH],
    ]
    assert bars.rows == [["hello", "keep-alive >= 0.45 x bare", "FAIL"]]
    assert bars.notes == ["slow: skipped (wrk missing)"]
    line = br.describe_run(report(data, "run"))
    assert "command: python -m benchmarks run" in line


def test_results_rows_become_one_table() -> None:
    data = {
        "results": [
            {"server": "bare_trio", "command": ["taskset", "..."], "kib_per_connection": 4.932},
            {"server": "trio_webkit", "command": ["taskset", "..."], "kib_per_connection": 8.06},
        ]
    }
    (table,) = br.report_tables(report(data, "idle"))
    assert table.header == ["server", "KiB per connection"]
    assert table.rows == [["bare_trio", "4.9"], ["trio_webkit", "8.1"]]


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"summary": "not a mapping", "results": "nor a list", "verdict": []},
        {"summary": {"section": [1, 2]}, "results": [1, "x"]},
        {"summary": {"only-scalars": {"a": None}}},
    ],
)
def test_unknown_shapes_give_no_tables(data: dict[str, Any]) -> None:
    assert br.report_tables(report(data)) == []


def test_a_scalar_section_is_a_note() -> None:
    (table,) = br.report_tables(report({"summary": {"ratio_vs_ceiling": 0.61}}))
    assert table.header == []
    assert table.notes == [f"ratio_vs_ceiling: 0.61{X}"]


@pytest.mark.parametrize(
    ("name", "value", "cell"),
    [
        ("median", 65021.97, "65,022"),
        ("ratio", 0.27528, f"0.28{X}"),
        ("vs_httpx", 14.37, f"14.37{X}"),
        ("server_cpu_percent", 99.6, "99.6"),
        ("open_seconds", 0.12, "0.12"),
        ("connections", 1000, "1,000"),
        ("errors", 0, "0"),
        ("rss_before_kib", None, DASH),
        ("draining", True, "yes"),
        ("verdict", "PASS", "PASS"),
        ("median", float("nan"), "nan"),
    ],
)
def test_cells(name: str, value: object, cell: str) -> None:
    assert br.fmt(name, value) == cell


def test_run_description_names_no_machine_path() -> None:
    data = {
        "started": "2026-11-24T23:43:03+0000",
        "machine": {"cpu_model": "AMD EPYC", "cpu_count": 2, "python": "3.11.7", "trio": "0.35.0"},
    }
    started = br._parse_time(data["started"])
    line = br.describe_run(br.Report("hello", Path("/some/where/hello-x.json"), started, data))
    assert line == (
        "run 2026-11-24 23:43 UTC; AMD EPYC (2 CPUs); Python 3.11.7, trio 0.35.0; from hello-x.json"
    )


def test_the_real_results_render() -> None:
    """Whatever benchmarks/results/ holds right now gives tables, or at least no error."""
    reports, _skipped = br.latest_reports(DOCS.parent / "benchmarks" / "results")
    for each in reports:
        br.report_tables(each)
        br.describe_run(each)


def test_config_default_reads_the_code() -> None:
    import attrs

    import trio_webkit

    fields = attrs.fields_dict(trio_webkit.ServerConfig)
    assert reference_tables.config_default("header_timeout") == repr(
        fields["header_timeout"].default
    )
    with pytest.raises(KeyError, match="no field 'nope'"):
        reference_tables.config_default("nope")


def test_the_directive_renders_every_shape(tmp_path: Path) -> None:
    """A tiny Sphinx project over reports of each shape builds with -W, tables and all."""
    import subprocess

    source, results = tmp_path / "source", tmp_path / "source" / "results"
    results.mkdir(parents=True)
    (source / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(DOCS / '_ext')!r})\n"
        "extensions = ['benchmark_results']\n",
        encoding="utf-8",
    )
    (source / "index.rst").write_text(
        "Results\n=======\n\n.. benchmark-results::\n   :directory: results\n", encoding="utf-8"
    )
    row = {"section": "hello", "measurement": "keep-alive req/s", "unit": "req/s"}
    row |= {"better": "higher", "trio_webkit": 1.0, "references": []}
    write(results, "run-1.json", {"benchmark": "run", "quick": True, "rows": [row]})
    write(results, "hello-1.json", {"summary": {"keep-alive": {"bare": {"median": 2.0}}}})
    write(results, "idle-1.json", {"results": [{"server": "ours", "kib": 8.0}]})
    write(results, "odd-1.json", {"something": "else"})
    (results / "bad-1.json").write_text("{", encoding="utf-8")
    command = [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html"]
    command += [str(source), str(tmp_path / "html")]
    process = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert process.returncode == 0, process.stderr
    page = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    for text in (
        "Summary of the latest run",
        "A smoke run",
        "keep-alive req/s",
        "ours",
        "This report has no summary this page can show.",
        "Skipped bad-1.json",
    ):
        assert text in page, text
