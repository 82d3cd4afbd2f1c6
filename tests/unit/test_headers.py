"""Headers: ordered, case-insensitive, multi-valued, and safe to write to the wire.

Rules held here:

* Built from a mapping, a list of pairs, bytes pairs (read as Latin-1) or
  another ``Headers``; lookups ignore the case of the name.
* ``get`` gives the first value, ``get_all`` every value in order; ``items()``
  keeps every field in order with the name as given; iterating yields the
  distinct names, lower-cased, like a dict's keys.
* Names must be RFC 9110 tokens and values must not contain CR, LF or NUL,
  so no header value can ever inject a second header line.
"""

from __future__ import annotations

import pytest

from trio_webkit import Headers

PAIRS = [("Host", "example.com"), ("Set-Cookie", "a=1"), ("set-cookie", "b=2")]


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(PAIRS, id="str-pairs"),
        pytest.param([(name.encode(), value.encode()) for name, value in PAIRS], id="bytes-pairs"),
        pytest.param(Headers(PAIRS), id="headers"),
        pytest.param(tuple(PAIRS), id="tuple"),
    ],
)
def test_built_from_pairs_keeps_every_field_in_order(source: object) -> None:
    headers = Headers(source)  # type: ignore[arg-type]
    assert headers.items() == PAIRS
    assert headers.get_all("SET-COOKIE") == ["a=1", "b=2"]


@pytest.mark.parametrize(
    "source",
    [
        pytest.param({"Content-Type": "text/plain", "X-Id": "7"}, id="str-dict"),
        pytest.param({b"Content-Type": b"text/plain", b"X-Id": b"7"}, id="bytes-dict"),
    ],
)
def test_built_from_a_mapping(source: object) -> None:
    headers = Headers(source)  # type: ignore[arg-type]
    assert headers.items() == [("Content-Type", "text/plain"), ("X-Id", "7")]


def test_empty_by_default() -> None:
    for headers in (Headers(), Headers(None), Headers([]), Headers({})):
        assert headers.items() == []
        assert len(headers) == 0
        assert list(headers) == []


def test_bytes_are_read_as_latin1() -> None:
    headers = Headers([(b"X-Name", b"caf\xe9")])
    assert headers["x-name"] == "café"
    assert headers.raw() == [(b"X-Name", b"caf\xe9")]


@pytest.mark.parametrize("name", ["content-type", "Content-Type", "CONTENT-TYPE", "cOnTeNt-TyPe"])
def test_lookup_ignores_case(name: str) -> None:
    headers = Headers([("Content-Type", "text/html")])
    assert headers.get(name) == "text/html"
    assert headers[name] == "text/html"
    assert name in headers


def test_get_returns_the_first_value_or_the_default() -> None:
    headers = Headers(PAIRS)
    assert headers.get("set-cookie") == "a=1"
    assert headers.get("missing") is None
    assert headers.get("missing", "fallback") == "fallback"


def test_missing_name_raises_key_error() -> None:
    headers = Headers(PAIRS)
    with pytest.raises(KeyError):
        headers["missing"]
    assert "missing" not in headers


def test_empty_value_is_present() -> None:
    headers = Headers([("X-Empty", "")])
    assert "x-empty" in headers
    assert headers["X-Empty"] == ""
    assert headers.get("x-empty", "default") == ""


def test_get_all_keeps_order_and_is_empty_when_absent() -> None:
    headers = Headers([("Via", "1"), ("Host", "h"), ("VIA", "2"), ("via", "3")])
    assert headers.get_all("via") == ["1", "2", "3"]
    assert headers.get_all("absent") == []


def test_items_keep_order_and_original_case() -> None:
    pairs = [("X-B", "1"), ("x-a", "2"), ("X-b", "3"), ("HOST", "h")]
    assert Headers(pairs).items() == pairs


def test_iteration_yields_distinct_lower_cased_names_in_first_seen_order() -> None:
    headers = Headers([("X-B", "1"), ("x-a", "2"), ("X-b", "3"), ("HOST", "h")])
    assert list(headers) == ["x-b", "x-a", "host"]
    assert headers.keys() == ["x-b", "x-a", "host"]
    assert len(headers) == 3


def test_values_are_stripped_of_surrounding_whitespace() -> None:
    assert Headers([("X-A", " \tvalue \t")])["x-a"] == "value"


def test_add_appends_without_replacing() -> None:
    headers = Headers([("Set-Cookie", "a=1")])
    headers.add("set-cookie", "b=2")
    assert headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert headers.items() == [("Set-Cookie", "a=1"), ("set-cookie", "b=2")]


def test_setitem_replaces_every_field_of_the_name() -> None:
    headers = Headers([("Via", "1"), ("Host", "h"), ("VIA", "2")])
    headers["via"] = "3"
    assert headers.get_all("Via") == ["3"]
    assert headers["host"] == "h"
    assert len(headers.items()) == 2


def test_setitem_adds_a_new_name() -> None:
    headers = Headers()
    headers["X-New"] = "yes"
    assert headers.items() == [("X-New", "yes")]


def test_delitem_removes_every_field_of_the_name() -> None:
    headers = Headers([("Via", "1"), ("Host", "h"), ("VIA", "2")])
    del headers["via"]
    assert headers.items() == [("Host", "h")]
    with pytest.raises(KeyError):
        del headers["via"]


def test_setdefault() -> None:
    headers = Headers([("Content-Type", "text/html")])
    assert headers.setdefault("content-type", "text/plain") == "text/html"
    assert headers.get_all("Content-Type") == ["text/html"]
    assert headers.setdefault("X-New", "1") == "1"
    assert headers["x-new"] == "1"


def test_copy_is_independent() -> None:
    original = Headers([("A", "1")])
    copy = original.copy()
    copy.add("B", "2")
    copy["A"] = "changed"
    assert original.items() == [("A", "1")]
    assert copy.items() == [("B", "2"), ("A", "changed")]
    original.add("C", "3")
    assert "c" not in copy


def test_building_from_headers_copies() -> None:
    original = Headers([("A", "1")])
    other = Headers(original)
    other.add("B", "2")
    assert original.items() == [("A", "1")]


@pytest.mark.parametrize(
    "other",
    [
        pytest.param([("Host", "h"), ("Via", "1")], id="list-same-case"),
        pytest.param([("HOST", "h"), ("via", "1")], id="list-other-case"),
        pytest.param({"host": "h", "VIA": "1"}, id="dict"),
        pytest.param(Headers([("host", "h"), ("Via", "1")]), id="headers"),
    ],
)
def test_equal_to_the_same_fields_whatever_the_name_case(other: object) -> None:
    assert Headers([("Host", "h"), ("Via", "1")]) == other


@pytest.mark.parametrize(
    "other",
    [
        pytest.param([("Via", "1"), ("Host", "h")], id="other-order"),
        pytest.param([("Host", "H"), ("Via", "1")], id="value-case-matters"),
        pytest.param([("Host", "h")], id="fewer"),
        pytest.param("Host: h", id="a-string"),
        pytest.param(42, id="an-int"),
        pytest.param(None, id="none"),
    ],
)
def test_not_equal(other: object) -> None:
    assert Headers([("Host", "h"), ("Via", "1")]) != other


def test_unhashable() -> None:
    with pytest.raises(TypeError):
        hash(Headers())


@pytest.mark.parametrize(
    "value",
    [
        "a\r\nSet-Cookie: evil=1",
        "a\nSet-Cookie: evil=1",
        "a\rb",
        "a\x00b",
        "\r\n",
        "trailing\n",
    ],
)
def test_values_that_could_inject_a_header_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        Headers([("X-A", value)])
    with pytest.raises(ValueError):
        Headers({"X-A": value})
    with pytest.raises(ValueError):
        Headers([(b"X-A", value.encode("latin-1"))])
    headers = Headers([("X-A", "safe")])
    with pytest.raises(ValueError):
        headers.add("X-B", value)
    with pytest.raises(ValueError):
        headers["X-A"] = value
    with pytest.raises(ValueError):
        headers.setdefault("X-C", value)
    # A refused write leaves the headers as they were.
    assert headers.items() == [("X-A", "safe")]


@pytest.mark.parametrize(
    "name",
    ["", "Bad Name", "X:Y", "X-A\r\nEvil", "X-A\n", "X\x00", "(paren)", "é", "X-A "],
)
def test_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        Headers([(name, "v")])
    headers = Headers()
    with pytest.raises(ValueError):
        headers.add(name, "v")
    with pytest.raises(ValueError):
        headers[name] = "v"
    assert headers.items() == []


def test_all_token_characters_are_valid_in_names() -> None:
    name = "!#$%&'*+-.^_`|~0123456789abcXYZ"
    assert Headers([(name, "v")])[name] == "v"


def test_raw_gives_latin1_bytes_in_order() -> None:
    headers = Headers([("Host", "h"), ("X-Name", "café"), ("host", "h2")])
    assert headers.raw() == [(b"Host", b"h"), (b"X-Name", b"caf\xe9"), (b"host", b"h2")]


def test_repr_shows_the_fields() -> None:
    assert "X-A" in repr(Headers([("X-A", "1")]))
