"""Validators, preconditions and ranges (``trio_webkit.apps._conditional``), table-driven.

RFC 9110: If-None-Match uses the weak comparison and, when present, makes
If-Modified-Since ignored (§13.1.2, §13.2.2); If-Modified-Since compares whole
seconds and ignores invalid dates (§13.1.3); If-Range needs a strong match or
the exact Last-Modified date (§13.1.5); one ``bytes`` range is honoured,
several are ignored (whole file), unsatisfiable ones give 416 (§14.2).
"""

from __future__ import annotations

import re

import pytest

from trio_webkit import Headers
from trio_webkit._httpdate import format_http_date
from trio_webkit.apps._conditional import (
    RangeNotSatisfiable,
    if_range_allows,
    make_etag,
    not_modified,
    parse_range,
)

MTIME = 1_700_000_000.75  # 2023-11-14 22:13:20.75 UTC
SECOND = 1_700_000_000
LAST_MODIFIED = format_http_date(SECOND)
BEFORE = format_http_date(SECOND - 1)
AFTER = format_http_date(SECOND + 3600)
ETAG = make_etag(1234, 1_700_000_000_750_000_000)
OPAQUE = ETAG.strip('"')
OTHER = '"4d2-0"'
UNSATISFIABLE = RangeNotSatisfiable()


# -- make_etag -----------------------------------------------------------------


def test_etag_format() -> None:
    assert make_etag(1234, 0x1234ABCD) == '"4d2-1234abcd"'
    assert make_etag(1234, 1_700_000_000_750_000_000) == '"4d2-17979cfe62de1780"'
    assert make_etag(0, 0) == '"0-0"'
    assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', ETAG)


def test_etag_changes_with_size_and_mtime() -> None:
    tags = {make_etag(size, mtime) for size in (0, 1, 2) for mtime in (0, 1, 10**18)}
    assert len(tags) == 9


# -- not_modified ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param([], False, id="no-conditions"),
        # If-None-Match
        pytest.param([("If-None-Match", ETAG)], True, id="inm-exact"),
        pytest.param([("If-None-Match", OTHER)], False, id="inm-mismatch"),
        pytest.param([("If-None-Match", f"{OTHER}, {ETAG}")], True, id="inm-list"),
        pytest.param([("If-None-Match", f'{OTHER},{ETAG},"zz"')], True, id="inm-list-no-spaces"),
        pytest.param([("If-None-Match", f'{OTHER}, "x,y"')], False, id="inm-list-comma-in-tag"),
        pytest.param([("If-None-Match", OTHER), ("If-None-Match", ETAG)], True, id="inm-2-fields"),
        pytest.param([("If-None-Match", "*")], True, id="inm-star"),
        pytest.param([("If-None-Match", f"W/{ETAG}")], True, id="inm-weak-matches-weakly"),
        pytest.param([("If-None-Match", f"W/{OTHER}, W/{ETAG}")], True, id="inm-weak-list"),
        pytest.param([("If-None-Match", OPAQUE)], False, id="inm-unquoted"),
        pytest.param([("If-None-Match", f'"{OPAQUE.upper()}"')], False, id="inm-case-sensitive"),
        pytest.param([("If-None-Match", "garbage")], False, id="inm-garbage"),
        pytest.param([("if-none-match", ETAG)], True, id="inm-lowercase-name"),
        # If-Modified-Since
        pytest.param([("If-Modified-Since", LAST_MODIFIED)], True, id="ims-equal"),
        pytest.param([("If-Modified-Since", AFTER)], True, id="ims-after"),
        pytest.param([("If-Modified-Since", BEFORE)], False, id="ims-before"),
        pytest.param([("If-Modified-Since", "yesterday")], False, id="ims-invalid"),
        pytest.param([("If-Modified-Since", "")], False, id="ims-empty"),
        pytest.param(
            [("If-Modified-Since", "Tuesday, 14-Nov-23 22:13:20 GMT")], True, id="ims-rfc850"
        ),
        pytest.param([("If-Modified-Since", "Tue Nov 14 22:13:20 2023")], True, id="ims-asctime"),
        pytest.param(
            [("If-Modified-Since", LAST_MODIFIED), ("If-Modified-Since", AFTER)],
            False,
            id="ims-two-fields-ignored",
        ),
        # If-None-Match wins
        pytest.param(
            [("If-None-Match", OTHER), ("If-Modified-Since", AFTER)], False, id="inm-wins-mismatch"
        ),
        pytest.param(
            [("If-None-Match", ETAG), ("If-Modified-Since", BEFORE)], True, id="inm-wins-match"
        ),
    ],
)
def test_not_modified(fields: list[tuple[str, str]], expected: bool) -> None:
    assert not_modified(Headers(fields), ETAG, MTIME) is expected


def test_not_modified_truncates_mtime_to_the_second() -> None:
    headers = Headers([("If-Modified-Since", LAST_MODIFIED)])
    assert not_modified(headers, ETAG, SECOND + 0.999)
    assert not not_modified(headers, ETAG, SECOND + 1.0)


# -- parse_range -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "size", "expected"),
    [
        pytest.param(None, 100, None, id="absent"),
        # the three forms
        pytest.param("bytes=0-9", 100, (0, 9), id="first-last"),
        pytest.param("bytes=10-", 100, (10, 99), id="open-ended"),
        pytest.param("bytes=-10", 100, (90, 99), id="suffix"),
        pytest.param("bytes=0-0", 100, (0, 0), id="one-byte"),
        pytest.param("bytes=99-99", 100, (99, 99), id="last-byte"),
        pytest.param("bytes=0-", 100, (0, 99), id="whole-open"),
        # clamping
        pytest.param("bytes=50-1000", 100, (50, 99), id="clamp-end"),
        pytest.param("bytes=-1000", 100, (0, 99), id="suffix-longer-than-file"),
        pytest.param("bytes=0-" + "9" * 5000, 100, (0, 99), id="clamp-huge-last"),
        pytest.param("bytes=-" + "9" * 5000, 100, (0, 99), id="huge-suffix"),
        pytest.param("bytes=0005-0009", 100, (5, 9), id="leading-zeros"),
        # syntax leniency allowed by the grammar
        pytest.param("Bytes=0-9", 100, (0, 9), id="unit-case-insensitive"),
        pytest.param("bytes=0-9,", 100, (0, 9), id="empty-list-element"),
        pytest.param("bytes= 0-9 ", 100, (0, 9), id="ows-around-element"),
        # unsatisfiable
        pytest.param("bytes=100-", 100, UNSATISFIABLE, id="start-at-size"),
        pytest.param("bytes=100-200", 100, UNSATISFIABLE, id="start-past-size"),
        pytest.param("bytes=" + "9" * 5000 + "-", 100, UNSATISFIABLE, id="huge-start"),
        pytest.param("bytes=-0", 100, UNSATISFIABLE, id="zero-suffix"),
        pytest.param("bytes=0-", 0, UNSATISFIABLE, id="empty-file-open"),
        pytest.param("bytes=0-0", 0, UNSATISFIABLE, id="empty-file-first"),
        pytest.param("bytes=-5", 0, UNSATISFIABLE, id="empty-file-suffix"),
        # several ranges: whole file (documented choice)
        pytest.param("bytes=0-1,5-6", 100, None, id="two-ranges"),
        pytest.param("bytes=0-1, -5", 100, None, id="range-and-suffix"),
        pytest.param("bytes=0-1,0-1", 100, None, id="same-range-twice"),
        pytest.param("bytes=200-300,400-", 100, None, id="several-unsatisfiable"),
        pytest.param("bytes=" + ",".join(["0-0"] * 500), 100, None, id="many-ranges"),
        # invalid: ignored
        pytest.param("bytes=9-0", 100, None, id="last-before-first"),
        pytest.param("bytes=-", 100, None, id="dash-only"),
        pytest.param("bytes=", 100, None, id="empty-set"),
        pytest.param("bytes=,", 100, None, id="only-commas"),
        pytest.param("bytes", 100, None, id="no-equals"),
        pytest.param("bytes=abc", 100, None, id="letters"),
        pytest.param("bytes=1-2-3", 100, None, id="two-dashes"),
        pytest.param("bytes=0 - 9", 100, None, id="spaces-inside"),
        pytest.param("bytes=+1-2", 100, None, id="plus-sign"),
        pytest.param("bytes=-+5", 100, None, id="suffix-plus"),
        pytest.param("bytes=0x10-0x20", 100, None, id="hex"),
        pytest.param("bytes=1.5-2", 100, None, id="decimal"),
        pytest.param("bytes=\u0661-\u0662", 100, None, id="arabic-digits"),
        pytest.param("bytes=\uff10-\uff19", 100, None, id="fullwidth-digits"),
        pytest.param("items=0-9", 100, None, id="other-unit"),
        pytest.param("bytes 0-9", 100, None, id="space-not-equals"),
        pytest.param("=0-9", 100, None, id="no-unit"),
        pytest.param("", 100, None, id="empty-value"),
    ],
)
def test_parse_range(
    value: str | None, size: int, expected: tuple[int, int] | RangeNotSatisfiable | None
) -> None:
    assert parse_range(value, size) == expected


def test_unsatisfiable_is_an_instance() -> None:
    result = parse_range("bytes=500-", 100)
    assert isinstance(result, RangeNotSatisfiable)


# -- if_range_allows ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, True, id="absent"),
        pytest.param(ETAG, True, id="strong-match"),
        pytest.param(OTHER, False, id="strong-mismatch"),
        pytest.param(f"W/{ETAG}", False, id="weak-never-matches"),
        pytest.param(f"{ETAG}, {OTHER}", False, id="list-not-allowed"),
        pytest.param("*", False, id="star"),
        pytest.param(OPAQUE, False, id="unquoted-tag"),
        pytest.param(LAST_MODIFIED, True, id="date-equal"),
        pytest.param(BEFORE, False, id="date-before"),
        pytest.param(AFTER, False, id="date-after"),
        pytest.param("not a date", False, id="garbage"),
        pytest.param("", False, id="empty"),
    ],
)
def test_if_range_allows(value: str | None, expected: bool) -> None:
    headers = Headers([] if value is None else [("If-Range", value)])
    assert if_range_allows(headers, ETAG, MTIME) is expected


def test_if_range_with_a_weak_current_tag_never_matches() -> None:
    weak = f"W/{ETAG}"
    assert not if_range_allows(Headers([("If-Range", weak)]), weak, MTIME)
    assert not if_range_allows(Headers([("If-Range", ETAG)]), weak, MTIME)
