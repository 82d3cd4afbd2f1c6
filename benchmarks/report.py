"""The combined summary of a run: one row per measurement, trio_webkit against its references.

Every section turns its own summary into rows (its ``rows()`` function);
the orchestrator prints them as one table and saves them in the combined
JSON, and ``plot.py`` draws and prints them again from that JSON. A row::

    {"section": "hello", "measurement": "keep-alive req/s", "unit": "req/s",
     "better": "higher", "trio_webkit": 17899.3, "runs": 3,
     "references": [{"name": "bare_trio", "value": 65021.9, "ratio": 0.275,
                     "ceiling": true}, ...]}

``ratio`` is always trio_webkit's median over the reference's median.
Where lower is better (memory, latency) ``better`` says so: a ratio of 0.5
there means trio_webkit needs half as much. :func:`advantage` turns either
kind into "times better than the reference" (above 1: trio_webkit wins),
which is what the chart shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Row = dict[str, Any]
Reference = dict[str, Any]

UNIT_FORMATS = {"req/s": "{:,.0f}", "MB/s": "{:,.0f}", "KiB": "{:,.1f}", "MiB": "{:,.1f}"}


def comparison(
    section: str,
    measurement: str,
    unit: str,
    better: str,
    ours: float | None,
    references: Mapping[str, float | None],
    *,
    runs: int,
    ceiling: str | None = None,
) -> Row:
    """One row: trio_webkit's median ``ours`` against each reference's (the ceiling first)."""
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', not {better!r}")
    refs = [
        {
            "name": name,
            "value": value,
            "ratio": ours / value if ours is not None and value else None,
            "ceiling": name == ceiling,
        }
        for name, value in references.items()
    ]
    refs.sort(key=lambda ref: not ref["ceiling"])  # stable: the ceiling first, then as given
    return {
        "section": section,
        "measurement": measurement,
        "unit": unit,
        "better": better,
        "trio_webkit": ours,
        "runs": runs,
        "references": refs,
    }


def advantage(row: Row, reference: Reference) -> float | None:
    """How many times better trio_webkit is than ``reference`` in ``row`` (> 1: it wins)."""
    ratio = reference["ratio"]
    if ratio is None or ratio <= 0:
        return None
    return float(ratio) if row["better"] == "higher" else 1 / float(ratio)


def fmt(value: float | None, unit: str) -> str:
    """``value`` in ``unit`` for a table cell, ``-`` when absent."""
    if value is None:
        return "-"
    return UNIT_FORMATS.get(unit, "{:,.3g}").format(value) + f" {unit}"


def _cells(rows: Iterable[Row]) -> list[list[str]]:
    """Table cells: section, measurement, trio_webkit, reference, its value, ratio."""
    cells = []
    for row in rows:
        what = row["measurement"] + (" (lower is better)" if row["better"] == "lower" else "")
        ours = fmt(row["trio_webkit"], row["unit"])
        for i, ref in enumerate(row["references"]):
            name = ref["name"] + (" (ceiling)" if ref["ceiling"] else "")
            ratio = f"{ref['ratio']:.2f}x" if ref["ratio"] is not None else "n/a"
            first = [row["section"], what, ours] if i == 0 else ["", "", ""]
            cells.append([*first, name, fmt(ref["value"], row["unit"]), ratio])
    return cells


HEADER = ["section", "measurement (median)", "trio_webkit", "vs", "its median", "ratio"]


def text_table(rows: Iterable[Row]) -> str:
    """The rows as an aligned plain-text table (ratio = trio_webkit / reference)."""
    cells = [HEADER, *_cells(rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADER))]
    right = {2, 4, 5}
    lines = [
        "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ).rstrip()
        for line in cells
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def markdown_table(rows: Iterable[Row]) -> str:
    """The rows as a Markdown (GitHub) table."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(line) + " |" for line in _cells(rows)]
    return "\n".join(lines)


def rst_table(rows: Iterable[Row]) -> str:
    """The rows as a reStructuredText ``list-table``."""
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for line in [HEADER, *_cells(rows)]:
        lines.append(f"   * - {line[0] or ' '}")
        lines += [f"     - {cell or ' '}" for cell in line[1:]]
    return "\n".join(lines)
