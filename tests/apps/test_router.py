"""Router: exact routes, mounted sub-apps, 404 and 405 (called directly, no sockets).

* An exact route matches the method and the decoded path; ``HEAD`` is served
  by the ``GET`` route; a path routed for other methods gets 405 with an
  ``Allow`` header listing them sorted (``HEAD`` included when ``GET`` is).
* ``mount(prefix, app)`` hands ``app`` every request under ``prefix`` with the
  prefix cut from the target on segment boundaries: ``/static/a.css`` →
  ``/a.css``, ``/static`` → ``/``, the query kept, percent-encoding kept.
  ``/staticx`` is not under ``/static``, and an encoded slash (``%2F``) is
  never a segment boundary. The longest prefix wins; exact routes win over
  mounts.
"""

from __future__ import annotations

import pytest

from trio_webkit import Request, Response, Router


def replying(name: str):  # type: ignore[no-untyped-def]
    """A handler answering ``name`` and the target/path it saw."""

    async def handler(request: Request) -> Response:
        return Response(
            200,
            [("X-Handler", name), ("X-Target", request.target), ("X-Path", request.path)],
            name,
        )

    return handler


async def call(router: Router, method: str, target: str, body: bytes = b"") -> Response:
    return await router(Request(method, target, body=body))


def seen(response: Response) -> tuple[str | None, str | None]:
    return response.headers.get("X-Handler"), response.headers.get("X-Target")


# -- exact routes ------------------------------------------------------------------


async def test_exact_routes() -> None:
    router = Router()
    router.add("GET", "/", replying("index"))
    router.add("GET", "/items", replying("list"))
    router.add("POST", "/items", replying("create"))
    assert seen(await call(router, "GET", "/")) == ("index", "/")
    assert seen(await call(router, "GET", "/items")) == ("list", "/items")
    assert seen(await call(router, "POST", "/items")) == ("create", "/items")


async def test_query_does_not_affect_matching() -> None:
    router = Router()
    router.add("GET", "/items", replying("list"))
    assert seen(await call(router, "GET", "/items?page=2")) == ("list", "/items?page=2")


async def test_route_matches_the_decoded_path() -> None:
    router = Router()
    router.add("GET", "/a b", replying("space"))
    assert seen(await call(router, "GET", "/a%20b"))[0] == "space"


async def test_method_is_case_insensitive_when_adding() -> None:
    router = Router()
    router.add("get", "/x", replying("x"))
    assert seen(await call(router, "GET", "/x"))[0] == "x"


async def test_decorator_form() -> None:
    router = Router()

    @router.route("POST", "/echo")
    async def echo_body(request: Request) -> Response:
        return Response(201, body=await request.read())

    # The decorator returns the handler itself.
    assert callable(echo_body)
    response = await call(router, "POST", "/echo", b"payload")
    assert response.status == 201
    assert response.content == b"payload"


async def test_head_is_served_by_the_get_route() -> None:
    router = Router()
    router.add("GET", "/page", replying("get"))
    response = await call(router, "HEAD", "/page")
    assert response.status == 200
    assert seen(response)[0] == "get"


async def test_explicit_head_route_wins_over_get() -> None:
    router = Router()
    router.add("GET", "/page", replying("get"))
    router.add("HEAD", "/page", replying("head"))
    assert seen(await call(router, "HEAD", "/page"))[0] == "head"


@pytest.mark.parametrize("target", ["/missing", "/items/", "/Items", "/items/1", "//items"])
async def test_unknown_path_is_404(target: str) -> None:
    router = Router()
    router.add("GET", "/items", replying("list"))
    response = await call(router, "GET", target)
    assert response.status == 404
    assert "allow" not in response.headers


async def test_empty_router_is_404() -> None:
    assert (await call(Router(), "GET", "/")).status == 404


@pytest.mark.parametrize(
    ("methods", "request_method", "allow"),
    [
        (["GET"], "POST", "GET, HEAD"),
        (["POST"], "GET", "POST"),
        (["POST"], "HEAD", "POST"),
        (["PUT", "GET", "DELETE"], "PATCH", "DELETE, GET, HEAD, PUT"),
        (["POST", "GET"], "DELETE", "GET, HEAD, POST"),
        (["HEAD"], "GET", "HEAD"),
    ],
)
async def test_other_method_is_405_with_sorted_allow(
    methods: list[str], request_method: str, allow: str
) -> None:
    router = Router()
    for method in methods:
        router.add(method, "/r", replying(method))
    response = await call(router, request_method, "/r")
    assert response.status == 405
    assert response.headers.get_all("Allow") == [allow]


@pytest.mark.parametrize(("first", "second"), [("GET", "GET"), ("GET", "get"), ("post", "POST")])
def test_duplicate_route_raises(first: str, second: str) -> None:
    router = Router()
    router.add(first, "/dup", replying("a"))
    with pytest.raises(ValueError):
        router.add(second, "/dup", replying("b"))
    with pytest.raises(ValueError):
        router.route(second, "/dup")(replying("c"))


def test_route_path_must_start_with_slash() -> None:
    with pytest.raises(ValueError):
        Router().add("GET", "items", replying("x"))


async def test_router_is_a_handler_for_another_router() -> None:
    inner = Router()
    inner.add("GET", "/x", replying("inner"))
    outer = Router()
    outer.mount("/api", inner)
    assert seen(await call(outer, "GET", "/api/x")) == ("inner", "/x")


# -- mounts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "sub_target", "sub_path"),
    [
        ("/static/a.css", "/a.css", "/a.css"),
        ("/static", "/", "/"),
        ("/static/", "/", "/"),
        ("/static?v=1", "/?v=1", "/"),
        ("/static/a.css?v=1&x=%20", "/a.css?v=1&x=%20", "/a.css"),
        ("/static/css/site.css", "/css/site.css", "/css/site.css"),
        ("/static/a%20b.css", "/a%20b.css", "/a b.css"),
        ("/static/a%2Fb", "/a%2Fb", "/a/b"),
        ("/static/%3Cx%3E", "/%3Cx%3E", "/<x>"),
    ],
)
async def test_mount_sees_the_path_below_the_prefix(
    target: str, sub_target: str, sub_path: str
) -> None:
    router = Router()
    router.mount("/static", replying("static"))
    response = await call(router, "GET", target)
    assert seen(response) == ("static", sub_target)
    assert response.headers["X-Path"] == sub_path


@pytest.mark.parametrize("prefix", ["/static", "/static/", "static", "static/"])
async def test_mount_prefix_spelling(prefix: str) -> None:
    router = Router()
    router.mount(prefix, replying("static"))
    assert seen(await call(router, "GET", "/static/a.css")) == ("static", "/a.css")


@pytest.mark.parametrize("target", ["/staticx", "/staticx/a.css", "/stati", "/other/static/a"])
async def test_mount_matches_whole_segments_only(target: str) -> None:
    router = Router()
    router.mount("/static", replying("static"))
    assert (await call(router, "GET", target)).status == 404


@pytest.mark.parametrize("target", ["/a%2Fb/c", "/a%2fb/c", "/a%2Fb"])
async def test_encoded_slash_is_not_a_segment_boundary(target: str) -> None:
    router = Router()
    router.mount("/a/b", replying("ab"))
    assert (await call(router, "GET", target)).status == 404


async def test_encoded_slash_segment_is_one_segment() -> None:
    # "/a%2Fb/c" has the segments "a/b" and "c": it is under neither "/a"
    # nor "/a/b".
    router = Router()
    router.mount("/a/b", replying("ab"))
    router.mount("/a", replying("a"))
    assert (await call(router, "GET", "/a%2Fb/c")).status == 404
    assert seen(await call(router, "GET", "/a/b/c")) == ("ab", "/c")
    assert seen(await call(router, "GET", "/a/x%2Fy")) == ("a", "/x%2Fy")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/a/b/c", ("ab", "/c")),
        ("/a/b", ("ab", "/")),
        ("/a/c", ("a", "/c")),
        ("/a/bc", ("a", "/bc")),
        ("/a", ("a", "/")),
        ("/x", ("root", "/x")),
        ("/", ("root", "/")),
    ],
)
@pytest.mark.parametrize("order", ["short-first", "long-first"])
async def test_longest_prefix_wins(target: str, expected: tuple[str, str], order: str) -> None:
    mounts = [("/", "root"), ("/a", "a"), ("/a/b", "ab")]
    if order == "long-first":
        mounts.reverse()
    router = Router()
    for prefix, name in mounts:
        router.mount(prefix, replying(name))
    assert seen(await call(router, "GET", target)) == expected


async def test_exact_route_wins_over_mount() -> None:
    router = Router()
    router.mount("/static", replying("static"))
    router.add("GET", "/static/special", replying("route"))
    router.add("GET", "/static", replying("route-root"))
    assert seen(await call(router, "GET", "/static/special")) == ("route", "/static/special")
    assert seen(await call(router, "GET", "/static")) == ("route-root", "/static")
    assert seen(await call(router, "GET", "/static/other")) == ("static", "/other")


async def test_mount_gets_every_method() -> None:
    router = Router()
    router.mount("/api", replying("api"))
    for method in ("GET", "HEAD", "POST", "DELETE", "OPTIONS"):
        assert seen(await call(router, method, "/api/x")) == ("api", "/x")


async def test_mounted_app_reads_the_body() -> None:
    router = Router()

    async def upload(request: Request) -> Response:
        return Response(200, body=await request.read())

    router.mount("/api", upload)
    response = await call(router, "POST", "/api/upload", b"the body")
    assert response.content == b"the body"


async def test_mounted_request_keeps_the_request_details() -> None:
    router = Router()
    captured: list[Request] = []

    async def app(request: Request) -> Response:
        captured.append(request)
        return Response(204)

    router.mount("/sub", app)
    original = Request(
        "PUT",
        "/sub/x?y=1",
        headers=[("Host", "h"), ("X-A", "1")],
        http_version="1.0",
        client=("127.0.0.1", 4321),
        scheme="https",
    )
    await router(original)
    (sub,) = captured
    assert sub.method == "PUT"
    assert sub.target == "/x?y=1"
    assert sub.query == "y=1"
    assert sub.headers.items() == [("Host", "h"), ("X-A", "1")]
    assert (sub.http_version, sub.client, sub.scheme) == ("1.0", ("127.0.0.1", 4321), "https")
    # The original request is left as it was.
    assert original.target == "/sub/x?y=1"
