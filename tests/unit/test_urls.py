"""URL parsing: what ``parse_url`` accepts, what it puts on the wire, what it refuses.

Rules held here:

* Scheme and host are lower-cased, a non-ASCII host is IDNA-encoded, an IPv6
  literal is stored without brackets and shown with them; the port is
  explicit or the scheme's default.
* The target is the path (``"/"`` when empty) plus the query when a ``?`` was
  given, never the fragment. Only characters never allowed in a request
  target are percent-encoded; ``%XX`` escapes and reserved characters stay.
* ``str(parse_url(s))`` parses back to an equal URL.
* Refused with ``InvalidURL`` (a ``ValueError``, ``.url`` set): no host, bad
  port, control characters, surrounding whitespace, credentials, bad IPv6,
  bad host characters. Refused with ``UnsupportedScheme``: any scheme not
  allowed, and a missing one (with an ``http://`` hint).
* ``file`` and ``data`` are accepted only when asked for, with ``port == 0``.
* ``join_url`` resolves references as RFC 3986 §5 says, then parses the result.
"""

from __future__ import annotations

import pytest

from trio_webkit._errors import InvalidURL, UnsupportedScheme
from trio_webkit._urls import DEFAULT_PORTS, URL, join_url, parse_url

LOCAL_SCHEMES = ("http", "https", "file", "data")


# -- what a URL turns into ---------------------------------------------------
@pytest.mark.parametrize(
    ("url", "scheme", "host", "port", "target"),
    [
        pytest.param("http://example.com/x", "http", "example.com", 80, "/x", id="http-default"),
        pytest.param(
            "https://example.com/x", "https", "example.com", 443, "/x", id="https-default"
        ),
        pytest.param("http://example.com:8080/x", "http", "example.com", 8080, "/x", id="explicit"),
        pytest.param(
            "https://example.com:80/", "https", "example.com", 80, "/", id="http-port-on-https"
        ),
        pytest.param(
            "http://example.com:80/x", "http", "example.com", 80, "/x", id="explicit-default"
        ),
        pytest.param("http://example.com:/x", "http", "example.com", 80, "/x", id="empty-port"),
        pytest.param(
            "http://example.com:0080/", "http", "example.com", 80, "/", id="leading-zeros"
        ),
        pytest.param("http://example.com:65535/", "http", "example.com", 65535, "/", id="max-port"),
        pytest.param("http://[::1]:8080/x", "http", "::1", 8080, "/x", id="ipv6-port"),
        pytest.param("https://[2001:DB8::1]/", "https", "2001:db8::1", 443, "/", id="ipv6-upper"),
        pytest.param("http://127.0.0.1:8000/", "http", "127.0.0.1", 8000, "/", id="ipv4"),
        pytest.param("http://bücher.example/", "http", "xn--bcher-kva.example", 80, "/", id="idna"),
        pytest.param(
            "http://BÜCHER.example/", "http", "xn--bcher-kva.example", 80, "/", id="idna-upper"
        ),
        pytest.param(
            "http://例え。テスト/", "http", "xn--r8jz45g.xn--zckzah", 80, "/", id="idna-dot"
        ),
        pytest.param(
            "http://xn--bcher-kva.example/", "http", "xn--bcher-kva.example", 80, "/", id="puny"
        ),
        pytest.param("HTTP://EXAMPLE.COM/Path", "http", "example.com", 80, "/Path", id="upper"),
        pytest.param("HtTpS://Example.Com/", "https", "example.com", 443, "/", id="mixed-case"),
        pytest.param(
            "http://my_host.local./", "http", "my_host.local.", 80, "/", id="underscore-dot"
        ),
        pytest.param("http://localhost", "http", "localhost", 80, "/", id="empty-path"),
        pytest.param("http://h?q=1", "http", "h", 80, "/?q=1", id="empty-path-query"),
        pytest.param("http://h/p?a=1&b=2", "http", "h", 80, "/p?a=1&b=2", id="query"),
        pytest.param("http://h/p?", "http", "h", 80, "/p?", id="empty-query"),
        pytest.param("http://h/p?a?b/c", "http", "h", 80, "/p?a?b/c", id="query-with-?"),
        pytest.param("http://h/p?q=1#frag", "http", "h", 80, "/p?q=1", id="fragment"),
        pytest.param("http://h/p#a?b", "http", "h", 80, "/p", id="fragment-with-?"),
        pytest.param("http://h#top", "http", "h", 80, "/", id="fragment-only"),
        pytest.param("http://h/a/../b/./c", "http", "h", 80, "/a/../b/./c", id="dot-segments"),
    ],
)
def test_parses_into_what_the_wire_needs(
    url: str, scheme: str, host: str, port: int, target: str
) -> None:
    assert parse_url(url) == URL(scheme, host, port, target)


@pytest.mark.parametrize(
    ("raw", "target"),
    [
        pytest.param("/a b", "/a%20b", id="space-path"),
        pytest.param("/?q=a b", "/?q=a%20b", id="space-query"),
        pytest.param("/café", "/caf%C3%A9", id="unicode-path"),
        pytest.param("/?q=日本", "/?q=%E6%97%A5%E6%9C%AC", id="unicode-query"),
        pytest.param("/a%2Fb?x=1&y=%20", "/a%2Fb?x=1&y=%20", id="escapes-kept"),
        pytest.param("/a%2fb%C3%a9", "/a%2fb%C3%a9", id="escape-case-kept"),
        pytest.param("/100%", "/100%25", id="stray-percent"),
        pytest.param("/%zz%4", "/%25zz%254", id="bad-escapes"),
        pytest.param("/a:b@c!$&'()*+,;=~-._", "/a:b@c!$&'()*+,;=~-._", id="reserved-path"),
        pytest.param("/?a=[1]&b=/?:@", "/?a=[1]&b=/?:@", id="reserved-query"),
        pytest.param('/"', "/%22", id="dquote"),
        pytest.param("/<>", "/%3C%3E", id="angles"),
        pytest.param("/\\", "/%5C", id="backslash"),
        pytest.param("/^`", "/%5E%60", id="caret-backtick"),
        pytest.param("/{|}", "/%7B%7C%7D", id="braces-pipe"),
        pytest.param("/?x={|}", "/?x=%7B%7C%7D", id="in-query"),
    ],
)
def test_percent_encodes_only_what_a_target_cannot_hold(raw: str, target: str) -> None:
    assert parse_url("http://h" + raw).target == target


ROUND_TRIPS = [
    pytest.param("http://example.com:80/x", "http://example.com/x", id="default-port-omitted"),
    pytest.param("https://example.com:443", "https://example.com/", id="https-default"),
    pytest.param("https://example.com:80/", "https://example.com:80/", id="other-default"),
    pytest.param("http://[::1]:8080/x", "http://[::1]:8080/x", id="ipv6"),
    pytest.param("http://[::1]/x", "http://[::1]/x", id="ipv6-default"),
    pytest.param(
        "HTTP://Bücher.Example/a b?c d#e", "http://xn--bcher-kva.example/a%20b?c%20d", id="all"
    ),
    pytest.param("http://h/p?", "http://h/p?", id="empty-query"),
    pytest.param("http://h/%zz", "http://h/%25zz", id="stray-percent"),
]


@pytest.mark.parametrize(("url", "text"), ROUND_TRIPS)
def test_str_is_the_normal_form_and_parses_back(url: str, text: str) -> None:
    parsed = parse_url(url)
    assert str(parsed) == text
    assert parse_url(str(parsed)) == parsed
    assert str(parse_url(str(parsed))) == text


@pytest.mark.parametrize(
    ("url", "host_header", "origin", "path"),
    [
        pytest.param("http://h/p?q", "h", ("http", "h", 80), "/p", id="default"),
        pytest.param("http://h:8080/", "h:8080", ("http", "h", 8080), "/", id="port"),
        pytest.param("https://h:443/a/b", "h", ("https", "h", 443), "/a/b", id="https"),
        pytest.param("https://h:80/", "h:80", ("https", "h", 80), "/", id="not-default"),
        pytest.param("http://[::1]:8080/x", "[::1]:8080", ("http", "::1", 8080), "/x", id="ipv6"),
        pytest.param("http://[::1]/?a?b", "[::1]", ("http", "::1", 80), "/", id="ipv6-default"),
    ],
)
def test_host_header_origin_and_path(
    url: str, host_header: str, origin: tuple[str, str, int], path: str
) -> None:
    parsed = parse_url(url)
    assert parsed.host_header == host_header
    assert parsed.origin == origin
    assert parsed.path == path


def test_default_ports() -> None:
    assert DEFAULT_PORTS == {"http": 80, "https": 443}


def test_a_url_instance_is_returned_as_it_is() -> None:
    url = parse_url("http://example.com/x")
    assert parse_url(url) is url


def test_a_url_instance_must_still_have_an_allowed_scheme() -> None:
    url = parse_url("file:///tmp/x", schemes=LOCAL_SCHEMES)
    with pytest.raises(UnsupportedScheme, match="'file'"):
        parse_url(url)


def test_urls_are_values() -> None:
    assert parse_url("HTTP://H:80/") == parse_url("http://h/")
    assert len({parse_url("http://h/"), parse_url("http://h:80/")}) == 1


def test_only_strings_are_parsed() -> None:
    with pytest.raises(TypeError):
        parse_url(b"http://h/")  # type: ignore[arg-type]


# -- what is refused -----------------------------------------------------------
INVALID = [
    # no host
    pytest.param("", "empty URL", id="empty"),
    pytest.param("http://", "no host", id="nothing-after-slashes"),
    pytest.param("http:///x", "no host", id="empty-host"),
    pytest.param("http://:8080/x", "no host", id="port-only"),
    pytest.param("http:example.com", "expected '//'", id="no-slashes"),
    pytest.param("https:/example.com/", "expected '//'", id="one-slash"),
    # ports
    pytest.param("http://h:8x/", "not a number", id="port-letters"),
    pytest.param("http://h:-1/", "not a number", id="port-negative"),
    pytest.param("http://h: 80/", "not a number", id="port-space"),
    pytest.param("http://h:٨٠/", "not a number", id="port-arabic-digits"),
    pytest.param("http://h:65536/", "out of range", id="port-too-big"),
    pytest.param("http://h:99999999999999999999999/", "out of range", id="port-huge"),
    pytest.param("http://h:0/", "out of range", id="port-zero"),
    # characters that could inject a header line, anywhere
    pytest.param("http://h/a\r\nSet-Cookie: x=1", "control character '\\r'", id="crlf-path"),
    pytest.param("http://h/a\nb", "control character '\\n'", id="lf-path"),
    pytest.param("http://h/?q=\x00", "control character '\\x00'", id="nul-query"),
    pytest.param("http://h\r\n/", "control character", id="crlf-host"),
    pytest.param("http://h/a\tb", "control character '\\t'", id="tab"),
    pytest.param("ht\ttp://h/", "control character", id="tab-in-scheme"),
    pytest.param("http://h/\x7f", "control character", id="del"),
    pytest.param("http://h/\x85", "control character", id="c1-nel"),
    pytest.param("http://h/#\r\n", "control character", id="crlf-fragment"),
    pytest.param("http://h/\ud800", "unpaired surrogate", id="surrogate"),
    pytest.param(" http://h/", "whitespace", id="leading-space"),
    pytest.param("http://h/ ", "whitespace", id="trailing-space"),
    pytest.param("http://h/\u2028", "whitespace", id="trailing-line-separator"),
    # IPv6
    pytest.param("http://[::1/", "no ']'", id="v6-unclosed"),
    pytest.param("http://[::g]/", "invalid IPv6", id="v6-bad-hex"),
    pytest.param("http://[]/", "invalid IPv6", id="v6-empty"),
    pytest.param("http://[1:2:3]/", "invalid IPv6", id="v6-short"),
    pytest.param("http://[127.0.0.1]/", "invalid IPv6", id="v6-is-v4"),
    pytest.param("http://[::1]x/", "after the IPv6", id="v6-junk"),
    pytest.param("http://[::1]:x/", "not a number", id="v6-bad-port"),
    pytest.param("http://::1/", "brackets", id="v6-no-brackets"),
    pytest.param("http://[fe80::1%25eth0]/", "zone", id="v6-zone"),
    # host characters
    pytest.param("http://exa mple.com/", "invalid host", id="space-in-host"),
    pytest.param("http://exa$mple.com/", "invalid host", id="dollar"),
    pytest.param("http://h\\evil.com/", "invalid host", id="backslash"),
    pytest.param("http://%65xample.com/", "invalid host", id="percent"),
    pytest.param("http://a..b/", "invalid host", id="empty-label"),
    pytest.param("http://.a/", "invalid host", id="leading-dot"),
    pytest.param("http://" + "a" * 64 + ".com/", "invalid host", id="label-too-long"),
    pytest.param("http://" + "a." * 130 + "com/", "invalid host", id="name-too-long"),
    pytest.param("http://" + "ü" * 64 + ".com/", "international host", id="idna-too-long"),
    pytest.param("http://256.1.1.1/", "invalid IPv4", id="ipv4-octet"),
    pytest.param("http://1.2.3/", "invalid IPv4", id="ipv4-short"),
    pytest.param("http://example.123/", "invalid IPv4", id="numeric-tld"),
]


@pytest.mark.parametrize(("url", "message"), INVALID)
def test_invalid_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(InvalidURL) as caught:
        parse_url(url)
    error = caught.value
    assert isinstance(error, ValueError)
    assert not isinstance(error, UnsupportedScheme)
    assert message in error.message
    if error.url == url:
        assert str(error) == (f"{url}: {error.message}" if url else error.message)
    else:  # a control character is escaped so that the message stays on one line
        assert error.url is not None
        assert error.url.isprintable()
        assert error.url.encode("ascii", "backslashreplace").decode("unicode_escape") == url


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://user:secret@h/x", id="user-password"),
        pytest.param("http://secret@h/x", id="token"),
        pytest.param("http://user:se@cret@h/x", id="at-in-password"),
        pytest.param("https://user:secret@[::1]:8443/", id="ipv6"),
        pytest.param("http://user:secret@h/\u2028x", id="line-separator"),
    ],
)
def test_credentials_are_refused_without_repeating_them(url: str) -> None:
    with pytest.raises(InvalidURL, match="credentials in URLs are not supported") as caught:
        parse_url(url)
    assert "secret" not in str(caught.value)
    assert caught.value.url is not None
    assert "***@" in caught.value.url
    assert caught.value.url.isprintable()


UNSUPPORTED = [
    pytest.param("ftp://example.com/f", "'ftp'", False, id="ftp"),
    pytest.param("file:///etc/passwd", "'file'", False, id="file"),
    pytest.param("data:,hello", "'data'", False, id="data"),
    pytest.param("mailto:someone@example.com", "'mailto'", False, id="mailto"),
    pytest.param("ws://example.com/", "'ws'", False, id="ws"),
    pytest.param("javascript:alert(1)", "'javascript'", False, id="javascript"),
    pytest.param("example.com/x", "no URL scheme", True, id="no-scheme"),
    pytest.param("//example.com/x", "no URL scheme", True, id="scheme-relative"),
    pytest.param("/just/a/path", "no URL scheme", True, id="path"),
    pytest.param("127.0.0.1:8000/x", "no URL scheme", True, id="ip-port"),
    pytest.param("localhost:8000", "'localhost'", True, id="host-port"),
]


@pytest.mark.parametrize(("url", "named", "hint"), UNSUPPORTED)
def test_unsupported_schemes_are_refused(url: str, named: str, hint: bool) -> None:
    with pytest.raises(UnsupportedScheme) as caught:
        parse_url(url)
    error = caught.value
    assert isinstance(error, InvalidURL)
    assert isinstance(error, ValueError)
    assert error.url == url
    assert named in error.message
    assert "supported: http, https" in error.message
    assert (f"did you mean 'http://{url}'?" in error.message) is hint


# -- extra schemes -------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "expected", "text"),
    [
        pytest.param("file:///tmp/x", URL("file", "", 0, "/tmp/x"), "file:///tmp/x", id="file"),
        pytest.param(
            "FILE:/tmp/x", URL("file", "", 0, "/tmp/x"), "file:///tmp/x", id="file-no-authority"
        ),
        pytest.param(
            "file://LocalHost/a b",
            URL("file", "localhost", 0, "/a%20b"),
            "file://localhost/a%20b",
            id="file-host",
        ),
        pytest.param("file:///C:/x", URL("file", "", 0, "/C:/x"), "file:///C:/x", id="file-drive"),
        pytest.param("file://", URL("file", "", 0, "/"), "file:///", id="file-root"),
        pytest.param(
            "data:text/plain;base64,SGk=",
            URL("data", "", 0, "text/plain;base64,SGk="),
            "data:text/plain;base64,SGk=",
            id="data-base64",
        ),
        pytest.param(
            "data:,hello world",
            URL("data", "", 0, ",hello%20world"),
            "data:,hello%20world",
            id="data-space",
        ),
        pytest.param("DATA:,a?b#c", URL("data", "", 0, ",a?b"), "data:,a?b", id="data-query"),
        pytest.param("http://h/", URL("http", "h", 80, "/"), "http://h/", id="http-still"),
    ],
)
def test_file_and_data_when_allowed(url: str, expected: URL, text: str) -> None:
    parsed = parse_url(url, schemes=LOCAL_SCHEMES)
    assert parsed == expected
    assert str(parsed) == text
    assert parse_url(str(parsed), schemes=LOCAL_SCHEMES) == parsed


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("file://h:8000/x", "cannot have a port", id="file-port"),
        pytest.param("file:tmp/x", "must be absolute", id="file-relative"),
        pytest.param("file://u:p@h/x", "credentials", id="file-credentials"),
        pytest.param("data:text/plain", "no ','", id="data-no-comma"),
        pytest.param("data:,a\r\nb", "control character", id="data-crlf"),
    ],
)
def test_file_and_data_still_validated(url: str, message: str) -> None:
    with pytest.raises(InvalidURL, match=message):
        parse_url(url, schemes=LOCAL_SCHEMES)


def test_allowed_schemes_ignore_case() -> None:
    assert parse_url("http://h/", schemes=["HTTP"]).scheme == "http"
    with pytest.raises(UnsupportedScheme, match="supported: http"):
        parse_url("https://h/", schemes=["HTTP"])


def test_other_schemes_need_a_port() -> None:
    assert parse_url("ws://h:9000/chat", schemes=["ws"]) == URL("ws", "h", 9000, "/chat")
    assert str(parse_url("ws://h:9000/chat", schemes=["ws"])) == "ws://h:9000/chat"
    with pytest.raises(InvalidURL, match="no default port"):
        parse_url("ws://h/chat", schemes=["ws"])


# -- join_url ------------------------------------------------------------------
BASE = "http://example.com:8080/a/b/c?x=1"


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        pytest.param("https://other.org/p", "https://other.org/p", id="absolute"),
        pytest.param("HTTPS://Other.ORG", "https://other.org/", id="absolute-upper"),
        pytest.param("//other.org/x", "http://other.org/x", id="scheme-relative"),
        pytest.param("/root?q=2", "http://example.com:8080/root?q=2", id="absolute-path"),
        pytest.param("d", "http://example.com:8080/a/b/d", id="relative-path"),
        pytest.param("../a", "http://example.com:8080/a/a", id="parent"),
        pytest.param("../../../../x", "http://example.com:8080/x", id="above-root"),
        pytest.param("./", "http://example.com:8080/a/b/", id="dot"),
        pytest.param("?q=1", "http://example.com:8080/a/b/c?q=1", id="query-only"),
        pytest.param("", "http://example.com:8080/a/b/c?x=1", id="empty"),
        pytest.param("#top", "http://example.com:8080/a/b/c?x=1", id="fragment-only"),
        pytest.param("/a b/ü", "http://example.com:8080/a%20b/%C3%BC", id="encoded"),
        pytest.param("//[::1]:9/", "http://[::1]:9/", id="ipv6"),
    ],
)
def test_join_url_resolves_references(location: str, expected: str) -> None:
    assert str(join_url(parse_url(BASE), location)) == expected


@pytest.mark.parametrize(
    ("location", "error", "message"),
    [
        pytest.param("http://bad host/", InvalidURL, "invalid host", id="bad-host"),
        pytest.param("//h:99999/", InvalidURL, "out of range", id="bad-port"),
        pytest.param("/a\r\nSet-Cookie: x", InvalidURL, "control character", id="crlf"),
        pytest.param("/a\tb", InvalidURL, "control character", id="tab"),
        pytest.param("//:80/x", InvalidURL, "no host", id="no-host"),
        pytest.param("//[::1/x", InvalidURL, "invalid URL reference", id="unclosed-bracket"),
        pytest.param("ftp://example.com/", UnsupportedScheme, "'ftp'", id="ftp"),
        pytest.param("file:///etc/passwd", UnsupportedScheme, "'file'", id="file"),
        pytest.param("mailto:x@example.com", UnsupportedScheme, "'mailto'", id="mailto"),
    ],
)
def test_join_url_refuses_bad_locations(
    location: str, error: type[InvalidURL], message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        join_url(parse_url(BASE), location)
    assert caught.value.url is not None
    assert "\r" not in caught.value.url
    assert "\t" not in caught.value.url
    if location.isprintable():
        assert caught.value.url == location


def test_join_url_hides_credentials() -> None:
    with pytest.raises(InvalidURL, match="credentials") as caught:
        join_url(parse_url(BASE), "//user:secret@other/")
    assert "secret" not in str(caught.value)
