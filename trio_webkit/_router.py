"""Router: a handler that dispatches on method and exact path, with mounted sub-apps."""

from __future__ import annotations

from collections.abc import Callable
from typing import final
from urllib.parse import unquote

from ._request import Request
from ._response import Response
from ._server_connection import Handler


@final
class Router:
    """A handler that dispatches requests to other handlers.

    Exact routes match the method and the decoded path; mounted handlers
    take every request under a prefix and see the path *below* it::

        router = Router()
        router.add("GET", "/", index)

        @router.route("POST", "/items")
        async def create(request): ...

        router.mount("/static", FileServer("public"))  # sees /logo.png

    A path with no route gets 404; a path routed for other methods gets 405
    with an ``Allow`` header. ``HEAD`` is served by a ``GET`` route (the
    server sends no body). Longer mount prefixes win over shorter ones;
    exact routes win over mounts.
    """

    def __init__(self) -> None:
        self._routes: dict[str, dict[str, Handler]] = {}
        self._mounts: list[tuple[str, Handler]] = []

    def add(self, method: str, path: str, handler: Handler) -> None:
        """Route ``method`` requests for exactly ``path`` to ``handler``.

        Args:
            method: the request method (case-insensitive).
            path: the decoded path, starting with ``/``.
            handler: ``async def handler(request) -> Response``.

        Raises:
            ValueError: ``path`` does not start with ``/``, or the route exists.
        """
        if not path.startswith("/"):
            raise ValueError(f"a route path starts with '/', not {path!r}")
        methods = self._routes.setdefault(path, {})
        method = method.upper()
        if method in methods:
            raise ValueError(f"{method} {path} is already routed")
        methods[method] = handler

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`add`: ``@router.route("GET", "/")``.

        Args:
            method: the request method (case-insensitive).
            path: the decoded path, starting with ``/``.

        Returns:
            A decorator that routes the handler it decorates and returns it
            unchanged.

        Raises:
            ValueError: (when decorating) as for :meth:`add`.
        """

        def register(handler: Handler) -> Handler:
            self.add(method, path, handler)
            return handler

        return register

    def mount(self, prefix: str, handler: Handler) -> None:
        """Send every request under ``prefix`` to ``handler``, prefix removed.

        ``mount("/static", app)`` gives ``app`` the request for
        ``/static/a.css`` with the target ``/a.css`` (query kept), and
        ``/static`` itself as ``/``.

        Args:
            prefix: the path prefix, matched segment by segment.
            handler: the sub-application.
        """
        prefix = "/" + prefix.strip("/")
        if prefix == "/":
            prefix = ""
        self._mounts.append((prefix, handler))
        self._mounts.sort(key=lambda mount: len(mount[0]), reverse=True)

    async def __call__(self, request: Request) -> Response:
        """Dispatch ``request``: route, mount, 405 or 404.

        Args:
            request: the request to dispatch.

        Returns:
            The response of the handler it was routed to; else a 405 with
            ``Allow`` when the path is routed for other methods; else a 404.
        """
        path = request.path
        methods = self._routes.get(path)
        if methods is not None:
            handler = methods.get(request.method)
            if handler is None and request.method == "HEAD":
                handler = methods.get("GET")
            if handler is not None:
                return await handler(request)
        for prefix, mounted in self._mounts:
            below = _below(request, prefix)
            if below is not None:
                return await mounted(below)
        if methods is not None:
            return _not_allowed(methods)
        return Response(404, body="404 Not Found\n")


def _below(request: Request, prefix: str) -> Request | None:
    """The request with ``prefix`` cut from its target, or None if not under it.

    Matched segment by segment on the raw path, each segment decoded, so an
    encoded slash (``/a%2Fb``) is never taken for a segment boundary (``/a/b``).
    """
    if not prefix:
        return request
    wanted = prefix.split("/")
    segments = request.raw_path.split("/")
    if len(segments) < len(wanted):
        return None
    if any(unquote(raw) != part for raw, part in zip(segments, wanted, strict=False)):
        return None
    rest = "/" + "/".join(segments[len(wanted) :])
    query = request.query
    return request._with_target(rest + ("?" + query if query else ""))


def _not_allowed(methods: dict[str, Handler]) -> Response:
    allowed = set(methods)
    if "GET" in allowed:
        allowed.add("HEAD")
    return Response(405, [("Allow", ", ".join(sorted(allowed)))], body="405 Method Not Allowed\n")
