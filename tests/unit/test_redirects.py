"""Redirect policy (RFC 9110 §15.4): which responses redirect and what is sent next.

Rules held here:

* 301, 302, 303, 307 and 308 with a non-empty Location are redirects.
* 303 makes every method but HEAD a GET; 301 and 302 make POST a GET; every
  other case keeps the method. The body is sent again only after 307 and 308;
  when it is dropped, so are the headers that describe it.
* Location is resolved against the request URL; a bad one raises InvalidURL
  (UnsupportedScheme for a scheme other than http/https) naming it.
* Host is always removed; Authorization, Proxy-Authorization and Cookie are
  removed when the origin changes (host, port, or scheme, downgrade included);
  every other header is kept, and the caller's headers are never changed.
* The same (method, URL) twice in one chain is a loop.
"""

from __future__ import annotations

import attrs
import pytest

from trio_webkit._errors import InvalidURL, UnsupportedScheme
from trio_webkit._headers import Headers
from trio_webkit._redirects import (
    REDIRECT_STATUSES,
    Redirect,
    check_loop,
    is_redirect,
    next_request,
)
from trio_webkit._urls import URL, parse_url

URL_A = parse_url("https://example.com/a/b")
BODY_HEADERS = ["Content-Length", "Transfer-Encoding", "Content-Type", "Content-Encoding", "Expect"]
CREDENTIALS = ["Authorization", "Proxy-Authorization", "Cookie"]


def _request_headers() -> Headers:
    return Headers(
        [
            ("Host", "example.com"),
            ("User-Agent", "trio-webkit"),
            ("Accept", "text/html"),
            ("X-Trace", "1"),
            ("X-Trace", "2"),
            ("Authorization", "Bearer t"),
            ("Proxy-Authorization", "Basic p"),
            ("Cookie", "session=s"),
            ("Content-Length", "3"),
            ("Content-Type", "text/plain"),
            ("Content-Encoding", "gzip"),
            ("Transfer-Encoding", "chunked"),
            ("Expect", "100-continue"),
        ]
    )


# -- is_redirect ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        *[
            pytest.param(status, {"Location": "/x"}, True, id=f"{status}")
            for status in (301, 302, 303, 307, 308)
        ],
        *[
            pytest.param(status, {"Location": "/x"}, False, id=f"{status}-not-followed")
            for status in (200, 201, 300, 304, 305, 306, 400)
        ],
        pytest.param(302, {}, False, id="no-location"),
        pytest.param(302, {"Location": ""}, False, id="empty-location"),
        pytest.param(302, {"location": "/x"}, True, id="lower-case-name"),
    ],
)
def test_is_redirect(status: int, headers: dict[str, str], expected: bool) -> None:
    assert is_redirect(status, Headers(headers)) is expected


def test_redirect_statuses() -> None:
    assert frozenset({301, 302, 303, 307, 308}) == REDIRECT_STATUSES


# -- method and body -----------------------------------------------------------
# (status, method) -> (next method, body sent again)
METHOD_TABLE = {
    **{(301, m): (m, False) for m in ("GET", "HEAD", "PUT", "DELETE")},
    (301, "POST"): ("GET", False),
    **{(302, m): (m, False) for m in ("GET", "HEAD", "PUT", "DELETE")},
    (302, "POST"): ("GET", False),
    **{(303, m): ("GET", False) for m in ("GET", "POST", "PUT", "DELETE")},
    (303, "HEAD"): ("HEAD", False),
    **{(307, m): (m, True) for m in ("GET", "HEAD", "POST", "PUT", "DELETE")},
    **{(308, m): (m, True) for m in ("GET", "HEAD", "POST", "PUT", "DELETE")},
}


def test_method_table_covers_every_status_and_method() -> None:
    assert len(METHOD_TABLE) == 5 * 5


@pytest.mark.parametrize(
    ("status", "method", "new_method", "keep_body"),
    [
        pytest.param(status, method, new_method, keep, id=f"{status}-{method}")
        for (status, method), (new_method, keep) in sorted(METHOD_TABLE.items())
    ],
)
def test_method_and_body(status: int, method: str, new_method: str, keep_body: bool) -> None:
    redirect = next_request(method, URL_A, _request_headers(), status, "/next")
    assert redirect.method == new_method
    assert redirect.keep_body is keep_body
    for name in BODY_HEADERS:
        assert (name in redirect.headers) is keep_body, name


def test_unknown_methods_are_kept_by_301_and_302() -> None:
    for status in (301, 302):
        assert next_request("PATCH", URL_A, Headers(), status, "/x").method == "PATCH"
    assert next_request("PATCH", URL_A, Headers(), 303, "/x").method == "GET"


def test_not_a_redirect_status() -> None:
    with pytest.raises(ValueError, match="200 is not a redirect status"):
        next_request("GET", URL_A, Headers(), 200, "/x")


# -- where it goes ------------------------------------------------------------
@pytest.mark.parametrize(
    ("location", "expected"),
    [
        pytest.param("https://other.org/p?q=1", "https://other.org/p?q=1", id="absolute"),
        pytest.param("//other.org/p", "https://other.org/p", id="scheme-relative"),
        pytest.param("/root", "https://example.com/root", id="absolute-path"),
        pytest.param("c", "https://example.com/a/c", id="relative"),
        pytest.param("../up", "https://example.com/up", id="parent"),
        pytest.param("?page=2", "https://example.com/a/b?page=2", id="query-only"),
        pytest.param("/x#frag", "https://example.com/x", id="fragment-dropped"),
        pytest.param("/a b", "https://example.com/a%20b", id="space-encoded"),
        pytest.param("/caf\xc3\xa9", "https://example.com/caf%C3%A9", id="utf8-bytes"),
        pytest.param("/caf\xe9", "https://example.com/caf%E9", id="latin1-bytes"),
        pytest.param("/日本", "https://example.com/%E6%97%A5%E6%9C%AC", id="text"),
        pytest.param(
            "http://b\xc3\xbccher.example/", "http://xn--bcher-kva.example/", id="utf8-host"
        ),
    ],
)
def test_location_is_resolved_against_the_request_url(location: str, expected: str) -> None:
    assert str(next_request("GET", URL_A, Headers(), 302, location).url) == expected


@pytest.mark.parametrize(
    ("location", "error", "message"),
    [
        pytest.param("http://bad host/", InvalidURL, "invalid host", id="bad-host"),
        pytest.param("http://h:70000/", InvalidURL, "out of range", id="bad-port"),
        pytest.param("/x\r\nSet-Cookie: a=b", InvalidURL, "control character", id="crlf"),
        pytest.param("http://user:pw@h/", InvalidURL, "credentials", id="credentials"),
        pytest.param("ftp://example.com/f", UnsupportedScheme, "'ftp'", id="ftp"),
        pytest.param("file:///etc/passwd", UnsupportedScheme, "'file'", id="file"),
        pytest.param("javascript:alert(1)", UnsupportedScheme, "'javascript'", id="javascript"),
    ],
)
def test_bad_locations_are_refused(location: str, error: type[InvalidURL], message: str) -> None:
    with pytest.raises(error, match=message) as caught:
        next_request("POST", URL_A, Headers(), 302, location)
    assert f"invalid redirect Location {location!r}" in caught.value.message
    assert caught.value.method == "POST"
    assert caught.value.url == str(URL_A)
    assert caught.value.phase == "redirect"


# -- headers -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("location", "same_origin"),
    [
        pytest.param("/elsewhere", True, id="same-origin"),
        pytest.param("https://EXAMPLE.com:443/x", True, id="same-origin-spelled-out"),
        pytest.param("https://other.example.com/x", False, id="other-host"),
        pytest.param("https://example.com:8443/x", False, id="other-port"),
        pytest.param("http://example.com/x", False, id="https-to-http"),
        pytest.param("http://example.com:443/x", False, id="downgrade-same-port"),
    ],
)
@pytest.mark.parametrize("status", [302, 307])
def test_credentials_stay_only_on_the_same_origin(
    status: int, location: str, same_origin: bool
) -> None:
    redirect = next_request("GET", URL_A, _request_headers(), status, location)
    for name in CREDENTIALS:
        assert (name in redirect.headers) is same_origin, name


def test_upgrade_to_https_is_another_origin() -> None:
    start = parse_url("http://example.com/")
    redirect = next_request("GET", start, _request_headers(), 301, "https://example.com/")
    assert not any(name in redirect.headers for name in CREDENTIALS)


@pytest.mark.parametrize("location", ["/same", "https://other.org/"])
@pytest.mark.parametrize("status", sorted(REDIRECT_STATUSES))
def test_host_is_removed_and_other_headers_kept(status: int, location: str) -> None:
    redirect = next_request("GET", URL_A, _request_headers(), status, location)
    assert "Host" not in redirect.headers
    assert redirect.headers.items()[:4] == [
        ("User-Agent", "trio-webkit"),
        ("Accept", "text/html"),
        ("X-Trace", "1"),
        ("X-Trace", "2"),
    ]


def test_body_headers_kept_with_the_body() -> None:
    redirect = next_request("PUT", URL_A, _request_headers(), 308, "/x")
    assert redirect.headers.get("Content-Length") == "3"
    assert redirect.headers.get("Transfer-Encoding") == "chunked"
    assert redirect.headers.get("Expect") == "100-continue"


@pytest.mark.parametrize("location", ["/same", "http://other.org/"])
@pytest.mark.parametrize("status", sorted(REDIRECT_STATUSES))
def test_the_callers_headers_are_never_changed(status: int, location: str) -> None:
    headers = _request_headers()
    before = headers.items()
    redirect = next_request("POST", URL_A, headers, status, location)
    assert headers.items() == before
    assert redirect.headers is not headers
    redirect.headers["X-New"] = "1"
    assert "X-New" not in headers


def test_new_headers_even_when_nothing_is_removed() -> None:
    headers = Headers([("Accept", "*/*")])
    redirect = next_request("GET", URL_A, headers, 307, "/x")
    assert redirect.headers == headers
    assert redirect.headers is not headers


def test_redirect_is_a_frozen_value() -> None:
    redirect = next_request("GET", URL_A, Headers(), 302, "/x")
    assert redirect == Redirect("GET", parse_url("https://example.com/x"), Headers(), False)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        redirect.method = "POST"  # type: ignore[misc]


# -- loops ---------------------------------------------------------------------
def test_loop_detection() -> None:
    seen: set[tuple[str, str]] = set()
    a, b = parse_url("http://h/a"), parse_url("http://h/b")
    assert check_loop(seen, "GET", a) is False  # the first request is recorded too
    assert check_loop(seen, "GET", b) is False
    assert check_loop(seen, "HEAD", a) is False  # another method is another request
    assert check_loop(seen, "GET", parse_url("http://H:80/a#x")) is True
    assert seen == {("GET", "http://h/a"), ("GET", "http://h/b"), ("HEAD", "http://h/a")}


def test_post_then_get_to_the_same_url_is_not_a_loop() -> None:
    seen: set[tuple[str, str]] = set()
    form = parse_url("http://h/form")
    assert check_loop(seen, "POST", form) is False
    redirect = next_request("POST", form, Headers(), 303, "/form")
    assert check_loop(seen, redirect.method, redirect.url) is False
    again = next_request(redirect.method, redirect.url, redirect.headers, 302, "/form")
    assert check_loop(seen, again.method, again.url) is True


def test_redirect_url_is_a_url() -> None:
    assert isinstance(next_request("GET", URL_A, Headers(), 302, "/x").url, URL)
