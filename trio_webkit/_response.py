"""Response: what a handler returns, and (later) what the client receives."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from email.message import Message
from http import HTTPStatus
from typing import Any, final

from ._body_iter import BodyIterator
from ._client_connection import ResponseBody
from ._decoders import ContentDecoder, decoder_for
from ._errors import HTTPStatusError
from ._headers import Headers, HeadersLike
from ._producer import Producer

Body = bytes | str | AsyncIterable[bytes]


_PHRASES = {status.value: status.phrase for status in HTTPStatus}


def reason_phrase(status: int) -> str:
    """The standard reason phrase of ``status`` (``""`` when unknown)."""
    return _PHRASES.get(status, "")


@final
class Response:
    """An HTTP response.

    On the server, a handler returns one::

        Response(200, [("Content-Type", "text/plain")], b"hello")
        Response(200, body=some_async_iterable)            # chunked
        Response(200, producer=my_producer)                # chunked, backpressured

    ``body`` may be bytes, str (sent as UTF-8, with ``text/plain;
    charset=utf-8`` unless a Content-Type is given) or an async iterable of
    bytes. A *producer* is ``async def producer(send)`` run by the server in
    a nursery scoped to this response, pushing chunks into a bounded memory
    channel. Bytes bodies get Content-Length; streamed bodies use chunked
    encoding unless the headers give a Content-Length.

    Attributes:
        status: the status code.
        reason: the reason phrase (the standard one by default).
        http_version: ``"1.1"`` or ``"1.0"``.
        headers: the response's :class:`Headers`.
        body: bytes (also for a str body), an async iterable, or ``None`` when a
            producer supplies the body.
        producer: the producer, or ``None``.
        url: the final URL of a response the client received (``""`` on the server).
        history: the redirect responses the client followed to get this one.
    """

    __slots__ = (
        "_decompress",
        "_max_decoded",
        "_method",
        "_streaming",
        "body",
        "headers",
        "history",
        "http_version",
        "producer",
        "reason",
        "status",
        "url",
    )

    def __init__(
        self,
        status: int = 200,
        headers: HeadersLike = None,
        body: Body = b"",
        *,
        producer: Producer | None = None,
        reason: str | None = None,
        http_version: str = "1.1",
    ) -> None:
        if type(status) is not int or not 100 <= status <= 999:
            raise ValueError(f"invalid status code {status!r}")
        self.status = status
        self.reason = reason_phrase(status) if reason is None else reason
        self.http_version = http_version
        self.headers = Headers(headers)  # a copy: a shared Headers is never changed
        self.producer = producer
        self.url = ""
        self.history: list[Response] = []
        self._method: str | None = None  # the request's, on the client
        self._decompress = False  # decode Content-Encoding in iter_bytes()
        self._max_decoded: int | None = None  # ... producing at most this many bytes
        self._streaming = False  # the body is being iterated
        if producer is not None:
            if body:
                raise ValueError("give a body or a producer, not both")
            self.body: bytes | AsyncIterable[bytes] | None = None
        elif isinstance(body, str):
            self.headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            self.body = body.encode("utf-8")
        else:
            self.body = body

    @property
    def content(self) -> bytes:
        """The whole body as bytes (a streamed body must be read first)."""
        if not isinstance(self.body, bytes):
            raise RuntimeError("the response body is a stream: call 'await response.read()' first")
        return self.body

    def iter_raw(self) -> AsyncIterator[bytes]:
        """The body as it came off the wire (still compressed), chunk by chunk.

        A streamed body can be iterated once; a read body is yielded whole.
        Stopping early is fine: the iterator holds nothing to clean up.
        """
        body = self._claim_body()
        if isinstance(body, ResponseBody):
            return body  # the client's body as it arrives: no wrapper needed
        return BodyIterator(body, method=self._method, url=self.url or None)

    def iter_bytes(self) -> AsyncIterator[bytes]:
        """The body chunk by chunk, gzip/deflate decoded when the client decompresses.

        Memory stays bounded: each chunk is at most 64 KiB once decoded, and
        the decoded total at most the client's ``max_decompressed_bytes``
        (more raises :class:`ProtocolError`).
        """
        decoder = self._decoder()
        body = self._claim_body()
        if decoder is None and isinstance(body, ResponseBody):
            return body  # the client's body as it arrives: no wrapper needed
        context = {"method": self._method, "url": self.url or None}
        return BodyIterator(body, decoder, **context)

    def _decoder(self) -> ContentDecoder | None:
        """The decoder ``iter_bytes`` applies (``None``: the body is given as it came)."""
        if self._decompress and not isinstance(self.body, bytes):
            # Several field lines form one list, in order (RFC 9110 §5.3).
            encoding = ", ".join(self.headers.get_all("content-encoding"))
            return decoder_for(encoding, max_decoded=self._max_decoded)
        return None

    def _claim_body(self) -> AsyncIterable[bytes] | bytes:
        body = self.body
        if isinstance(body, bytes):
            return body
        if body is None or self._streaming:
            raise RuntimeError(
                "the response body was already streamed, or its 'stream()' block has ended"
            )
        self._streaming = True
        return body

    async def read(self) -> bytes:
        """Read the whole body (decoded) into :attr:`content` and return it."""
        if not isinstance(self.body, bytes):
            decoder = self._decoder()
            body = self._claim_body()
            if decoder is None and isinstance(body, ResponseBody):
                self.body = await body.read_all()  # a client's plain body: no iterator needed
            else:
                context = {"method": self._method, "url": self.url or None}
                chunks = BodyIterator(body, decoder, **context)
                self.body = b"".join([chunk async for chunk in chunks])
        return self.body

    @property
    def text(self) -> str:
        """The body decoded with the Content-Type's charset (UTF-8 by default)."""
        return self.content.decode(self.charset or "utf-8", errors="replace")

    @property
    def charset(self) -> str | None:
        """The ``charset`` parameter of Content-Type, or ``None``."""
        content_type = self.headers.get("content-type")
        if content_type is None:
            return None
        message = Message()
        message["content-type"] = content_type
        return message.get_content_charset()

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.content)

    def raise_for_status(self) -> Response:
        """Raise :class:`HTTPStatusError` for a 4xx or 5xx status; else return self."""
        if self.status >= 400:
            kind = "client error" if self.status < 500 else "server error"
            raise HTTPStatusError(
                f"{kind} {self.status} {self.reason}".rstrip(),
                response=self,
                method=self._method,
                url=self.url or None,
            )
        return self

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason}>"
