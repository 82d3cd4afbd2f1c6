"""``.. benchmark-results::``: the newest benchmark reports, as tables.

The benchmark scripts write JSON reports to ``benchmarks/results/``
(``hello-<date>.json``, ``client-<date>.json``...). This directive finds the
newest report of each benchmark when the docs are built and renders it, so
the page always shows the latest run without anyone copying numbers.

The reports differ in shape from one benchmark to the next, and will keep
changing, so nothing here knows a report's fields in advance. It reads:

* ``rows``: the combined summary of ``python -m benchmarks run``
  (``run-<date>.json``), one row per measurement with trio_webkit's median
  and its ``references`` (name, value, ratio), becomes the summary table;
  its ``sections`` give each section's verdicts and status;
* ``summary``: ``{section: {peer: {field: value}}}`` becomes one table per
  section, a row per peer, a column per scalar field (medians first, then
  ratios); scalar entries of a section are listed under its table;
* ``results``: a list of ``{field: value}`` rows (named by ``server``,
  ``name``, ``peer`` or ``client``) becomes one table;
* ``verdict`` (or ``verdicts``): ``{bar: "PASS" | "FAIL" | ...}`` becomes a
  table;
* ``machine``, ``started``: one line saying where and when it ran.

A report with none of these is listed with a note; a file that is not a
JSON object is listed as skipped. Nothing here raises for a report's
content: a half-written results file must not break the docs build.

The pure part (:func:`latest_reports`, :func:`report_tables`, :func:`fmt`)
returns plain data and is tested in ``tests/docs/test_benchmark_results.py``;
the directive only turns that data into docutils nodes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

#: Benchmarks in the order the page shows them; others follow alphabetically.
#: ``run`` is the combined report of ``python -m benchmarks run``.
ORDER = ("run", "hello", "static", "client", "idle", "slow")
#: Section titles on the page (the benchmark's name otherwise).
TITLES = {"run": "Summary of the latest run"}
#: Per-peer fields left out of tables: spread and raw data, not results.
HIDDEN = frozenset({"min", "max", "runs", "command", "commands", "rep"})
#: Row names, in order of preference.
NAME_FIELDS = ("server", "name", "peer", "client")
#: The unit of ``median`` where the benchmark's README defines it.
UNITS = {
    ("hello", "keep-alive"): "req/s",
    ("hello", "close"): "req/s",
    ("client", "sequential"): "req/s",
    ("client", "concurrent"): "req/s",
    ("client", "varied"): "req/s",
    ("client", "download"): "MB/s",
    ("static", "small"): "req/s",
    ("static", "large"): "MB/s",
    ("static", "load_generator"): "req/s",
}

Scalar = str | int | float | bool | None
#: The ratio sign and the empty cell (escaped: ruff flags look-alike characters).
TIMES = "\u00d7"
NONE = "\u2013"


@dataclass
class Report:
    """One results file: its benchmark name, when it ran, and its content."""

    benchmark: str
    path: Path
    started: datetime | None
    data: dict[str, Any]


@dataclass
class Table:
    """A titled table of already formatted cells, with notes under it."""

    title: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)


@dataclass
class Skipped:
    """A results file that could not be read."""

    path: Path
    reason: str


# -- finding the reports -------------------------------------------------------
def latest_reports(directory: Path) -> tuple[list[Report], list[Skipped]]:
    """The newest report of each benchmark under ``directory``, and unreadable files.

    A report's benchmark is its ``benchmark`` field, else the part of the
    file name before the first ``-``. "Newest" is the latest ``started``
    time, then the file name (which carries the date) for ties or reports
    without one.
    """
    newest: dict[str, Report] = {}
    skipped: list[Skipped] = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            skipped.append(Skipped(path, f"not readable as JSON ({type(error).__name__})"))
            continue
        if not isinstance(data, dict):
            skipped.append(Skipped(path, "not a JSON object"))
            continue
        name = data.get("benchmark")
        benchmark = name if isinstance(name, str) and name else path.stem.split("-", 1)[0]
        report = Report(benchmark, path, _parse_time(data.get("started")), data)
        current = newest.get(benchmark)
        if current is None or _age_key(report) >= _age_key(current):
            newest[benchmark] = report
    order = {name: index for index, name in enumerate(ORDER)}
    reports = sorted(
        newest.values(), key=lambda r: (order.get(r.benchmark, len(order)), r.benchmark)
    )
    return reports, skipped


def _age_key(report: Report) -> tuple[float, str]:
    started = report.started.timestamp() if report.started else -math.inf
    return started, report.path.name


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    for pattern in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"):
        try:
            parsed = datetime.strptime(value, pattern)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# -- turning a report into tables -------------------------------------------
def describe_run(report: Report) -> str:
    """One line: when, and on what, the report was made."""
    parts = []
    if report.started is not None:
        when = report.started.astimezone(UTC)
        parts.append(f"run {when:%Y-%m-%d %H:%M} UTC")
    machine = report.data.get("machine")
    if isinstance(machine, dict):
        cpu = machine.get("cpu_model")
        count = machine.get("cpu_count")
        if cpu or count:
            parts.append(" ".join(str(p) for p in (cpu, f"({count} CPUs)" if count else None) if p))
        versions = [
            f"{name} {machine[key]}"
            for name, key in (
                ("Python", "python"),
                ("trio", "trio"),
                ("h11", "h11"),
                ("trio_webkit", "trio_webkit"),
            )
            if isinstance(machine.get(key), str | int | float)
        ]
        if versions:
            parts.append(", ".join(versions))
    command = report.data.get("command")
    if isinstance(command, str) and command:
        parts.append(f"command: {command}")
    parts.append(f"from {report.path.name}")
    return "; ".join(parts)


def report_tables(report: Report) -> list[Table]:
    """The tables of one report (see the module docstring for the shapes read)."""
    data = report.data
    tables: list[Table] = []
    rows = data.get("rows")
    if isinstance(rows, list):
        table = _combined_table([row for row in rows if isinstance(row, dict)])
        if table is not None:
            tables.append(table)
    sections = data.get("sections")
    if isinstance(sections, dict):
        table = _sections_table(sections)
        if table is not None:
            tables.append(table)
    summary = data.get("summary")
    if isinstance(summary, dict):
        for section, content in summary.items():
            table = _section_table(report.benchmark, str(section), content)
            if table is not None:
                tables.append(table)
    results = data.get("results")
    if isinstance(results, list):
        table = _rows_table("results", [row for row in results if isinstance(row, dict)])
        if table is not None:
            tables.append(table)
    verdict = data.get("verdict", data.get("verdicts"))
    if isinstance(verdict, dict) and verdict:
        rows = [[str(bar), fmt("verdict", outcome)] for bar, outcome in verdict.items()]
        tables.append(Table("verdicts", ["bar", "verdict"], rows))
    return tables


#: How the combined summary shows a value in each unit (others: 3 significant digits).
UNIT_FORMATS = {"req/s": "{:,.0f}", "MB/s": "{:,.0f}", "KiB": "{:,.1f}", "MiB": "{:,.1f}"}


def _with_unit(value: object, unit: object) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return NONE if value is None else str(value)
    text = UNIT_FORMATS.get(str(unit), "{:,.3g}").format(value)
    return f"{text} {unit}" if unit else text


def _combined_table(rows: list[dict[str, Any]]) -> Table | None:
    """One line per measurement and reference: trio_webkit's median against each."""
    header = ["section", "measurement (median)", "trio_webkit", "vs", "its median", "ratio"]
    body: list[list[str]] = []
    for row in rows:
        unit = row.get("unit")
        what = str(row.get("measurement", "?"))
        if row.get("better") == "lower":
            what += " (lower is better)"
        first = [str(row.get("section", "")), what, _with_unit(row.get("trio_webkit"), unit)]
        references = [r for r in row.get("references") or [] if isinstance(r, dict)]
        for index, reference in enumerate(references or [{}]):
            name = str(reference.get("name", NONE))
            if reference.get("ceiling"):
                name += " (ceiling)"
            value = _with_unit(reference.get("value"), unit) if reference else NONE
            ratio = fmt("ratio", reference.get("ratio"))
            cells = first if index == 0 else ["", "", ""]
            body.append([*cells, name, value, ratio])
    if not body:
        return None
    return Table(
        "trio_webkit against each reference (ratio = trio_webkit / reference)", header, body
    )


def _sections_table(sections: dict[str, Any]) -> Table | None:
    """The bars of every section of a combined run, and sections that did not run."""
    rows: list[list[str]] = []
    notes: list[str] = []
    for name, entry in sections.items():
        if not isinstance(entry, dict):
            continue
        verdict = entry.get("verdict")
        if isinstance(verdict, dict):
            rows += [
                [str(name), str(bar), fmt("verdict", outcome)] for bar, outcome in verdict.items()
            ]
        status = entry.get("status")
        if status not in (None, "ran"):
            notes.append(
                f"{name}: {status}" + (f" ({entry['reason']})" if entry.get("reason") else "")
            )
    if not rows and not notes:
        return None
    return Table("bars", ["section", "bar", "verdict"] if rows else [], rows, notes)


def _section_table(benchmark: str, section: str, content: object) -> Table | None:
    if not isinstance(content, dict):
        if _is_scalar(content):
            return Table(section, [], [], [f"{section}: {fmt(section, content)}"])
        return None
    peers = {str(name): row for name, row in content.items() if isinstance(row, dict)}
    notes = [
        f"{_label(str(key))}: {fmt(str(key), value)}"
        for key, value in content.items()
        if _is_scalar(value) and value is not None
    ]
    if not peers:
        return Table(section, [], [], notes) if notes else None
    columns = _columns(peers.values())
    unit = UNITS.get((benchmark, section))
    header = ["", *(_label(c, unit) for c in columns)]
    rows = [[name, *(fmt(c, row.get(c)) for c in columns)] for name, row in peers.items()]
    return Table(section, header, rows, notes)


def _rows_table(title: str, rows: list[dict[str, Any]]) -> Table | None:
    if not rows:
        return None
    name_field = next((f for f in NAME_FIELDS if all(f in row for row in rows)), None)
    columns = [c for c in _columns(rows) if c != name_field]
    header = ([name_field] if name_field else []) + [_label(c) for c in columns]
    body = [
        ([str(row[name_field])] if name_field else []) + [fmt(c, row.get(c)) for c in columns]
        for row in rows
    ]
    return Table(title, header, body)


def _columns(rows: Iterable[dict[str, Any]]) -> list[str]:
    """Scalar fields in first-seen order, the median first and ratios next."""
    seen: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if key not in HIDDEN and _is_scalar(value):
                seen.setdefault(str(key), None)
    names = list(seen)
    return sorted(names, key=lambda name: 0 if name == "median" else 1 if _is_ratio(name) else 2)


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _is_ratio(name: str) -> bool:
    return name == "ratio" or name.startswith("vs_") or "_vs_" in name


#: Words of field names written as a reader expects them.
_WORDS = {"percent": "%", "kib": "KiB", "mib": "MiB", "rss": "RSS", "cpu": "CPU"}


def _label(name: str, unit: str | None = None) -> str:
    """A column header: ``server_cpu_percent`` → ``server CPU %``, ``vs_curl`` → ``x curl``."""
    if name == "median" and unit:
        return f"median {unit}"
    if name.startswith("vs_"):
        return f"{TIMES} " + name[3:].replace("_", " ")
    return " ".join(_WORDS.get(word, word) for word in name.split("_"))


def fmt(name: str, value: Scalar | object) -> str:
    """A cell: ratios as ``0.28x`` (with a times sign), large numbers with separators."""
    if value is None:
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if _is_ratio(name):
            return f"{value:.2f}{TIMES}"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"
    return str(value)


# -- the directive --------------------------------------------------------------
class BenchmarkResults(SphinxDirective):
    """Render the newest report of each benchmark found in ``:directory:``."""

    has_content = False
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {"directory": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        relative = self.options.get("directory", "../benchmarks/results")
        directory = (Path(self.env.srcdir) / relative).resolve()
        reports, skipped = latest_reports(directory)
        for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
            self.env.note_dependency(str(path))  # rebuild the page when a report changes
        result: list[nodes.Node] = []
        if not reports:
            result.append(nodes.paragraph(text="No benchmark reports were found."))
        for report in reports:
            result.append(self._report(report))
        for item in skipped:
            result.append(nodes.paragraph(text=f"Skipped {item.path.name}: {item.reason}."))
        return result

    def _report(self, report: Report) -> nodes.section:
        section = nodes.section(ids=[nodes.make_id(f"benchmark-{report.benchmark}")])
        section += nodes.title(text=TITLES.get(report.benchmark, report.benchmark))
        section += nodes.paragraph(text=describe_run(report))
        if report.data.get("quick") is True:
            section += nodes.paragraph(text="A smoke run (--quick): not for conclusions.")
        tables = report_tables(report)
        if not tables:
            section += nodes.paragraph(text="This report has no summary this page can show.")
        for table in tables:
            if table.header:
                section += _table_node(table)
            if table.notes:
                bullets = nodes.bullet_list()
                for note in table.notes:
                    bullets += nodes.list_item("", nodes.paragraph(text=note))
                if not table.header:
                    section += nodes.rubric(text=table.title)
                section += bullets
        return section


def _table_node(table: Table) -> nodes.table:
    node = nodes.table(classes=["benchmark-results"])
    node += nodes.title(text=table.title)
    group = nodes.tgroup(cols=len(table.header))
    node += group
    for _ in table.header:
        group += nodes.colspec(colwidth=1)
    head = nodes.thead()
    group += head
    head += _row(table.header)
    body = nodes.tbody()
    group += body
    for cells in table.rows:
        body += _row(cells)
    return node


def _row(cells: list[str]) -> nodes.row:
    row = nodes.row()
    for text in cells:
        row += nodes.entry("", nodes.paragraph(text=text))
    return row


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("benchmark-results", BenchmarkResults)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
