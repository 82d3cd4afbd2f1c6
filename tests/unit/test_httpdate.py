"""HTTP dates (RFC 9110 §5.6.7): we send IMF-fixdate, we accept all three forms."""

from __future__ import annotations

import calendar
import time

import pytest

from trio_webkit._httpdate import DateCache, format_http_date, parse_http_date

# RFC 9110 §5.6.7's own example, in its three forms.
RFC_EXAMPLE = calendar.timegm((1994, 11, 6, 8, 49, 37))


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (RFC_EXAMPLE, "Sun, 06 Nov 1994 08:49:37 GMT"),
        (calendar.timegm((2000, 2, 29, 23, 59, 59)), "Tue, 29 Feb 2000 23:59:59 GMT"),
        (calendar.timegm((2038, 1, 19, 3, 14, 8)), "Tue, 19 Jan 2038 03:14:08 GMT"),
    ],
)
def test_format(timestamp: float, expected: str) -> None:
    assert format_http_date(timestamp) == expected


def test_format_drops_fractions_of_a_second() -> None:
    assert format_http_date(0.999) == "Thu, 01 Jan 1970 00:00:00 GMT"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("Sun, 06 Nov 1994 08:49:37 GMT", id="imf-fixdate"),
        pytest.param("Sunday, 06-Nov-94 08:49:37 GMT", id="rfc850"),
        pytest.param("Sun Nov  6 08:49:37 1994", id="asctime"),
    ],
)
def test_parse_the_three_rfc_forms(value: str) -> None:
    assert parse_http_date(value) == RFC_EXAMPLE


@pytest.mark.parametrize("timestamp", [0, RFC_EXAMPLE, 1_700_000_000, 4_102_444_800])
def test_round_trip(timestamp: int) -> None:
    assert parse_http_date(format_http_date(timestamp)) == timestamp


@pytest.mark.parametrize(
    "junk",
    ["", "yesterday", "not a date at all", "Sun, 06 Nov", "12345", "Sun, 99 Foo 1994 99:99:99 GMT"],
)
def test_junk_gives_none(junk: str) -> None:
    assert parse_http_date(junk) is None


def test_date_cache_formats_now() -> None:
    cache = DateCache()
    before = int(time.time())
    value = cache.current()
    after = int(time.time())
    parsed = parse_http_date(value)
    assert parsed is not None
    assert before <= parsed <= after
    assert value.endswith(" GMT")


def test_date_cache_same_string_within_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_000_000_000.1]
    monkeypatch.setattr(time, "time", lambda: now[0])
    cache = DateCache()
    first = cache.current()
    now[0] = 1_000_000_000.9
    second = cache.current()
    assert second is first
    assert first == format_http_date(1_000_000_000)
    now[0] = 1_000_000_001.0
    assert cache.current() == format_http_date(1_000_000_001)
