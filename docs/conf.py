"""Sphinx configuration for the trio_webkit docs.

Build (CI does, with warnings as errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

No extension here touches the network: intersphinx is off on purpose, so the
build works on a machine that reaches nothing but its package index.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import attrs

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))  # the library, even when not installed

import trio_webkit  # noqa: E402
import trio_webkit._client  # noqa: E402  (type aliases for signatures)

project = "trio_webkit"
author = "the trio_webkit authors"
copyright = "the trio_webkit authors"
release = trio_webkit.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "cli_help",  # docs/_ext/cli_help.py: the CLI reference, rendered from argparse
    "reference_tables",  # docs/_ext/reference_tables.py: error tree, ServerConfig table
    "benchmark_results",  # docs/_ext/benchmark_results.py: tables from benchmarks/results/
]

root_doc = "index"
exclude_patterns = ["_build"]
templates_path: list[str] = []

# -- autodoc and napoleon ---------------------------------------------------
# The reference is generated from the docstrings, which are Google style.
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_class_signature = "mixed"
autodoc_preserve_defaults = True
autodoc_default_options = {"members": True, "undoc-members": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True
napoleon_use_rtype = False

# Cross-references to objects Sphinx cannot see (trio, the standard library:
# intersphinx is off) would each be a warning when nitpicky; they are left as
# plain text instead, so nitpicky stays off.
nitpicky = False

# -- HTML -------------------------------------------------------------------
try:
    import furo  # noqa: F401
except ImportError:  # pragma: no cover - furo is in the docs and test extras
    html_theme = "alabaster"
else:
    html_theme = "furo"
html_title = f"trio_webkit {release}"
html_static_path: list[str] = []
html_show_sourcelink = False


# -- hooks ------------------------------------------------------------------
_ATTRS_DEFAULT = re.compile(r"attr_dict\['(\w+)'\]\.default")


def _attrs_defaults(
    app: Any, what: str, name: str, obj: Any, options: Any, signature: str | None, annotation: Any
) -> tuple[str | None, Any]:
    """Show an attrs class's defaults (``10.0``), not attrs' generated source text."""
    if signature and isinstance(obj, type) and attrs.has(obj):
        fields = attrs.fields_dict(obj)
        signature = _ATTRS_DEFAULT.sub(lambda match: repr(fields[match[1]].default), signature)
    return signature, annotation


#: Short type aliases of the signatures, spelled out (``TimeoutLike`` means
#: nothing to a reader; ``Timeout | float | None`` does). Read from the code.
_ALIASES = {
    name: getattr(trio_webkit._client, name)
    for name in ("TimeoutLike", "RequestBody")
    if isinstance(getattr(trio_webkit._client, name, None), str)
}
_ALIAS_NAMES = re.compile(r"\b(" + "|".join(map(re.escape, _ALIASES)) + r")\b")


def _timeout_text(timeout: trio_webkit.Timeout) -> str:
    """``Timeout(5.0)`` for a timeout whose four phases agree, else its repr."""
    limits = {timeout.connect, timeout.read, timeout.write, timeout.pool}
    return f"Timeout({limits.pop()!r})" if len(limits) == 1 else repr(timeout)


_DEFAULT_TIMEOUT = _timeout_text(trio_webkit._client.DEFAULT_TIMEOUT)


def _readable_signature(
    app: Any, what: str, name: str, obj: Any, options: Any, signature: str | None, annotation: Any
) -> tuple[str | None, Any]:
    """Signatures as a reader needs them: no internal sentinel, no opaque alias.

    ``_UNSET`` is the sentinel for "not given": a :class:`Timeout` phase then
    takes ``default``; a :class:`Client` method's ``timeout`` the client's
    own (``self.timeout``); elsewhere it shows as ``...``. ``DEFAULT_TIMEOUT``
    is shown as its value. A ``Protocol`` shows no constructor signature.
    """
    if isinstance(obj, type) and getattr(obj, "_is_protocol", False):
        return "", annotation
    if signature and "_UNSET" in signature:
        if name.endswith(".Timeout"):
            meaning = "default"
        elif ".Client." in name:
            meaning = "self.timeout"
        else:
            meaning = "..."  # "not given": the docstring says what that means
        signature = signature.replace("_UNSET", meaning)
    if signature and _ALIASES:
        signature = _ALIAS_NAMES.sub(lambda match: _ALIASES[match[1]], signature)
    if signature:
        signature = re.sub(r"\bDEFAULT_TIMEOUT\b", _DEFAULT_TIMEOUT, signature)
    return signature, annotation


def _process_signature(
    app: Any, what: str, name: str, obj: Any, options: Any, signature: str | None, annotation: Any
) -> tuple[str | None, Any]:
    # One handler: Sphinx uses only the first handler's answer for this event.
    signature, annotation = _attrs_defaults(app, what, name, obj, options, signature, annotation)
    return _readable_signature(app, what, name, obj, options, signature, annotation)


def setup(app: Any) -> None:
    app.connect("autodoc-process-signature", _process_signature)
