"""``.. cli-help:: [COMMAND]``: the ``--help`` text of ``trio-webkit [COMMAND]``.

The CLI reference is rendered at build time from the real parser
(:func:`trio_webkit.cli.build_parser`), never copied by hand, so it cannot
drift from what ``trio-webkit COMMAND --help`` prints. The width is fixed
(``COLUMNS=80``) so the page does not depend on the terminal of whoever
builds it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

WIDTH = "80"


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subparsers of ``parser`` by name, in the order ``--help`` lists them."""
    for action in parser._actions:  # argparse has no public accessor for these
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def help_text(command: str | None) -> str:
    """What ``trio-webkit [command] --help`` prints, at a fixed width."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH  # argparse sizes its output from the terminal
    try:
        from trio_webkit.cli import build_parser

        parser = build_parser()
        if command is not None:
            commands = _subcommands(parser)
            if command not in commands:
                known = ", ".join(commands)
                raise ValueError(f"no command {command!r} (known: {known})")
            parser = commands[command]
        return parser.format_help().rstrip()
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


def command_names() -> list[str]:
    """Every subcommand of ``trio-webkit``, in ``--help`` order."""
    from trio_webkit.cli import build_parser

    return list(_subcommands(build_parser()))


class CLIHelp(SphinxDirective):
    """Render ``--help`` of the top-level parser or of one command."""

    optional_arguments = 1
    has_content = False
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {"all": directives.flag}

    def run(self) -> list[nodes.Node]:
        if "all" in self.options:
            return self._all()
        command = self.arguments[0] if self.arguments else None
        try:
            text = help_text(command)
        except ValueError as error:
            raise self.error(str(error)) from None
        return [_literal(text)]

    def _all(self) -> list[nodes.Node]:
        """One section per command, each with its ``--help``."""
        result: list[nodes.Node] = []
        for name in command_names():
            section_id = nodes.make_id(f"cli-{name}")
            section = nodes.section(ids=[section_id])
            section += nodes.title(text=f"trio-webkit {name}")
            section += _literal(help_text(name))
            result.append(section)
        return result


def _literal(text: str) -> nodes.literal_block:
    block = nodes.literal_block(text, text)
    block["language"] = "text"
    return block


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("cli-help", CLIHelp)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
