"""Redirects over loopback: statuses, method and body rules, history, limits, origins.

The server under test is ours; ``/echo`` answers any method with what it
received (as JSON), ``/to/<status>?location=...`` redirects, ``/chain/<n>``
redirects ``n`` times with relative references, ``/loop/...`` loops.
"""

from __future__ import annotations

import gc
import json
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, quote

import attrs
import pytest
import trio

import trio_webkit

from support.loopback import fail_after, running_server

GUARD = 10


@attrs.define
class App:
    """Redirects and echoes; records every request as (method, target, body)."""

    seen: list[tuple[str, str, bytes]] = attrs.Factory(list)
    headers: list[trio_webkit.Headers] = attrs.Factory(list)

    async def handler(self, request: trio_webkit.Request) -> trio_webkit.Response:
        body = await request.read()
        self.seen.append((request.method, request.target, body))
        self.headers.append(request.headers)
        path = request.path
        query = parse_qs(request.query)
        if path.startswith("/to/"):
            status = int(path.removeprefix("/to/"))
            location = query["location"][0]
            return trio_webkit.Response(status, [("Location", location)], body=f"see {location}")
        if path.startswith("/chain/"):
            left = int(path.removeprefix("/chain/"))
            if left == 0:
                return trio_webkit.Response(200, body="end of chain")
            return trio_webkit.Response(302, [("Location", str(left - 1))], body=b"")
        if path == "/loop/a":
            return trio_webkit.Response(302, [("Location", "/loop/b")])
        if path == "/loop/b":
            return trio_webkit.Response(307, [("Location", "/loop/a")])
        if path == "/loop/self":
            return trio_webkit.Response(301, [("Location", "self")])
        if path == "/no-location":
            return trio_webkit.Response(302, body="no Location here")
        echo = {
            "method": request.method,
            "target": request.target,
            "body": body.decode("latin-1"),
            "headers": [[name.lower(), value] for name, value in request.headers.items()],
        }
        return trio_webkit.Response(200, [("Content-Type", "application/json")], json.dumps(echo))


def names(echo: dict[str, object]) -> set[str]:
    headers = echo["headers"]
    assert isinstance(headers, list)
    return {name for name, _ in headers}


def values(echo: dict[str, object], name: str) -> list[str]:
    headers = echo["headers"]
    assert isinstance(headers, list)
    return [value for key, value in headers if key == name]


def redirect_to(status: int, location: str) -> str:
    return f"/to/{status}?location={location}"


# -- method and body rules ----------------------------------------------------------
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@fail_after(GUARD)
async def test_get_follows_every_redirect_status(status: int) -> None:
    app = App()
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        start = f"{server.url}{redirect_to(status, '/echo')}"
        response = await client.get(start)
        stats = client.statistics()
    assert response.status == 200
    assert response.url == f"{server.url}/echo"
    assert response.json()["method"] == "GET"
    assert [r.status for r in response.history] == [status]
    assert response.history[0].url == start
    assert response.history[0].headers["location"] == "/echo"
    assert stats.connections_opened == 1  # the redirect's body was drained, connection reused


@fail_after(GUARD)
async def test_a_redirect_with_a_big_body_is_followed_on_a_new_connection() -> None:
    # Not worth draining: the redirect's connection is closed, not reused,
    # and nothing is left behind (no un-finished body iterator).
    async def handler(request: trio_webkit.Request) -> trio_webkit.Response:
        if request.path == "/big-redirect":
            return trio_webkit.Response(302, [("Location", "/done")], body=b"r" * (1024 * 1024))
        return trio_webkit.Response(200, body="done")

    async with running_server(handler) as server, trio_webkit.Client() as client:
        response = await client.get(f"{server.url}/big-redirect")
        gc.collect()
        again = await client.get(f"{server.url}/done")
        stats = client.statistics()
    assert response.text == "done"
    assert [r.status for r in response.history] == [302]
    assert again.text == "done"
    assert stats.connections_opened == 2


@pytest.mark.parametrize(
    ("status", "method", "after"),
    [
        (301, "POST", "GET"),
        (302, "POST", "GET"),
        (303, "POST", "GET"),
        (303, "PUT", "GET"),
        (303, "DELETE", "GET"),
    ],
)
@fail_after(GUARD)
async def test_redirects_that_drop_the_body(status: int, method: str, after: str) -> None:
    app = App()
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        response = await client.request(
            method,
            f"{server.url}{redirect_to(status, '/echo')}",
            body=b'{"form": 1}',
            headers={"Content-Type": "application/json", "X-Keep": "yes"},
        )
    echo = response.json()
    assert echo["method"] == after
    assert echo["body"] == ""
    assert not names(echo) & {"content-length", "transfer-encoding", "content-type"}
    assert values(echo, "x-keep") == ["yes"]
    assert app.seen[0] == (method, redirect_to(status, "/echo"), b'{"form": 1}')


@fail_after(GUARD)
async def test_head_stays_head_on_303() -> None:
    app = App()
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        response = await client.head(f"{server.url}{redirect_to(303, '/echo')}")
    assert response.status == 200
    assert [seen[0] for seen in app.seen] == ["HEAD", "HEAD"]


@pytest.mark.parametrize("status", [307, 308])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
@fail_after(GUARD)
async def test_307_and_308_keep_the_method_and_a_bytes_body(status: int, method: str) -> None:
    app = App()
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        response = await client.request(
            method,
            f"{server.url}{redirect_to(status, '/echo')}",
            body=b"payload \x00\xff",
            headers={"Content-Type": "application/octet-stream"},
        )
    echo = response.json()
    assert echo["method"] == method
    assert echo["body"].encode("latin-1") == b"payload \x00\xff"
    assert values(echo, "content-type") == ["application/octet-stream"]
    assert values(echo, "content-length") == [str(len(b"payload \x00\xff"))]


@pytest.mark.parametrize("status", [307, 308])
@fail_after(GUARD)
async def test_307_and_308_replay_a_str_body(status: int) -> None:
    app = App()
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        response = await client.post(f"{server.url}{redirect_to(status, '/echo')}", body="héllo")
    echo = response.json()
    assert echo["body"].encode("latin-1") == "héllo".encode()
    assert values(echo, "content-type") == ["text/plain; charset=utf-8"]


@pytest.mark.parametrize("status", [307, 308])
@fail_after(GUARD)
async def test_307_and_308_replay_a_producer_body(status: int) -> None:
    app = App()
    runs = 0

    async def producer(send: trio.MemorySendChannel[bytes]) -> None:
        nonlocal runs
        runs += 1
        for index in range(5):
            await send.send(f"piece {index};".encode())

    expected = b"".join(f"piece {index};".encode() for index in range(5))
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        response = await client.post(f"{server.url}{redirect_to(status, '/echo')}", body=producer)
    echo = response.json()
    assert echo["method"] == "POST"
    assert echo["body"].encode("latin-1") == expected
    assert values(echo, "transfer-encoding") == ["chunked"]
    assert runs == 2  # run again, from the start, for the second request
    assert app.seen[0][2] == expected  # the first server also got the whole body


@pytest.mark.parametrize("status", [307, 308])
@fail_after(GUARD)
async def test_307_with_a_one_shot_async_iterable_body_raises(status: int) -> None:
    app = App()

    async def once() -> AsyncIterator[bytes]:
        yield b"can only "
        yield b"be sent once"

    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        start = f"{server.url}{redirect_to(status, '/echo')}"
        with pytest.raises(trio_webkit.HTTPError) as caught:
            await client.post(start, body=once())
        after = await client.get(f"{server.url}/echo")  # the client still works
    error = caught.value
    assert str(error).startswith(f"POST {start}: ")
    assert str(status) in str(error)
    assert error.phase == "redirect"
    assert "body" in error.message
    assert [seen[0] for seen in app.seen] == ["POST", "GET"]  # never re-sent
    assert after.status == 200


@fail_after(GUARD)
async def test_303_with_a_one_shot_body_is_fine() -> None:
    # The body is dropped, not replayed: nothing to refuse.
    app = App()

    async def once() -> AsyncIterator[bytes]:
        yield b"form data"

    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        response = await client.post(f"{server.url}{redirect_to(303, '/echo')}", body=once())
    assert response.json()["method"] == "GET"
    assert app.seen[0][2] == b"form data"


# -- Location forms -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("location", "final_target"),
    [
        ("/echo?x=1", "/echo?x=1"),
        ("echo", "/to/echo"),  # relative to /to/302
        ("../echo", "/echo"),
        ("./sub/../echo?y=2", "/to/echo?y=2"),
        ("?only=query", "/to/302?only=query"),
    ],
)
@fail_after(GUARD)
async def test_relative_locations(location: str, final_target: str) -> None:
    async def handler(request: trio_webkit.Request) -> trio_webkit.Response:
        if request.target == "/to/302":
            return trio_webkit.Response(302, [("Location", location)])
        return trio_webkit.Response(200, body=request.target)

    async with running_server(handler) as server, trio_webkit.Client() as client:
        response = await client.get(f"{server.url}/to/302")
    assert response.text == final_target
    assert response.url == f"{server.url}{final_target}"


@fail_after(GUARD)
async def test_absolute_and_scheme_relative_locations() -> None:
    app = App()
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        absolute = await client.get(f"{server.url}{redirect_to(302, f'{server.url}/echo')}")
        scheme_relative = await client.get(
            f"{server.url}{redirect_to(302, f'//127.0.0.1:{server.port}/echo')}"
        )
    assert absolute.url == f"{server.url}/echo"
    assert scheme_relative.url == f"{server.url}/echo"


@fail_after(GUARD)
async def test_3xx_without_location_is_returned() -> None:
    app = App()
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        response = await client.get(f"{server.url}/no-location")
    assert response.status == 302
    assert response.text == "no Location here"
    assert response.history == []


# -- history and limits -----------------------------------------------------------------
@fail_after(GUARD)
async def test_history_lists_every_redirect_in_order() -> None:
    app = App()
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        response = await client.get(f"{server.url}/chain/4")
    assert response.status == 200
    assert response.text == "end of chain"
    assert response.url == f"{server.url}/chain/0"
    assert [r.url for r in response.history] == [f"{server.url}/chain/{n}" for n in (4, 3, 2, 1)]
    assert [r.status for r in response.history] == [302] * 4
    assert [r.headers["location"] for r in response.history] == ["3", "2", "1", "0"]
    assert all(r.history == [] for r in response.history)


@fail_after(GUARD)
async def test_exactly_max_redirects_is_fine() -> None:
    app = App()
    async with (
        running_server(app.handler) as server,
        trio_webkit.Client(max_redirects=3) as client,
    ):
        response = await client.get(f"{server.url}/chain/3")
    assert response.status == 200
    assert len(response.history) == 3


@fail_after(GUARD)
async def test_more_than_max_redirects_raises_with_the_history() -> None:
    app = App()
    async with (
        running_server(app.handler) as server,
        trio_webkit.Client(max_redirects=3) as client,
    ):
        start = f"{server.url}/chain/6"
        with pytest.raises(trio_webkit.TooManyRedirects) as caught:
            await client.get(start)
        requests_sent = len(app.seen)
        after = await client.get(f"{server.url}/chain/0")
    error = caught.value
    assert str(error).startswith("GET ")
    assert error.phase == "redirect"
    history_urls = [r.url for r in error.history]
    assert history_urls[0] == start
    assert history_urls == [f"{server.url}/chain/{n}" for n in range(6, 6 - len(history_urls), -1)]
    assert 3 <= len(error.history) <= 4  # the three followed (and the one refused)
    assert all(r.status == 302 for r in error.history)
    assert requests_sent == len(error.history)  # no request beyond the limit
    assert after.status == 200


@pytest.mark.parametrize("start", ["/loop/a", "/loop/self"])
@fail_after(GUARD)
async def test_redirect_loop_raises_before_the_limit(start: str) -> None:
    app = App()
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        with pytest.raises(trio_webkit.TooManyRedirects) as caught:
            await client.get(f"{server.url}{start}")
    error = caught.value
    assert "loop" in error.message
    assert error.history
    assert error.history[0].url == f"{server.url}{start}"
    assert len(app.seen) <= 3  # detected, not run up to max_redirects (10)


@fail_after(GUARD)
async def test_follow_redirects_false_returns_the_redirect() -> None:
    app = App()
    async with (
        running_server(app.handler) as server,
        trio_webkit.Client(follow_redirects=False) as client,
    ):
        response = await client.post(f"{server.url}{redirect_to(307, '/echo')}", body=b"x")
        again = await client.get(f"{server.url}/echo")
        stats = client.statistics()
    assert response.status == 307
    assert response.headers["location"] == "/echo"
    assert response.text == "see /echo"
    assert response.history == []
    assert response.url == f"{server.url}{redirect_to(307, '/echo')}"
    assert [seen[0] for seen in app.seen] == ["POST", "GET"]
    assert again.status == 200
    assert stats.connections_opened == 1


@fail_after(GUARD)
async def test_module_level_get_follows_redirects() -> None:
    app = App()
    async with running_server(app.handler) as server:
        response = await trio_webkit.get(f"{server.url}/chain/2")
        unfollowed = await trio_webkit.get(f"{server.url}/chain/2", follow_redirects=False)
        with pytest.raises(trio_webkit.TooManyRedirects):
            await trio_webkit.get(f"{server.url}/chain/2", max_redirects=1)
    assert response.status == 200
    assert len(response.history) == 2
    assert unfollowed.status == 302


# -- across origins -------------------------------------------------------------------------
@pytest.mark.parametrize("status", [302, 307])
@fail_after(GUARD)
async def test_authorization_is_dropped_when_the_origin_changes(status: int) -> None:
    first, second = App(), App()
    async with (
        running_server(first.handler) as server_a,
        running_server(second.handler) as server_b,
        trio_webkit.Client(headers={"X-Client-Wide": "kept"}) as client,
    ):
        start = f"{server_a.url}{redirect_to(status, f'{server_b.url}/echo')}"
        response = await client.get(
            start,
            headers={
                "Authorization": "Bearer secret-token",
                "Cookie": "session=abc",
                "X-Custom": "kept too",
                "Accept": "application/json",
            },
        )
        stats = client.statistics()
    assert first.headers[0]["authorization"] == "Bearer secret-token"
    assert first.headers[0]["cookie"] == "session=abc"
    echo = response.json()
    assert response.url == f"{server_b.url}/echo"
    assert "authorization" not in names(echo)
    assert "cookie" not in names(echo)
    assert values(echo, "x-custom") == ["kept too"]
    assert values(echo, "x-client-wide") == ["kept"]
    assert values(echo, "accept") == ["application/json"]
    assert values(echo, "host") == [f"127.0.0.1:{server_b.port}"]
    assert [r.url for r in response.history] == [start]
    assert stats.connections_opened == 2


@fail_after(GUARD)
async def test_authorization_is_kept_on_the_same_origin() -> None:
    app = App()
    async with running_server(app.handler) as server, trio_webkit.Client() as client:
        response = await client.get(
            f"{server.url}/chain/2", headers={"Authorization": "Basic dXNlcjpwYXNz"}
        )
    assert response.status == 200
    assert [h.get("authorization") for h in app.headers] == ["Basic dXNlcjpwYXNz"] * 3


@fail_after(GUARD)
async def test_chain_that_goes_to_another_origin_and_back() -> None:
    # A -> B -> A: credentials do not come back once dropped.
    first, second = App(), App()
    async with (
        running_server(first.handler) as server_a,
        running_server(second.handler) as server_b,
        trio_webkit.Client() as client,
    ):
        back = f"{server_a.url}/echo"
        via_b = f"{server_b.url}{redirect_to(302, back)}"
        start = f"{server_a.url}/to/302?location={quote(via_b, safe='')}"
        response = await client.get(start, headers={"Authorization": "Bearer t"})
    assert response.url == back
    assert response.history[0].url == start
    assert len(response.history) == 2
    assert "authorization" not in names(response.json())
    assert second.headers[0].get("authorization") is None
