"""The strict chunk framing check, following a real h11 parser.

Every body is delivered split at every byte offset (and byte by byte): the
check follows h11's events, so how the bytes arrive must never change its
verdict.
"""

from __future__ import annotations

import h11
import pytest

from trio_webkit._chunk_checks import ChunkFramingCheck

HEAD = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
NEXT = b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"


def verdict(pieces: list[bytes]) -> tuple[str | None, bytes]:
    """(the check's first problem or None, the body h11 delivered)."""
    parser = h11.Connection(h11.SERVER)
    parser.receive_data(HEAD)
    assert isinstance(parser.next_event(), h11.Request)
    check = ChunkFramingCheck(parser.trailing_data[0])
    body = b""
    for piece in filter(None, pieces):  # b"" would tell h11 the peer closed
        parser.receive_data(piece)
        check.received(piece)
        while True:
            try:
                event = parser.next_event()
            except h11.RemoteProtocolError as error:
                return f"h11: {error}", body
            if type(event) is h11.Data:
                body += event.data
                if problem := check.data(event):
                    return problem, body
            elif type(event) is h11.EndOfMessage:
                return check.end(parser.trailing_data[0]), body
            else:
                assert event is h11.NEED_DATA
                break
    return "incomplete", body


def every_split(body: bytes) -> list[list[bytes]]:
    data = body + NEXT
    splits = [[data[:at], data[at:]] for at in range(len(body) + 1)]
    return [*splits, [data[i : i + 1] for i in range(len(data))]]


VALID = [
    (b"0\r\n\r\n", b""),
    (b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
    (b"5\r\nhello\r\n6\r\n world\r\n000\r\n\r\n", b"hello world"),
    (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
    (b"5;name\r\nhello\r\n0\r\n\r\n", b"hello"),
    (b'5;a = b ;c="q \\" x"\r\nhello\r\n0;last\r\n\r\n', b"hello"),
    (b'5;a=""\r\nhello\r\n0\r\n\r\n', b"hello"),
    (b"1\r\n\r\r\n1\r\n\n\r\n0\r\n\r\n", b"\r\n"),  # CR and LF as chunk data are data
    (b"5\r\nhello\r\n0\r\nX-Trailer: 1\r\nEmpty:\r\n\r\n", b"hello"),
]

INVALID = [
    b"5 \r\nhello\r\n0\r\n\r\n",  # whitespace after the size, no extension
    b"5\t\r\nhello\r\n0\r\n\r\n",
    b"5;\r\nhello\r\n0\r\n\r\n",  # ';' without a name
    b"5;a=\r\nhello\r\n0\r\n\r\n",  # '=' without a value
    b'5;a="b\r\nhello\r\n0\r\n\r\n',  # unterminated quoted-string
    b"5;a\rb\r\nhello\r\n0\r\n\r\n",  # bare CR in the line
    b"5;a=b c\r\nhello\r\n0\r\n\r\n",  # a space inside a token value
    b"5\r\nhello\r\n0 \r\n\r\n",  # on the last chunk too
    b"5\r\nhello\r\n0\r\n\n",  # bare LF ends the trailer section
    b"5\r\nhello\r\n0\r\nX: 1\n\r\n",  # bare LF ends a trailer field
    b"5\r\nhello\r\n0\r\nX : 1\r\n\r\n",  # space before the colon
    b"5\r\nhello\r\n0\r\nX: 1\r\n folded\r\n\r\n",  # obs-fold in the trailers
    b"5\r\nhello\r\n0\r\nX: a\x00b\r\n\r\n",  # NUL in a trailer value
]


@pytest.mark.parametrize(("body", "data"), VALID)
def test_valid_bodies_pass_however_split(body: bytes, data: bytes) -> None:
    for pieces in every_split(body):
        assert verdict(pieces) == (None, data), pieces


@pytest.mark.parametrize("body", INVALID)
def test_invalid_framing_is_found_however_split(body: bytes) -> None:
    for pieces in every_split(body):
        problem, _ = verdict(pieces)
        assert problem is not None and problem != "incomplete", pieces


def test_announced_sizes_add_up_before_the_data_arrives() -> None:
    parser = h11.Connection(h11.SERVER)
    parser.receive_data(HEAD + b"5\r\nhe")
    parser.next_event()
    check = ChunkFramingCheck(parser.trailing_data[0])
    event = parser.next_event()
    assert isinstance(event, h11.Data) and check.data(event) is None
    assert check.announced == 5
    more = b"llo\r\n" + b"f" * 20 + b"\r\nabc"
    parser.receive_data(more)
    check.received(more)
    while isinstance(event := parser.next_event(), h11.Data):
        assert check.data(event) is None
    assert check.announced == 5 + 16**20 - 1  # the server answers 413 on seeing it
