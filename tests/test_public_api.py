"""The public surface: DESIGN.md §2's names, ``__all__``, docstrings, ``__module__``.

``apps.FileServer`` is not built yet.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import trio_webkit
import trio_webkit.apps

# DESIGN.md §2, "Shared" and "Server".
BRIEF_NAMES = [
    "Headers",
    "Timeout",
    "HTTPError",
    "ConnectError",
    "ConnectTimeout",
    "ReadTimeout",
    "WriteTimeout",
    "PoolTimeout",
    "ProtocolError",
    "IncompleteBody",
    "TooManyRedirects",
    "InvalidURL",
    "UnsupportedScheme",
    "HTTPStatusError",
    "Request",
    "Response",
    "Server",
    "ServerConfig",
    "Router",
    "serve",
    # "Client"
    "Client",
    "get",
    "fetch",
    "open_url",
    "download",
]

# Classes whose public methods users call and read about.
DOCUMENTED_CLASSES = ["Server", "Router", "Headers", "Response", "Request", "Client", "Timeout"]


def _is_class_or_function(obj: object) -> bool:
    return inspect.isclass(obj) or inspect.isfunction(obj)


@pytest.mark.parametrize("name", BRIEF_NAMES)
def test_brief_name_importable(name: str) -> None:
    assert hasattr(trio_webkit, name)
    namespace: dict[str, Any] = {}
    exec(f"from trio_webkit import {name}", namespace)
    assert namespace[name] is getattr(trio_webkit, name)


@pytest.mark.parametrize("name", BRIEF_NAMES)
def test_brief_name_in_all(name: str) -> None:
    assert name in trio_webkit.__all__


def test_echo_importable() -> None:
    from trio_webkit.apps import echo

    assert echo is trio_webkit.apps.echo
    assert inspect.iscoroutinefunction(echo)
    assert "echo" in trio_webkit.apps.__all__


@pytest.mark.parametrize("module", [trio_webkit, trio_webkit.apps], ids=lambda m: m.__name__)
def test_all_is_sorted_and_unique(module: Any) -> None:
    assert list(module.__all__) == sorted(module.__all__)
    assert len(set(module.__all__)) == len(module.__all__)


@pytest.mark.parametrize("module", [trio_webkit, trio_webkit.apps], ids=lambda m: m.__name__)
def test_every_all_entry_exists(module: Any) -> None:
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []


def test_star_import_gives_all() -> None:
    namespace: dict[str, Any] = {}
    exec("from trio_webkit import *", namespace)
    assert set(trio_webkit.__all__) <= set(namespace)


def test_version() -> None:
    assert isinstance(trio_webkit.__version__, str)
    assert trio_webkit.__version__


def _public_objects() -> list[tuple[str, object]]:
    names = sorted(set(BRIEF_NAMES) | set(trio_webkit.__all__))
    pairs = [(name, getattr(trio_webkit, name)) for name in names]
    pairs.append(("apps.echo", trio_webkit.apps.echo))
    return [(name, obj) for name, obj in pairs if _is_class_or_function(obj)]


@pytest.mark.parametrize(("name", "obj"), _public_objects(), ids=lambda v: str(v)[:40])
def test_public_name_has_a_docstring(name: str, obj: object) -> None:
    doc = obj.__doc__
    assert doc is not None, name
    assert doc.strip(), name


@pytest.mark.parametrize(
    "name", [n for n in trio_webkit.__all__ if _is_class_or_function(getattr(trio_webkit, n))]
)
def test_public_class_or_function_reports_the_package_module(name: str) -> None:
    assert getattr(trio_webkit, name).__module__ == "trio_webkit"


@pytest.mark.parametrize("name", BRIEF_NAMES)
def test_brief_names_report_the_package_module(name: str) -> None:
    assert getattr(trio_webkit, name).__module__ == "trio_webkit"


def _public_methods() -> list[tuple[str, str, object]]:
    found: list[tuple[str, str, object]] = []
    for class_name in DOCUMENTED_CLASSES:
        cls = getattr(trio_webkit, class_name)
        for attr, value in vars(cls).items():
            if attr.startswith("_"):
                continue
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if inspect.isfunction(value) or isinstance(value, property):
                found.append((class_name, attr, value))
    return found


def test_documented_classes_have_public_methods() -> None:
    names = {(cls, attr) for cls, attr, _ in _public_methods()}
    for expected in [
        ("Server", "serve_tcp"),
        ("Server", "serve_listeners"),
        ("Server", "shutdown"),
        ("Router", "add"),
        ("Router", "route"),
        ("Router", "mount"),
        ("Headers", "get"),
        ("Headers", "get_all"),
        ("Headers", "items"),
        ("Response", "json"),
        ("Response", "raise_for_status"),
        ("Response", "text"),
        ("Request", "read"),
        ("Request", "stream"),
        ("Request", "json"),
        ("Request", "path"),
    ]:
        assert expected in names


@pytest.mark.parametrize(
    ("class_name", "attr", "value"),
    _public_methods(),
    ids=[f"{c}.{a}" for c, a, _ in _public_methods()],
)
def test_public_method_has_a_docstring(class_name: str, attr: str, value: object) -> None:
    doc = value.__doc__
    assert doc is not None and doc.strip(), f"{class_name}.{attr}"
