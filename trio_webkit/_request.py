"""The server-side Request: what a handler receives."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, final
from urllib.parse import unquote, urlsplit

from ._headers import Headers, HeadersLike

#: Returns the next chunk of a request body, ``b""`` at its end.
BodyReceiver = Callable[[], Awaitable[bytes]]


@final
class Request:
    """An HTTP request as the server received it.

    Attributes:
        method: ``"GET"``, ``"POST"``...
        target: the request target exactly as sent (``/a%20b?x=1``).
        http_version: ``"1.1"`` or ``"1.0"``.
        headers: the request's :class:`Headers`.
        client: ``(host, port)`` of the peer, or ``None`` when unknown.
        scheme: ``"http"`` or ``"https"``.

    The body is read with :meth:`read`, :meth:`stream` or :meth:`json`, once;
    reading applies the server's ``body_timeout`` and ``max_body_bytes`` and
    sends ``100 Continue`` first when the client asked for it. Tests can build
    a request directly: ``Request("POST", "/echo", body=b"hi")``.
    """

    __slots__ = (
        "_body",
        "_consumed",
        "client",
        "headers",
        "http_version",
        "method",
        "scheme",
        "target",
    )

    def __init__(
        self,
        method: str,
        target: str,
        *,
        headers: HeadersLike = None,
        http_version: str = "1.1",
        client: tuple[str, int] | None = None,
        scheme: str = "http",
        body: bytes | BodyReceiver = b"",
    ) -> None:
        self.method = method
        self.target = target
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self.http_version = http_version
        self.client = client
        self.scheme = scheme
        self._body = _bytes_receiver(body) if isinstance(body, bytes) else body
        self._consumed = False

    @property
    def raw_path(self) -> str:
        """The path part of the target, still percent-encoded (``/a%20b``)."""
        target = self.target
        if not target.startswith("/"):  # absolute-form (RFC 9112 §3.2.2) or "*"
            return urlsplit(target).path or ("*" if target == "*" else "/")
        end = target.find("?")
        return target if end < 0 else target[:end]

    @property
    def path(self) -> str:
        """The path, percent-decoded as UTF-8 (``/a b``)."""
        return unquote(self.raw_path, errors="surrogateescape")

    @property
    def query(self) -> str:
        """The raw query string after ``?``, without it (``""`` when absent)."""
        _, mark, query = self.target.partition("?")
        return query.partition("#")[0] if mark else ""

    async def stream(self) -> AsyncIterator[bytes]:
        """Yield the body in chunks as they arrive (bounded memory)."""
        self._claim_body()
        while chunk := await self._body():
            yield chunk

    async def read(self) -> bytes:
        """The whole body as bytes (limited by the server's ``max_body_bytes``)."""
        return b"".join([chunk async for chunk in self.stream()])

    async def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(await self.read())

    def _with_target(self, target: str) -> Request:
        """A copy seen through another target, sharing this request's body."""
        copy = Request(
            self.method,
            target,
            headers=self.headers,
            http_version=self.http_version,
            client=self.client,
            scheme=self.scheme,
            body=self._body,
        )
        copy._consumed = self._consumed
        return copy

    def _claim_body(self) -> None:
        if self._consumed:
            raise RuntimeError("the request body was already read")
        self._consumed = True

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.target} HTTP/{self.http_version}>"


def _bytes_receiver(body: bytes) -> BodyReceiver:
    pending = [body] if body else []

    async def receive() -> bytes:
        return pending.pop() if pending else b""

    return receive
