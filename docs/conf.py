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


def setup(app: Any) -> None:
    app.connect("autodoc-process-signature", _attrs_defaults)
