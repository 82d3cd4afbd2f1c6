"""What the server checks in a request head beyond h11's own parsing.

h11 is deliberately lenient in places where RFC 9112 lets a server choose
between accepting and rejecting. A front-end proxy that chose differently
would see a different request in the same bytes (request smuggling), so
the server takes the strict side of each choice:

* bare LF or bare CR as a line ending (RFC 9112 §2.2: MAY accept) → 400;
* obs-fold continuation lines (§5.2: reject or unfold) → 400;
* Content-Length repeated, even with equal values, or as a list (§6.3
  item 5: MAY accept identical values) → 400;
* Content-Length together with Transfer-Encoding (§6.1: MAY process by
  Transfer-Encoding, MUST close afterwards) → 400;
* Transfer-Encoding in an HTTP/1.0 request (§6.1: MUST treat as faulty) → 400;
* a Transfer-Encoding whose final coding is not ``chunked`` (once) → 400,
  as §6.3 item 4 requires; one that ends in ``chunked`` after codings h11
  does not implement (``gzip, chunked``) → 501;
* a Host value that is not ``uri-host [":" port]`` (§3.2: MUST) → 400;
* a head larger than ``max_header_bytes`` even when it arrived whole (h11
  only limits incomplete heads) → 431, or 414 for the request line;
* the request target in none of the four forms of §3.2 → 400;
* an HTTP major version other than 1 → 505; a higher 1.x minor version is
  served as HTTP/1.1 (RFC 9110 §2.5).

Empty lines before a request line are skipped (§2.2: SHOULD).
"""

from __future__ import annotations

import re


def head_problem(head: bytes, has_content_length: bool) -> str | None:
    """Why the raw request ``head`` must be rejected, or None if it is fine."""
    line_ends = head.count(b"\r\n")
    if head.count(b"\n") != line_ends or head.count(b"\r") != line_ends:
        return "bare CR or LF in the request head"
    if b"\n " in head or b"\n\t" in head:
        return "obsolete line folding in the request head"
    if has_content_length:
        fields = [line for line in head.lower().split(b"\n") if line.startswith(b"content-length:")]
        if len(fields) != 1 or b"," in fields[0]:
            return "repeated Content-Length"
    return None


def target_form_ok(method: bytes, target: bytes) -> bool:
    """Whether ``target`` is origin-, absolute-, asterisk- or authority-form."""
    if target[:1] == b"/":
        return True
    if target == b"*":
        return method == b"OPTIONS"
    if method == b"CONNECT":
        host, _, port = target.rpartition(b":")
        return bool(host) and port.isdigit() and b"/" not in target
    if not target[:8].lower().startswith((b"http://", b"https://")):
        return False
    return bool(target.split(b"/", 3)[2])  # a non-empty authority


def served_version(version: bytes) -> str | None:
    """The HTTP version to serve a request of ``version`` as, or None (→ 505)."""
    if version == b"1.1":
        return "1.1"
    if version == b"1.0":
        return "1.0"
    return "1.1" if version[:2] == b"1." else None


# RFC 9110 §7.2 / RFC 3986 §3.2.2: reg-name or IP literal, optional port.
_HOST = re.compile(rb"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(:[0-9]*)?\Z")


def host_ok(host: bytes) -> bool:
    """Whether a Host value is a valid ``uri-host [":" port]`` (RFC 9112 §3.2: else 400)."""
    return _HOST.match(host) is not None


def head_size_status(head: bytes, limit: int) -> int:
    """414 when the request line alone is over ``limit``, else 431."""
    line_end = head.find(b"\n")
    return 414 if line_end < 0 or line_end >= limit else 431


def skip_empty_lines(data: bytes) -> bytes:
    """``data`` without the CRLFs before a request line (RFC 9112 §2.2: SHOULD ignore)."""
    while data[:2] == b"\r\n":
        data = data[2:]
    return data


def head_error_status(head: bytes, h11_status: int, max_body: int | None) -> int:
    """The status for a head h11 refused, refined from the raw bytes.

    * 431 becomes 414 when the request line alone is the oversize part;
    * 501 (a transfer coding other than chunked) becomes 400 when chunked
      is not the final coding: RFC 9112 §6.3 item 4 makes that a MUST;
    * 400 becomes 413 for a well-formed Content-Length over ``max_body``
      that h11 refuses only for its number of digits.
    """
    if h11_status == 431:
        return 414 if b"\n" not in head else 431
    if h11_status == 501:
        joined = b",".join(_field_values(head, b"transfer-encoding"))
        codings = [coding.strip().lower() for coding in joined.split(b",")]
        final_chunked_once = codings[-1] == b"chunked" and codings.count(b"chunked") == 1
        return 501 if final_chunked_once else 400
    lengths = _field_values(head, b"content-length")
    if h11_status == 400 and max_body is not None and len(lengths) == 1:
        value = lengths[0].strip()
        if value.isdigit() and int(value) > max_body:
            return 413
    return h11_status


def _field_values(head: bytes, name: bytes) -> list[bytes]:
    prefix = name + b":"
    return [
        line[len(prefix) :].strip()
        for line in head.split(b"\r\n")
        if line[: len(prefix)].lower() == prefix
    ]
