"""The Sphinx build passes with warnings as errors, and the reference is complete.

The build runs as a subprocess into a temporary directory (never into
``docs/_build``), bounded in time. The reference pages must document every
public name with an autodoc directive, so that a name added to ``__all__``
without a reference entry fails here rather than going unnoticed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import trio_webkit
import trio_webkit.apps
from trio_webkit.cli import build_parser

DOCS = Path(__file__).resolve().parents[2] / "docs"
DEADLINE = 120.0  # about 5 s on a quiet machine


def test_sphinx_build_has_no_warnings(tmp_path: Path) -> None:
    html = tmp_path / "html"
    command = [
        *(sys.executable, "-m", "sphinx"),
        *("-W", "--keep-going", "-q", "-b", "html"),
        *("-d", str(tmp_path / "doctrees")),
        *(str(DOCS), str(html)),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        stdout, stderr = process.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        process.kill()  # by its PID
        process.communicate()
        raise AssertionError(f"the Sphinx build took longer than {DEADLINE}s") from None
    assert process.returncode == 0, f"Sphinx failed:\n{stderr}\n{stdout}"
    assert stderr == "", stderr

    # The CLI page is rendered from the real parser: every command is there.
    cli_page = (html / "reference" / "cli.html").read_text(encoding="utf-8")
    for name in _commands():
        assert f"usage: trio-webkit {name}" in cli_page, name


def _commands() -> list[str]:
    parser = build_parser()
    for action in parser._actions:
        choices = getattr(action, "choices", None)
        if isinstance(choices, dict):
            return list(choices)
    raise AssertionError("no subcommands")


def _documented() -> set[str]:
    """Every object named by an autodoc directive in the reference pages."""
    pattern = re.compile(r"^\.\. auto\w+:: (?P<name>[\w.]+)", re.MULTILINE)
    names: set[str] = set()
    for page in (DOCS / "reference").glob("*.rst"):
        text = page.read_text(encoding="utf-8")
        module = re.search(r"^\.\. currentmodule:: (?P<module>[\w.]+)", text, re.MULTILINE)
        for match in pattern.finditer(text):
            name = match["name"]
            if module and not name.startswith("trio_webkit"):
                name = f"{module['module']}.{name}"
            names.add(name)
    return names


def test_reference_documents_every_public_name() -> None:
    documented = _documented()
    public = {f"trio_webkit.{name}" for name in trio_webkit.__all__ if name != "__version__"}
    public |= {f"trio_webkit.apps.{name}" for name in trio_webkit.apps.__all__}
    assert sorted(public - documented) == []
