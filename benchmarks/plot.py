"""Chart and table of a combined benchmark run (``benchmarks/results/run-<date>.json``).

Reads the newest ``run-*.json`` in ``benchmarks/results/`` (or the file
given), draws one horizontal bar per row and reference of its summary (see
report.py): how many times better trio_webkit is than that reference (its
ratio, inverted where lower is better), on a log scale with a line at 1 —
bars to the right of it are measurements where trio_webkit wins. The
bare-Trio ceiling and the client's h11 loop are references no real
server or client can beat, drawn in grey. Writes a PNG (matplotlib, Agg
backend: no display needed) and prints the table as Markdown or
reStructuredText for the docs.

Usage::

    python -m benchmarks.plot [RESULTS.json] [-o PNG] [--table markdown|rst|none]

Exit status: 0 when the chart was written, 1 when there was no results file
or matplotlib is missing (``pip install matplotlib``, in the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.harness import REPO, RESULTS_DIR
from benchmarks.report import Row, advantage, markdown_table, rst_table

DEFAULT_OUTPUT = REPO / "docs" / "_static" / "benchmarks.png"
WIN, LOSE, CEILING = "#2a9d4b", "#e07b24", "#9aa5b1"
BAR_HEIGHT_INCHES = 0.28


def latest_results(directory: Path = RESULTS_DIR) -> Path | None:
    """The newest ``run-<date>.json`` in ``directory`` (the names sort by date), or None."""
    runs = sorted(directory.glob("run-*.json"))
    return runs[-1] if runs else None


def bars(rows: list[Row]) -> dict[str, list[tuple[str, float, str, str]]]:
    """Per section: (label, advantage, colour, annotation) for every reference with a ratio."""
    per_section: dict[str, list[tuple[str, float, str, str]]] = {}
    for row in rows:
        for ref in row["references"]:
            value = advantage(row, ref)
            if value is None:
                continue
            colour = CEILING if ref["ceiling"] else (WIN if value >= 1 else LOSE)
            label = f"{row['measurement']}  vs {ref['name']}"
            per_section.setdefault(row["section"], []).append(
                (label, value, colour, f"{value:.2f}x")
            )
    return per_section


def title(report: dict[str, Any]) -> str:
    """The chart's title: what the bars mean, the run's date and the machine."""
    machine = report.get("machine", {})
    kind = "smoke run (--quick)" if report.get("quick") else "medians of 3+ runs"
    return (
        "trio_webkit vs each reference: times better (> 1: trio_webkit wins; grey: ceilings)\n"
        f"{report.get('started', '?')[:16]}, {kind}; {machine.get('cpu_model', '?')},"
        f" {machine.get('cpu_count', '?')} cores, Python {machine.get('python', '?')}"
    )


def draw(report: dict[str, Any], output: Path) -> None:
    """Write the chart of ``report``'s rows to ``output`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per_section = bars(report["rows"])
    if not per_section:
        raise ValueError("the results have no rows to draw")
    heights = [len(items) for items in per_section.values()]
    figure, axes = plt.subplots(
        len(per_section), 1, sharex=True, squeeze=False,
        figsize=(11, 1.2 + BAR_HEIGHT_INCHES * sum(heights) + 0.5 * len(heights)),
        gridspec_kw={"height_ratios": heights},
    )  # fmt: skip
    for axis, (section, items) in zip(axes[:, 0], per_section.items(), strict=True):
        labels, values, colours, notes = zip(*items, strict=True)
        positions = range(len(items))
        axis.barh(positions, values, color=colours, height=0.7)
        axis.set_yticks(list(positions), labels, fontsize=8)
        axis.invert_yaxis()
        axis.axvline(1.0, color="black", linewidth=0.8)
        axis.set_xscale("log")
        axis.set_ylabel(section, fontsize=10, fontweight="bold")
        for position, value, note in zip(positions, values, notes, strict=True):
            axis.annotate(
                note, (value, position), xytext=(3, 0), textcoords="offset points",
                va="center", fontsize=7,
            )  # fmt: skip
        axis.grid(axis="x", which="both", alpha=0.3)
    axes[-1, 0].set_xlabel("times better than the reference (log scale)")
    figure.suptitle(title(report), fontsize=9)
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=110)
    plt.close(figure)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The results file, the PNG path and the table format."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "results", nargs="?", type=Path, default=None,
        help="a run-<date>.json (default: the newest in benchmarks/results/)",
    )  # fmt: skip
    parser.add_argument(
        "-o", "--output", type=Path, default=DEFAULT_OUTPUT,
        help="PNG to write (default docs/_static/benchmarks.png)",
    )  # fmt: skip
    parser.add_argument(
        "--table", choices=("markdown", "rst", "none"), default="markdown",
        help="print the summary table in this format (markdown)",
    )  # fmt: skip
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    path = args.results or latest_results()
    if path is None:
        print(
            f"error: no run-*.json in {RESULTS_DIR.relative_to(REPO)}:"
            " run `python -m benchmarks run` first",
            file=sys.stderr,
        )
        return 1
    report = json.loads(path.read_text())
    try:
        draw(report, args.output)
    except ImportError:
        print("error: matplotlib is not installed (pip install matplotlib)", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return 1
    if args.table == "markdown":
        print(markdown_table(report["rows"]))
    elif args.table == "rst":
        print(rst_table(report["rows"]))
    print(f"\nchart of {path.name} written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
