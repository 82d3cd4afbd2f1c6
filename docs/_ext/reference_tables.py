"""Reference tables generated from the code, so they cannot drift from it.

``.. error-tree::``
    The :class:`trio_webkit.HTTPError` hierarchy, walked from the classes
    themselves, each with the first line of its docstring and the built-in
    exceptions it also is.

``.. server-config-table::``
    One row per :class:`trio_webkit.ServerConfig` field: its name, its
    default (from attrs) and its description (from the class docstring's
    ``Attributes:`` section).

``:config-default:`field```
    The default of one :class:`trio_webkit.ServerConfig` field, as a
    literal (``:config-default:`header_timeout``` renders ``10.0``), so that
    prose quoting a default cannot drift from the code. An unknown field
    is a build error.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import attrs
from docutils import nodes
from docutils.parsers.rst.states import Inliner
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


def _first_line(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def error_tree_lines() -> list[str]:
    """The error hierarchy as indented text lines (box-drawing branches)."""
    import trio_webkit

    public = {getattr(trio_webkit, name) for name in trio_webkit.__all__}

    def children(cls: type) -> list[type]:
        subclasses: list[type] = cls.__subclasses__()
        return [sub for sub in subclasses if sub in public]

    def extra_bases(cls: type) -> str:
        """Built-in exceptions the class adds as direct bases (``TimeoutError``...)."""
        own = [base.__name__ for base in cls.__bases__ if base.__module__ == "builtins"]
        own = [name for name in own if name not in ("Exception", "BaseException")]
        return f"  (also {', '.join(own)})" if own else ""

    lines = ["HTTPError"]

    def walk(cls: type, prefix: str) -> None:
        subs = children(cls)
        for index, sub in enumerate(subs):
            last = index == len(subs) - 1
            lines.append(f"{prefix}{'└── ' if last else '├── '}{sub.__name__}{extra_bases(sub)}")
            walk(sub, prefix + ("    " if last else "│   "))

    walk(trio_webkit.HTTPError, "")
    return lines


class ErrorTree(SphinxDirective):
    has_content = False

    def run(self) -> list[nodes.Node]:
        text = "\n".join(error_tree_lines())
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


_ATTRIBUTE = re.compile(r"^    (?P<name>\w+): (?P<text>.*)$")


def attribute_docs(cls: type) -> dict[str, str]:
    """``name -> description`` from a Google-style ``Attributes:`` section."""
    doc = inspect.getdoc(cls) or ""
    found: dict[str, str] = {}
    inside = False
    current: str | None = None
    for line in doc.splitlines():
        if line.strip() == "Attributes:":
            inside, current = True, None
            continue
        if not inside:
            continue
        if line and not line.startswith(" "):
            break  # the section ended
        match = _ATTRIBUTE.match(line)
        if match:
            current = match["name"]
            found[current] = match["text"].strip()
        elif current is not None and line.strip():
            found[current] += " " + line.strip()
    return found


def _default(field: attrs.Attribute[Any]) -> str:
    value = field.default
    if isinstance(value, attrs.Factory):  # type: ignore[arg-type]
        return "(computed)"
    if value is attrs.NOTHING:
        return "(required)"
    return repr(value)


def config_default(name: str) -> str:
    """The default of ``ServerConfig.<name>`` as the table shows it.

    Raises:
        KeyError: ``ServerConfig`` has no field ``name``.
    """
    import trio_webkit

    fields = attrs.fields_dict(trio_webkit.ServerConfig)
    if name not in fields:
        raise KeyError(f"ServerConfig has no field {name!r} (fields: {', '.join(fields)})")
    return _default(fields[name])


def config_default_role(
    role: str,
    rawtext: str,
    text: str,
    lineno: int,
    inliner: Inliner,
    options: dict[str, Any] | None = None,
    content: list[str] | None = None,
) -> tuple[list[nodes.Node], list[nodes.system_message]]:
    """``:config-default:`header_timeout``` → ``10.0`` (a literal)."""
    try:
        value = config_default(text.strip())
    except KeyError as error:
        message = inliner.reporter.error(str(error.args[0]), line=lineno)
        problem = inliner.problematic(rawtext, rawtext, message)
        return [problem], [message]
    return [nodes.literal(rawtext, value)], []


class ServerConfigTable(SphinxDirective):
    has_content = False

    def run(self) -> list[nodes.Node]:
        import trio_webkit

        cls = trio_webkit.ServerConfig
        described = attribute_docs(cls)
        rows = []
        for field in attrs.fields(cls):
            if field.name not in described:
                raise self.error(f"ServerConfig.{field.name} is not described in its docstring")
            rows.append((field.name, _default(field), described[field.name]))
        return [self._table(("setting", "default", "meaning"), rows)]

    def _table(self, header: tuple[str, ...], rows: list[tuple[str, str, str]]) -> nodes.table:
        table = nodes.table(classes=["server-config"])
        group = nodes.tgroup(cols=len(header))
        table += group
        for width in (22, 18, 60):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        head += self._row(header, literal=False)
        body = nodes.tbody()
        group += body
        for row in rows:
            body += self._row(row, literal=True)
        return table

    def _row(self, cells: tuple[str, ...], *, literal: bool) -> nodes.row:
        row = nodes.row()
        for index, text in enumerate(cells):
            entry = nodes.entry()
            paragraph = nodes.paragraph()
            if literal and index < 2:
                paragraph += nodes.literal(text, text)
            else:
                # The description is reST (``literals``, :class: roles): parse it.
                parsed, _messages = self.parse_inline(text, lineno=self.lineno)
                paragraph += parsed
            entry += paragraph
            row += entry
        return row


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("error-tree", ErrorTree)
    app.add_directive("server-config-table", ServerConfigTable)
    app.add_role("config-default", config_default_role)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
