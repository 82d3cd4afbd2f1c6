"""Redirect policy as pure functions (RFC 9110 §15.4).

The client asks :func:`is_redirect` about each response; for a redirect,
:func:`next_request` says what to send next and :func:`check_loop` whether
that was sent before. The limit (``max_redirects``) and ``history`` belong to
the client. The rules:

* A redirect is a 301, 302, 303, 307 or 308 response with a non-empty
  ``Location``; any other response (a 300, a 304, a 3xx without
  ``Location``) is returned to the caller as it is.
* ``Location`` is resolved against the request URL (RFC 9110 §10.2.2, RFC
  3986 §5), so relative references work. It may only lead to http or https.
* Method: 303 turns every method but HEAD into GET (§15.4.4). 301 and 302
  turn POST into GET (§15.4.2-3 allow it "for historical reasons"; browsers,
  curl and httpx all do it). Every other case keeps the method.
* Body: re-sent only on 307 and 308 (§15.4.8-9 forbid changing the request).
  Otherwise it is dropped (also for a PUT or DELETE kept by a 301 or 302, as
  httpx does: a streamed body cannot be replayed) along with the headers that
  describe it: Content-Length, Transfer-Encoding, Content-Type,
  Content-Encoding and Expect.
* ``Host`` is always removed: the client sets it from the new URL.
* Credentials (Authorization, Proxy-Authorization, Cookie) are removed when
  the origin (scheme, host, port) changes, which includes an https to http
  downgrade and an http to https upgrade. Every other header is kept.
* A loop is the same (method, URL) twice in one chain of redirects.
"""

from __future__ import annotations

from typing import final

import attrs

from ._errors import InvalidURL
from ._headers import Headers
from ._urls import URL, join_url

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
"""The statuses that :func:`is_redirect` follows."""

_BODY_HEADERS = (
    "Content-Length",
    "Transfer-Encoding",
    "Content-Type",
    "Content-Encoding",
    "Expect",
)
_CREDENTIAL_HEADERS = ("Authorization", "Proxy-Authorization", "Cookie")


@final
@attrs.frozen
class Redirect:
    """The request to send after a redirect response.

    Attributes:
        method: the method of the next request.
        url: the resolved ``Location``.
        headers: the request headers to send: a new object, the original
            request's headers are never changed.
        keep_body: whether the original request body must be sent again
            (307 and 308 only); when false, send no body.
    """

    method: str
    url: URL
    headers: Headers
    keep_body: bool


def is_redirect(status: int, headers: Headers) -> bool:
    """Whether a response with ``status`` and ``headers`` is a redirect to follow.

    Args:
        status: the response status code.
        headers: the response headers.

    Returns:
        True for 301, 302, 303, 307 and 308 with a non-empty ``Location``.
    """
    return status in REDIRECT_STATUSES and bool(headers.get("Location"))


def next_request(method: str, url: URL, headers: Headers, status: int, location: str) -> Redirect:
    """The request that follows a redirect response (rules in the module docstring).

    Args:
        method: the method of the request that was redirected.
        url: its URL, which ``location`` is relative to.
        headers: its headers (not changed).
        status: the redirect status, one of :data:`REDIRECT_STATUSES`.
        location: the ``Location`` value as :class:`Headers` gives it (bytes
            read as Latin-1); UTF-8 in it is read as UTF-8, as browsers do.

    Returns:
        The method, URL, headers and body decision of the next request.

    Raises:
        ValueError: ``status`` is not a redirect status.
        InvalidURL: ``location`` is not a valid URL reference (the message
            quotes it); :class:`UnsupportedScheme` when it leads to a scheme
            other than http or https.

    >>> from trio_webkit._urls import parse_url
    >>> r = next_request("POST", parse_url("https://a/form"), Headers(), 303, "/done")
    >>> r.method, str(r.url), r.keep_body
    ('GET', 'https://a/done', False)
    """
    if status not in REDIRECT_STATUSES:
        raise ValueError(f"{status} is not a redirect status")
    new_url = _resolve(method, url, location)
    keep_body = status in (307, 308)
    new_headers = Headers(headers)
    _drop(new_headers, ("Host",))
    if not keep_body:
        _drop(new_headers, _BODY_HEADERS)
    if new_url.origin != url.origin:
        _drop(new_headers, _CREDENTIAL_HEADERS)
    return Redirect(redirect_method(status, method), new_url, new_headers, keep_body)


def redirect_method(status: int, method: str) -> str:
    """The method to use after a ``status`` redirect of a ``method`` request."""
    if status == 303 and method != "HEAD":
        return "GET"
    if status in (301, 302) and method == "POST":
        return "GET"
    return method


def check_loop(seen: set[tuple[str, str]], method: str, url: URL) -> bool:
    """Whether ``(method, url)`` was already visited; if not, record it.

    Args:
        seen: the visits of this chain so far, updated in place. Record the
            first request too, so that a redirect back to it is a loop.
        method: the method of the request about to be sent.
        url: its URL.

    Returns:
        True when this request was sent before in this chain.
    """
    key = (method, str(url))
    if key in seen:
        return True
    seen.add(key)
    return False


def _resolve(method: str, url: URL, location: str) -> URL:
    try:
        return join_url(url, _location_text(location))
    except InvalidURL as exc:
        raise type(exc)(
            f"invalid redirect Location {location!r}: {exc.message}",
            method=method,
            url=str(url),
            phase="redirect",
        ) from None


def _location_text(location: str) -> str:
    """Undo the Latin-1 reading of a Location header sent as UTF-8 bytes.

    Servers put raw UTF-8 in ``Location`` (browsers read it as UTF-8);
    :class:`Headers` reads bytes as Latin-1, which would double-encode it.
    Bytes that are not UTF-8 are percent-encoded as they are.
    """
    if location.isascii():
        return location
    try:
        raw = location.encode("latin-1")
    except UnicodeEncodeError:  # real text, not bytes read as Latin-1
        return location
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(chr(b) if b < 0x80 else f"%{b:02X}" for b in raw)


def _drop(headers: Headers, names: tuple[str, ...]) -> None:
    for name in names:
        if name in headers:
            del headers[name]
