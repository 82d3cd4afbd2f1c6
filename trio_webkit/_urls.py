"""URL parsing for the client: one place that turns a string into what the wire needs.

:func:`parse_url` is strict, because whatever it accepts goes onto the wire
(RFC 3986 syntax; RFC 9110 §4.2 for http and https):

* The scheme must be one of ``schemes`` (``http`` and ``https`` by default),
  else :class:`UnsupportedScheme`; a missing scheme (``"example.com/x"``) is
  one too, and the message suggests ``http://``.
* Scheme and host are lower-cased. A non-ASCII host is IDNA-encoded with the
  standard library's codec (IDNA 2003: ``"straße.de"`` becomes
  ``"strasse.de"``). A host is dot-separated labels of letters, digits, ``-``
  and ``_``; an all-numeric one must be a dotted-quad IPv4 address; an IPv6
  literal is bracketed in the URL and stored *without* brackets (zone
  identifiers are not supported).
* The port is explicit (1-65535) or the scheme's default (:data:`DEFAULT_PORTS`).
* Credentials (``user:pass@host``) are refused: send an ``Authorization``
  header instead. Every error's ``url`` shows ``***@`` in their place, and
  escapes control characters so that a message stays on one log line.
* Control characters (CR, LF, NUL, tab, DEL, C1) and unpaired surrogates are
  refused anywhere, so no URL can inject a header line; so is whitespace
  around the URL. A space *inside* the path or query is percent-encoded.
* The request target is the path (``"/"`` when empty) plus ``"?" + query``
  when a ``?`` was given. Only characters never allowed in a target are
  percent-encoded (space, ``"<>\\^`{|}``, non-ASCII as UTF-8, and a ``%`` not
  followed by two hex digits); existing ``%XX`` escapes, reserved characters
  and dot-segments are sent as given (``/a%2Fb`` stays ``/a%2Fb``), so a
  client can send exactly the path it was asked for.
* The fragment is dropped: it never goes on the wire.

``str(parse_url(s))`` is stable: parsing it again gives an equal :class:`URL`.

``file`` and ``data`` URLs are accepted only when ``schemes`` names them, for
:func:`trio_webkit.open_url`: both have ``port == 0`` (no port); a ``file``
URL has an absolute path as its target and an empty host or a name
(``file:///tmp/x``, ``file://localhost/tmp/x``); a ``data`` URL has an empty
host and its whole opaque part (``"text/plain;base64,SGk="``) as its target.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection
from typing import final
from urllib.parse import urljoin

import attrs

from ._errors import InvalidURL, UnsupportedScheme

DEFAULT_PORTS: dict[str, int] = {"http": 80, "https": 443}
"""The port a scheme implies when the URL gives none."""

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
# C0 controls (CR, LF, NUL, tab...), DEL, C1 controls, unpaired surrogates.
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# RFC 3986 pchar / query characters are kept: unreserved, sub-delims, ":@/?",
# "[]" (as httpx does) and "%" when it starts an escape. Everything else
# (space, '"<>\^`{|}', non-ASCII, a stray "%") is percent-encoded.
_NOT_IN_TARGET = re.compile(r"%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&'()*+,;=:@/?\[\]%]")
_LABEL = re.compile(r"[a-z0-9_\-]{1,63}\Z")
_DIGITS = re.compile(r"[0-9]+\Z")
_USERINFO = re.compile(r"//[^/?#]*@")


@final
@attrs.frozen
class URL:
    """A parsed, validated URL, holding what the wire needs.

    Build one with :func:`parse_url`; the constructor itself validates nothing.

    Attributes:
        scheme: lower-case scheme, such as ``"http"`` or ``"https"``.
        host: lower-case host; an IPv6 literal without brackets; IDNA-encoded.
        port: the explicit port or the scheme's default (``0`` for ``file``
            and ``data`` URLs, which have none).
        target: the request target: path (``"/"`` when empty) plus
            ``"?" + query`` when a query was given; percent-encoded; never a
            fragment.
    """

    scheme: str
    host: str
    port: int
    target: str

    def __str__(self) -> str:
        if self.scheme == "data":
            return f"data:{self.target}"
        return f"{self.scheme}://{self.host_header}{self.target}"

    @property
    def origin(self) -> tuple[str, str, int]:
        """``(scheme, host, port)``: what a pooled connection is keyed by."""
        return (self.scheme, self.host, self.port)

    @property
    def host_header(self) -> str:
        """The ``Host`` header value: the host, plus ``:port`` unless it is the default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port in (0, DEFAULT_PORTS.get(self.scheme)):
            return host
        return f"{host}:{self.port}"

    @property
    def path(self) -> str:
        """The target without its query."""
        return self.target.partition("?")[0]


def parse_url(url: str | URL, *, schemes: Collection[str] = ("http", "https")) -> URL:
    """Parse and validate ``url`` for sending a request (rules in the module docstring).

    Args:
        url: the URL text, or a :class:`URL`, returned as it is when its
            scheme is allowed.
        schemes: the schemes to accept (case-insensitive). ``file`` and
            ``data`` follow their own rules (see the module docstring); any
            other scheme needs a host, and a port unless it is in
            :data:`DEFAULT_PORTS`.

    Returns:
        The parsed :class:`URL`.

    Raises:
        UnsupportedScheme: the scheme is missing or not in ``schemes``.
        InvalidURL: anything else is wrong; ``.url`` holds the input.

    >>> url = parse_url("HTTP://Example.COM:8080/a b?q=1#top")
    >>> url.host, url.port, url.target, str(url)
    ('example.com', 8080, '/a%20b?q=1', 'http://example.com:8080/a%20b?q=1')
    """
    allowed = {scheme.lower() for scheme in schemes}
    if isinstance(url, URL):
        if url.scheme not in allowed:
            raise UnsupportedScheme(_scheme_message(str(url), url.scheme, allowed), url=str(url))
        return url
    if not isinstance(url, str):
        raise TypeError(f"expected a URL string, got {type(url).__name__}")
    if not url:
        raise InvalidURL("empty URL", url=url)
    _check_characters(url)
    shown = _shown(url)
    text = url.partition("#")[0]
    match = _SCHEME.match(text)
    scheme = match.group(1).lower() if match else ""
    if scheme not in allowed:
        raise UnsupportedScheme(_scheme_message(shown, scheme, allowed), url=shown)
    rest = text[match.end() :] if match else text
    if scheme == "data":
        return _parse_data(rest, shown)
    if scheme == "file":
        return _parse_file(rest, shown)
    return _parse_network(scheme, rest, shown)


def join_url(base: URL, location: str) -> URL:
    """Resolve ``location`` (an absolute or relative reference) against ``base``.

    RFC 3986 §5 reference resolution (:func:`urllib.parse.urljoin`), then
    :func:`parse_url` allowing ``http`` and ``https`` only.

    Args:
        base: the URL the reference is relative to.
        location: a ``Location`` header value, for instance.

    Returns:
        The resolved :class:`URL`.

    Raises:
        UnsupportedScheme: the result's scheme is not http or https.
        InvalidURL: the reference is malformed; ``.url`` holds ``location``.
    """
    # Checked before urljoin, which silently deletes tabs and newlines.
    _check_characters(location)
    shown = _shown(location)
    try:
        resolved = urljoin(str(base), location)
    except ValueError as exc:  # urlsplit refuses some bracketed hosts ("Invalid IPv6 URL")
        raise InvalidURL(f"invalid URL reference: {exc}", url=shown) from None
    try:
        return parse_url(resolved)
    except InvalidURL as exc:
        raise type(exc)(exc.message, url=shown) from None


# -- checks shared by every scheme ------------------------------------------
def _check_characters(text: str) -> None:
    bad = _FORBIDDEN.search(text)
    if bad is not None:
        char = bad.group()
        what = "unpaired surrogate" if "\ud800" <= char <= "\udfff" else "control character"
        raise InvalidURL(
            f"{what} {char!r} at position {bad.start()} (CR, LF, NUL, tab and other"
            " control characters are never allowed in a URL)",
            url=_shown(text),
        )
    if text != text.strip():
        raise InvalidURL("whitespace around the URL", url=_shown(text))


def _scheme_message(url: str, scheme: str, allowed: set[str]) -> str:
    what = f"unsupported URL scheme {scheme!r}" if scheme else "no URL scheme"
    message = f"{what} (supported: {', '.join(sorted(allowed))})"
    looks_like_host_port = bool(scheme) and url[len(scheme) + 1 : len(scheme) + 2].isdigit()
    if "://" not in url and (not scheme or looks_like_host_port):
        message += f"; did you mean 'http://{url}'?"
    return message


def _quote(part: str) -> str:
    """Percent-encode what may never appear in a request target, keep the rest."""
    return _NOT_IN_TARGET.sub(_escape, part)


def _escape(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode("utf-8"))


def _target(path_and_query: str) -> str:
    path, question, query = path_and_query.partition("?")
    return _quote(path or "/") + question + _quote(query)


# -- per-scheme parsing -----------------------------------------------------
def _parse_network(scheme: str, rest: str, url: str) -> URL:
    if not rest.startswith("//"):
        raise InvalidURL(f"no host: expected '//' after '{scheme}:'", url=url)
    authority, path_and_query = _split_authority(rest[2:])
    host, port = _parse_authority(authority, url)
    if not host:
        raise InvalidURL("no host in URL", url=url)
    if port is None:
        if scheme not in DEFAULT_PORTS:
            raise InvalidURL(f"no port, and scheme {scheme!r} has no default port", url=url)
        port = DEFAULT_PORTS[scheme]
    return URL(scheme, host, port, _target(path_and_query))


def _parse_file(rest: str, url: str) -> URL:
    host = ""
    path_and_query = rest
    if rest.startswith("//"):
        authority, path_and_query = _split_authority(rest[2:])
        host, port = _parse_authority(authority, url)
        if port is not None:
            raise InvalidURL("a file URL cannot have a port", url=url)
    if path_and_query and not path_and_query.startswith(("/", "?")):
        raise InvalidURL("the path of a file URL must be absolute ('file:///...')", url=url)
    return URL("file", host, 0, _target(path_and_query))


def _parse_data(rest: str, url: str) -> URL:
    # RFC 2397: data:[<mediatype>][;base64],<data>. Percent-encoding spaces and
    # the like keeps the meaning: the data part is percent-decoded when read.
    if "," not in rest:
        raise InvalidURL("no ',' between the media type and the data of a data URL", url=url)
    return URL("data", "", 0, _quote(rest))


def _split_authority(after_slashes: str) -> tuple[str, str]:
    """Split ``"host:port/path?query"`` into the authority and the rest."""
    end = len(after_slashes)
    for delimiter in "/?":
        found = after_slashes.find(delimiter)
        if found != -1:
            end = min(end, found)
    return after_slashes[:end], after_slashes[end:]


def _parse_authority(authority: str, url: str) -> tuple[str, int | None]:
    """``(host, port or None)`` from ``host``, ``host:port`` or ``[v6]:port``."""
    if "@" in authority:
        raise InvalidURL(
            "credentials in URLs are not supported: send an Authorization header instead",
            url=url,
        )
    if authority.startswith("["):
        end = authority.find("]")
        if end == -1:
            raise InvalidURL("no ']' after the IPv6 address", url=url)
        host = _ipv6(authority[1:end], url)
        after = authority[end + 1 :]
        if after and not after.startswith(":"):
            raise InvalidURL(f"unexpected {after!r} after the IPv6 address", url=url)
        return host, _port(after[1:], url)
    if authority.count(":") > 1:
        raise InvalidURL("an IPv6 address must be written in brackets: [::1]", url=url)
    host, _, port = authority.partition(":")
    return _host(host, url), _port(port, url)


def _port(text: str, url: str) -> int | None:
    if not text:  # RFC 3986 §3.2.3: an empty port means the default
        return None
    if not _DIGITS.match(text):
        raise InvalidURL(f"invalid port {text!r}: not a number", url=url)
    if len(text.lstrip("0")) > 5 or not 1 <= int(text) <= 65535:
        raise InvalidURL(f"invalid port {text}: out of range 1-65535", url=url)
    return int(text)


def _host(text: str, url: str) -> str:
    if not text:
        return ""
    host = text.lower()
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidURL(f"invalid international host name {text!r}", url=url) from None
    labels = host.removesuffix(".").split(".")
    if len(host) > 254 or not all(_LABEL.match(label) for label in labels):
        raise InvalidURL(
            f"invalid host {text!r}: a host name is dot-separated labels of letters,"
            " digits, '-' and '_'",
            url=url,
        )
    if labels[-1].isdigit():  # a name cannot end in a number: it is an IPv4 address
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise InvalidURL(f"invalid IPv4 address {text!r}", url=url) from None
    return host


def _ipv6(literal: str, url: str) -> str:
    if "%" in literal:
        raise InvalidURL(f"IPv6 zone identifiers are not supported: {literal!r}", url=url)
    try:
        ipaddress.IPv6Address(literal)
    except ValueError:
        raise InvalidURL(f"invalid IPv6 address {literal!r}", url=url) from None
    return literal.lower()


def _shown(url: str) -> str:
    """``url`` as error messages show it: credentials hidden, on one printable line.

    ``user:password@`` becomes ``***@`` (errors get logged); control and
    separator characters are escaped (``"\\r"``), so that no error message
    spans two log lines.
    """
    if url.isprintable() and "@" not in url:
        return url
    url = _USERINFO.sub("//***@", url)
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in url)
