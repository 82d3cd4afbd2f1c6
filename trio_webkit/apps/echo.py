"""The echo app: the request shown back as an HTML page."""

from __future__ import annotations

from html import escape

from .._request import Request
from .._response import Response

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Echo: {title}</title></head>
<body>
<h1>Your request</h1>
<pre id="request-line">{request_line}</pre>
<h2>Headers</h2>
<table id="headers">
{rows}
</table>
<h2>Body ({size} bytes)</h2>
<pre id="body">{body}</pre>
</body>
</html>
"""


async def echo(request: Request) -> Response:
    """Answer any request with an HTML page showing it.

    The page shows the request line, every header and the body (decoded as
    UTF-8, invalid bytes replaced), all HTML-escaped, so whatever the client
    sends is displayed, never interpreted. ``HEAD`` gets the same headers
    without the page.

    Args:
        request: any request; its body is read whole (within the server's
            ``max_body_bytes``).

    Returns:
        A 200 ``text/html`` response, marked ``Cache-Control: no-store``.
    """
    body = await request.read()
    request_line = f"{request.method} {request.target} HTTP/{request.http_version}"
    rows = "\n".join(
        f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>"
        for name, value in request.headers.items()
    )
    page = _PAGE.format(
        title=escape(request.path),
        request_line=escape(request_line),
        rows=rows,
        size=len(body),
        body=escape(body.decode("utf-8", errors="replace")),
    )
    return Response(
        200,
        [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")],
        page,
    )
