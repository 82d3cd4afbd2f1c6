"""apps.echo: the request shown back as an HTML page, everything escaped.

Whatever the client sends (target, header values, body) is displayed, never
interpreted: ``<``, ``>``, ``&`` and quotes always appear as entities.
"""

from __future__ import annotations

from html import escape

import pytest

from trio_webkit import Request, Response, Router
from trio_webkit.apps import echo

DANGEROUS = [
    "<script>alert(1)</script>",
    "a & b",
    "\"double\" and 'single'",
    "<img src=x onerror=alert(1)>",
    "</pre></table><h1>x</h1>",
]


async def page_of(request: Request) -> tuple[Response, str]:
    response = await echo(request)
    return response, response.content.decode("utf-8")


async def test_status_and_content_type() -> None:
    response, _ = await page_of(Request("GET", "/"))
    assert response.status == 200
    assert response.headers.get_all("Content-Type") == ["text/html; charset=utf-8"]


async def test_page_shows_request_line_headers_and_body() -> None:
    request = Request(
        "POST",
        "/submit?x=1",
        headers=[("Host", "example.com"), ("X-Custom", "value-1"), ("x-custom", "value-2")],
        body=b"name=trio",
    )
    _, page = await page_of(request)
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert "POST /submit?x=1 HTTP/1.1" in page
    for name, value in request.headers.items():
        assert name in page
        assert value in page
    assert "name=trio" in page


async def test_http_version_shown() -> None:
    _, page = await page_of(Request("GET", "/", http_version="1.0"))
    assert "GET / HTTP/1.0" in page


@pytest.mark.parametrize("text", DANGEROUS)
async def test_header_value_is_escaped(text: str) -> None:
    _, page = await page_of(Request("GET", "/", headers=[("X-Evil", text)]))
    assert text not in page
    assert escape(text) in page


@pytest.mark.parametrize("text", DANGEROUS)
async def test_body_is_escaped(text: str) -> None:
    _, page = await page_of(Request("POST", "/", body=text.encode()))
    assert text not in page
    assert escape(text) in page


@pytest.mark.parametrize("text", DANGEROUS)
async def test_target_is_escaped(text: str) -> None:
    target = "/" + text
    _, page = await page_of(Request("GET", target))
    assert text not in page
    assert escape(f"GET {target} HTTP/1.1") in page


async def test_percent_encoded_script_in_the_path_is_escaped() -> None:
    # The decoded path (shown in the title) must be escaped too.
    _, page = await page_of(Request("GET", "/%3Cscript%3Ealert(1)%3C/script%3E"))
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


async def test_no_raw_markup_from_any_part() -> None:
    evil = "<script>x</script>"
    request = Request(
        "POST", "/" + evil + "?q=" + evil, headers=[("X-A", evil)], body=evil.encode()
    )
    _, page = await page_of(request)
    assert "<script>" not in page
    assert page.count(escape(evil)) >= 3


@pytest.mark.parametrize("body", [b"\xff\xfe\x00<b>", b"caf\xe9", b"\x80\x81\x82"])
async def test_invalid_utf8_body_does_not_crash(body: bytes) -> None:
    response, page = await page_of(Request("POST", "/", body=body))
    assert response.status == 200
    assert "\ufffd" in page
    assert "<b>" not in page


async def test_unicode_body_shown() -> None:
    _, page = await page_of(Request("POST", "/", body="héllo ✓".encode()))
    assert "héllo ✓" in page


async def test_body_size_shown() -> None:
    _, page = await page_of(Request("POST", "/", body=b"x" * 1234))
    assert "1234" in page


async def test_head_gets_the_same_headers() -> None:
    get = await echo(Request("GET", "/x"))
    head = await echo(Request("HEAD", "/x"))
    assert head.status == get.status
    assert head.headers.get("content-type") == get.headers.get("content-type")


async def test_echo_is_a_handler_for_a_router() -> None:
    router = Router()
    router.mount("/echo", echo)
    response = await router(Request("GET", "/echo/hi?x=1"))
    assert "GET /hi?x=1 HTTP/1.1" in response.content.decode()
