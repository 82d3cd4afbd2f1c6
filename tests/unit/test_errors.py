"""The error tree of DESIGN.md §2 and what every error carries.

* One base, ``HTTPError``; the four timeouts are also the built-in
  ``TimeoutError`` (so also ``OSError``); ``IncompleteBody`` is a
  ``ProtocolError``; ``InvalidURL`` (and ``UnsupportedScheme``) is also a
  ``ValueError``.
* The message starts with the method and the URL when they are known:
  ``"GET http://x/: no data for 5s"``; ``.phase`` names the phase.
* Errors cross process and thread boundaries (multiprocessing, trio's
  ``to_thread``/``to_process`` results): pickling keeps the type, the
  message and every attribute.
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest

import trio_webkit
from trio_webkit import (
    ConnectError,
    ConnectTimeout,
    HTTPError,
    HTTPStatusError,
    IncompleteBody,
    InvalidURL,
    PoolTimeout,
    ProtocolError,
    ReadTimeout,
    Response,
    TooManyRedirects,
    UnsupportedScheme,
    WriteTimeout,
)

TIMEOUTS: list[type[HTTPError]] = [ConnectTimeout, ReadTimeout, WriteTimeout, PoolTimeout]

# (error class, the classes it must be an instance of, classes it must NOT be)
TREE = [
    (ConnectError, [HTTPError], [TimeoutError, ProtocolError, ValueError]),
    *[(cls, [HTTPError, TimeoutError, OSError], [ProtocolError, ValueError]) for cls in TIMEOUTS],
    (ProtocolError, [HTTPError], [TimeoutError, ValueError]),
    (IncompleteBody, [HTTPError, ProtocolError], [TimeoutError, ValueError]),
    (TooManyRedirects, [HTTPError], [TimeoutError, ProtocolError]),
    (InvalidURL, [HTTPError, ValueError], [TimeoutError, ProtocolError]),
    (UnsupportedScheme, [HTTPError, InvalidURL, ValueError], [TimeoutError]),
    (HTTPStatusError, [HTTPError], [TimeoutError, ProtocolError, ValueError]),
]


def _make(cls: type[HTTPError], message: str = "boom", **kw: object) -> HTTPError:
    if cls is HTTPStatusError:
        kw.setdefault("response", Response(500))
    return cls(message, **kw)  # type: ignore[arg-type]


def test_base_is_an_exception() -> None:
    assert issubclass(HTTPError, Exception)
    assert not issubclass(HTTPError, (TimeoutError, OSError, ValueError))


@pytest.mark.parametrize(("cls", "is_a", "is_not"), TREE, ids=[cls.__name__ for cls, _, _ in TREE])
def test_error_tree(
    cls: type[HTTPError], is_a: list[type[BaseException]], is_not: list[type[BaseException]]
) -> None:
    error = _make(cls)
    for parent in is_a:
        assert isinstance(error, parent), parent
    for other in is_not:
        assert not isinstance(error, other), other


@pytest.mark.parametrize("cls", TIMEOUTS)
def test_timeouts_are_caught_by_except_timeout_error(cls: type[HTTPError]) -> None:
    with pytest.raises(TimeoutError):
        raise _make(cls)


def test_invalid_url_is_caught_by_except_value_error() -> None:
    with pytest.raises(ValueError):
        raise UnsupportedScheme("gopher is not supported", url="gopher://x/")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"method": "GET", "url": "http://x/"}, "GET http://x/: no data for 5s"),
        ({"url": "http://x/"}, "http://x/: no data for 5s"),
        ({"method": "POST"}, "POST: no data for 5s"),
        ({}, "no data for 5s"),
        ({"phase": "read"}, "no data for 5s"),
    ],
)
def test_message_starts_with_method_and_url(kwargs: dict[str, str], expected: str) -> None:
    assert str(ReadTimeout("no data for 5s", **kwargs)) == expected


def test_the_brief_example() -> None:
    error = ReadTimeout("no data for 5s", method="GET", url="http://x/")
    assert str(error) == "GET http://x/: no data for 5s"


@pytest.mark.parametrize("cls", [cls for cls, _, _ in TREE])
def test_every_error_names_method_and_url(cls: type[HTTPError]) -> None:
    error = _make(cls, "went wrong", method="PUT", url="http://h:1/p", phase="write")
    assert str(error) == "PUT http://h:1/p: went wrong"
    assert error.message == "went wrong"
    assert (error.method, error.url, error.phase) == ("PUT", "http://h:1/p", "write")


def test_attributes_default_to_none() -> None:
    error = ProtocolError("bad")
    assert (error.method, error.url, error.phase) == (None, None, None)


def test_phase_defaults() -> None:
    assert TooManyRedirects("loop").phase == "redirect"
    assert HTTPStatusError("bad", response=Response(404)).phase == "status"


def test_incomplete_body_counts() -> None:
    error = IncompleteBody("connection closed", received=10, expected=100, url="http://x/")
    assert (error.received, error.expected) == (10, 100)
    assert str(error) == "http://x/: connection closed"
    chunked = IncompleteBody("no final chunk", received=5)
    assert (chunked.received, chunked.expected) == (5, None)


def test_too_many_redirects_history() -> None:
    history = (Response(301), Response(302))
    error = TooManyRedirects("more than 1", history=history, url="http://x/")
    assert error.history == list(history)
    assert TooManyRedirects("x").history == []


def test_http_status_error_response() -> None:
    response = Response(503, body=b"down")
    error = HTTPStatusError("server error", response=response)
    assert error.response is response


def _pickle_cases() -> list[HTTPError]:
    context: dict[str, Any] = {"method": "GET", "url": "http://x/", "phase": "read"}
    return [
        HTTPError("base", **context),
        ConnectError("refused", method="GET", url="http://x/", phase="connect"),
        *[cls("timed out", **context) for cls in TIMEOUTS],
        ProtocolError("garbage", **context),
        IncompleteBody("short", received=3, expected=10, **context),
        TooManyRedirects("too many", history=[Response(301)], method="GET", url="http://x/"),
        InvalidURL("no host", url="http://"),
        UnsupportedScheme("nope", url="gopher://x/"),
        HTTPStatusError("client error 404", response=Response(404, body=b"nf"), url="http://x/"),
        ReadTimeout("bare"),
    ]


@pytest.mark.parametrize("error", _pickle_cases(), ids=lambda e: type(e).__name__)
def test_pickle_round_trip(error: HTTPError) -> None:
    restored = pickle.loads(pickle.dumps(error))
    assert type(restored) is type(error)
    assert str(restored) == str(error)
    assert restored.args == error.args
    assert repr(restored) == repr(error)
    assert restored.message == error.message
    assert (restored.method, restored.url, restored.phase) == (
        error.method,
        error.url,
        error.phase,
    )
    if isinstance(error, IncompleteBody):
        assert isinstance(restored, IncompleteBody)
        assert (restored.received, restored.expected) == (error.received, error.expected)
    if isinstance(error, TooManyRedirects):
        assert isinstance(restored, TooManyRedirects)
        assert [r.status for r in restored.history] == [r.status for r in error.history]
    if isinstance(error, HTTPStatusError):
        assert isinstance(restored, HTTPStatusError)
        assert restored.response.status == error.response.status
        assert restored.response.content == error.response.content


def test_all_errors_exported() -> None:
    for cls, _, _ in TREE:
        assert getattr(trio_webkit, cls.__name__) is cls
