"""Every program in the docs runs and prints exactly what the docs show.

Rules:

* Each ``docs/examples/NAME.py`` is a whole program; its expected output is
  ``docs/examples/NAME.out``, which the page shows with ``literalinclude``.
  The docs cannot drift: the page and this test read the same file.
* An example runs as a subprocess (``python NAME.py``), loopback only, on
  port 0, bounded in time; one still running at the deadline is killed by
  its PID. It must exit 0 and write nothing to stderr (no traceback, no
  warning, no stray log line).
* A program may name the arguments the test runs it with, on a line of its
  own: ``# docs-test-args: --mib 64`` (a smaller size than its default, say).
  The page says so where it shows the output.
* Every example and its output appear in some page, and every ``.out`` has
  its program.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = DOCS / "examples"
PROGRAMS = sorted(EXAMPLES.glob("*.py"))
#: Generous: the slowest example takes about 2.5 s; a loaded CI machine more.
DEADLINE = 30.0
_TEST_ARGS = re.compile(r"^# docs-test-args: (?P<args>.+)$", re.MULTILINE)


def arguments_for(program: Path) -> list[str]:
    """The arguments a program asks to be run with in the tests (none by default)."""
    match = _TEST_ARGS.search(program.read_text(encoding="utf-8"))
    return shlex.split(match["args"]) if match else []


def run_example(program: Path, cwd: Path) -> tuple[int, str, str]:
    """Run ``program``; return exit status, stdout and stderr (killed at the deadline)."""
    env = dict(os.environ, PYTHONPATH=str(DOCS.parent), PYTHONIOENCODING="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(program), *arguments_for(program)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=env,
        text=True,
        encoding="utf-8",
    )
    try:
        stdout, stderr = process.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        process.kill()  # by its PID: only the process this test started
        stdout, stderr = process.communicate()
        pytest.fail(f"{program.name} still running after {DEADLINE}s; stdout so far:\n{stdout}")
    return process.returncode, stdout, stderr


def test_there_are_examples() -> None:
    assert len(PROGRAMS) >= 5, PROGRAMS


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda path: path.stem)
def test_example_prints_what_the_docs_show(program: Path, tmp_path: Path) -> None:
    expected = program.with_suffix(".out").read_text(encoding="utf-8")
    status, stdout, stderr = run_example(program, tmp_path)
    assert status == 0, stderr
    assert stderr == ""
    assert stdout == expected


def _included() -> set[str]:
    """The files under docs/examples/ that some page includes."""
    pattern = re.compile(r"^\s*\.\. literalinclude:: (?P<path>\S+)", re.MULTILINE)
    found: set[str] = set()
    for page in DOCS.rglob("*.rst"):
        if "_build" in page.parts:
            continue
        for match in pattern.finditer(page.read_text(encoding="utf-8")):
            included = (page.parent / match["path"]).resolve()
            if included.parent == EXAMPLES:
                found.add(included.name)
    return found


def test_every_example_and_its_output_is_in_a_page() -> None:
    included = _included()
    for program in PROGRAMS:
        assert program.with_suffix(".out").exists(), f"{program.name} has no .out"
        assert program.name in included, f"no page includes {program.name}"
        assert program.with_suffix(".out").name in included, f"no page shows {program.stem}.out"


def test_every_output_has_its_program() -> None:
    for output in EXAMPLES.glob("*.out"):
        assert output.with_suffix(".py").exists(), f"{output.name} has no program"


def test_the_testing_example_passes_under_pytest(tmp_path: Path) -> None:
    """The how-to says its example is also a pytest module: it is."""
    program = EXAMPLES / "testing_handlers.py"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(program)]
    process = subprocess.run(
        command,
        cwd=DOCS.parent,  # this project's pytest configuration: trio_mode = true
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    assert "4 passed" in process.stdout
