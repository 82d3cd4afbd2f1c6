"""How a server response is framed, and its head serialised.

h11 parses everything peers send. The response head we write ourselves:
h11's send path costs about as much as the rest of a request put together,
and the rules it applies are few. They are the ones below (RFC 9112 §6,
h11's ``_body_framing`` / ``_clean_up_response_headers_for_sending``), and
``tests/protocol/test_framing.py`` checks them against h11's own output:

* 1xx as a final response is refused; 204, 304 and any answer to HEAD carry
  no body. HEAD gets the headers a GET would get (Content-Length or
  Transfer-Encoding), 204 never a Content-Length.
* A bytes body gets ``Content-Length``. A streamed body keeps a
  Content-Length the handler set (the connection then checks the count);
  otherwise it is chunked for HTTP/1.1 peers and close-delimited for
  HTTP/1.0 ones. Transfer-Encoding is always ours to set.
* Keep-alive only when the request allowed it (HTTP/1.1 and no
  ``Connection: close``), the handler did not ask to close, the body is not
  close-delimited and the server is not draining; otherwise
  ``Connection: close`` is sent and the connection closes afterwards.
"""

from __future__ import annotations

import enum
import re

from ._response import Response, reason_phrase


class Framing(enum.Enum):
    """How the body bytes are delimited on the wire."""

    NONE = "none"  # no body at all (HEAD, 204, 304)
    LENGTH = "length"  # Content-Length bytes
    CHUNKED = "chunked"  # Transfer-Encoding: chunked
    CLOSE = "close"  # until the connection closes (HTTP/1.0 peers)


# RFC 9112 §4: HTAB, SP, VCHAR and obs-text only.
_BAD_REASON = re.compile(r"[^\t\x20-\x7e\x80-\xff]")
# Handler headers that decide framing: always recomputed here.
_FRAMING_FIELDS = frozenset(("transfer-encoding", "connection", "content-length"))


class ResponsePlan:
    """The head bytes and framing decided for one response."""

    __slots__ = ("content_length", "framing", "head", "keep_alive")

    def __init__(
        self, head: bytes, framing: Framing, content_length: int | None, keep_alive: bool
    ) -> None:
        self.head = head
        self.framing = framing
        self.content_length = content_length
        self.keep_alive = keep_alive


def plan_response(
    response: Response,
    *,
    method: str,
    http_version: str,
    keep_alive: bool,
    date: str,
    server: str | None,
) -> ResponsePlan:
    """Decide framing and keep-alive for ``response`` and serialise its head.

    ``keep_alive`` says whether the request and the server allow reusing the
    connection; the response can only turn it off.

    Raises:
        ValueError: the handler's response cannot be sent as it is (1xx
            status, bad Content-Length, a bytes body that contradicts it).
    """
    status = response.status
    if status < 200:
        raise ValueError(f"a handler cannot answer with the interim status {status}")
    fields = _handler_fields(response.headers._pairs())
    if fields.closes:
        keep_alive = False
    parts = [_status_line(status, response.reason), fields.lines]
    declared = fields.content_length

    framing, length = _framing(response, method, declared)
    if framing is Framing.CHUNKED and http_version == "1.0":
        framing = Framing.CLOSE
    if framing is Framing.CLOSE:
        keep_alive = False
    if framing is Framing.CHUNKED:
        parts.append("Transfer-Encoding: chunked\r\n")
    elif length is not None and status != 204:
        parts.append(f"Content-Length: {length}\r\n")
    if method == "HEAD" or status == 204 or status == 304:
        framing = Framing.NONE
    if not fields.have_date:
        parts.append(f"Date: {date}\r\n")
    if server is not None and not fields.have_server:
        parts.append(f"Server: {server}\r\n")
    parts.append("\r\n" if keep_alive else "Connection: close\r\n\r\n")
    try:
        head = "".join(parts).encode("latin-1")
    except UnicodeEncodeError as error:
        raise ValueError(f"a response header is not Latin-1 text: {error}") from None
    return ResponsePlan(head, framing, length, keep_alive)


class _HandlerFields:
    """What a handler's header fields contribute to the head, and decide."""

    __slots__ = ("closes", "content_length", "have_date", "have_server", "lines")

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        lines = []
        self.content_length: int | None = None
        self.closes = self.have_date = self.have_server = False
        for name, value in pairs:
            lower = name.lower()
            if lower in _FRAMING_FIELDS:
                if lower == "content-length":
                    self.content_length = _content_length(value, self.content_length)
                elif lower == "connection" and "close" in value.lower():
                    self.closes = True
                continue
            if lower == "date":
                self.have_date = True
            elif lower == "server":
                self.have_server = True
            lines.append(f"{name}: {value}\r\n")
        self.lines = "".join(lines)


#: Handlers answer with the same few header sets again and again.
_FIELDS_CACHE: dict[tuple[tuple[str, str], ...], _HandlerFields] = {}
_FIELDS_CACHE_SIZE = 256
_FIELDS_CACHE_LINES = 1024  # so at most 256 KiB of header text is kept


def _handler_fields(pairs: list[tuple[str, str]]) -> _HandlerFields:
    key = tuple(pairs)
    fields = _FIELDS_CACHE.get(key)
    if fields is None:
        fields = _HandlerFields(pairs)  # raises ValueError before anything is kept
        if len(fields.lines) > _FIELDS_CACHE_LINES:
            return fields
        if len(_FIELDS_CACHE) >= _FIELDS_CACHE_SIZE:
            del _FIELDS_CACHE[next(iter(_FIELDS_CACHE))]
        _FIELDS_CACHE[key] = fields
    return fields


def _framing(response: Response, method: str, declared: int | None) -> tuple[Framing, int | None]:
    """The framing a GET would get (HEAD, 204 and 304 are cut to NONE by the caller)."""
    if response.status in (204, 304):
        return Framing.NONE, declared
    body = response.body
    if isinstance(body, bytes):
        if declared is not None and declared != len(body) and not (method == "HEAD" and not body):
            raise ValueError(
                f"Content-Length {declared} does not match a body of {len(body)} bytes"
            )
        # A HEAD handler may announce the size of a body it does not send.
        return Framing.LENGTH, len(body) if declared is None else declared
    if declared is not None:
        return Framing.LENGTH, declared
    return Framing.CHUNKED, None


def _content_length(value: str, previous: int | None) -> int:
    if not value.strip().isdigit() or not value.isascii():
        raise ValueError(f"invalid Content-Length {value!r} in the handler's response")
    length = int(value)
    if previous is not None and previous != length:
        raise ValueError("the handler's response has conflicting Content-Length headers")
    return length


def _status_line(status: int, reason: str) -> str:
    if reason != reason_phrase(status) and _BAD_REASON.search(reason):
        raise ValueError(f"invalid reason phrase {reason!r}")
    return f"HTTP/1.1 {status} {reason}\r\n"
