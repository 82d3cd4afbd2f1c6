"""``trio-webkit get``: fetch a URL to stdout or to a file, like a small curl.

The body is streamed chunk by chunk (never held whole): to
``sys.stdout.buffer`` or to a temporary file beside ``-o FILE`` that is
renamed into place only once the whole body arrived, so a failed transfer
never leaves a truncated FILE. http and https go through
:class:`~trio_webkit.Client`; ``file:`` and ``data:`` URLs through
:func:`~trio_webkit.open_url`. Writes run in a worker thread, so a slow
terminal or pipe never stalls the event loop (timeouts keep working).

Decisions, as ``--help`` documents them:

* A 4xx or 5xx is a failure, as with ``curl -f``: exit 1 with one line
  naming the URL, and no file is written. With ``-i`` the error response
  (head and body) is still shown on stdout first, since that is what
  ``-i`` asks for.
* ``-i`` prints the final response's status line and headers on stdout
  (after redirects; ``file:`` and ``data:`` URLs have headers but no status
  line); with ``-o`` the body still goes to FILE.
* ``--max-redirects 0`` does not follow redirects: the 3xx is the answer.
* ``-d`` sends a POST unless ``-X`` says otherwise, with
  ``Content-Type: application/x-www-form-urlencoded`` unless ``-H`` gives
  one (as curl does); ``-d @FILE`` sends a file's bytes, ``-d @-`` stdin's.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import sys
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import attrs
import trio

from .._client import Client
from .._errors import HTTPError
from .._headers import Headers
from .._open_url import open_url
from .._timeouts import Timeout
from .._urls import parse_url
from ._progress import ProgressBar
from ._serving import (
    EXIT_FAILURE,
    EXIT_OK,
    UsageError,
    positive_number,
    print_error,
    silence_stdout,
)

_SCHEMES = ("http", "https", "file", "data")
_LOCAL_SCHEMES = ("file", "data")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_FORM = "application/x-www-form-urlencoded"

_DESCRIPTION = """\
Fetch URL (http, https, file or data) and write its body to stdout, or to
FILE with -o (written under a temporary name, renamed once complete; a
progress bar on stderr when stderr is a terminal). Redirects are followed;
gzip and deflate bodies are decoded.

A 4xx or 5xx response is a failure, as with curl -f: nothing is written
(with -i the response is still shown on stdout), one line on stderr names
the URL, and the exit status is 1, as for any other failure (connection
refused, timeout, body cut short). Bad arguments exit with status 2.
"""

_EPILOG = """\
examples:
  trio-webkit get http://127.0.0.1:8000/ > page.html
  trio-webkit get -o big.iso http://127.0.0.1:8000/big.iso
  trio-webkit get -i -X POST -H 'Content-Type: application/json' -d '{"a": 1}' http://host/api
  trio-webkit get 'data:text/plain;base64,SGVsbG8='
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``get`` command."""
    parser = commands.add_parser(
        "get",
        help="fetch a URL to stdout or a file",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("url", metavar="URL", type=url_argument, help="http, https, file or data")
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the body to FILE instead of stdout ('-': stdout)",
    )
    parser.add_argument(
        "-i",
        "--include",
        action="store_true",
        help="print the status line and headers first, on stdout",
    )
    parser.add_argument(
        "-X",
        "--request",
        dest="method",
        metavar="METHOD",
        type=method_argument,
        help="request method (default: GET, or POST with -d)",
    )
    parser.add_argument(
        "-H",
        "--header",
        dest="headers",
        metavar="'NAME: VALUE'",
        type=header_argument,
        action="append",
        default=[],
        help="send this header (repeatable)",
    )
    parser.add_argument(
        "-d", "--data", metavar="DATA", help="send DATA as the body (@FILE: a file; @-: stdin)"
    )
    parser.add_argument(
        "--max-redirects",
        metavar="N",
        type=redirect_count,
        default=10,
        help="follow at most N redirects; 0: do not follow (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        metavar="S",
        type=seconds_argument,
        default=30.0,
        help="limit of each phase in seconds: connect, and each wait for data "
        "(inactivity, not a total) (default: %(default)g)",
    )
    parser.set_defaults(run=run)


# -- argument types (argparse turns their errors into usage errors) ----------------


def url_argument(text: str) -> str:
    """argparse ``type=``: a URL ``get`` can fetch (checked, returned as given)."""
    try:
        parse_url(text, schemes=_SCHEMES)
    except HTTPError as error:
        raise argparse.ArgumentTypeError(error.message) from None
    return text


def method_argument(text: str) -> str:
    """argparse ``type=``: an HTTP method (an RFC 9110 token), upper-cased."""
    if not _TOKEN.match(text):
        raise argparse.ArgumentTypeError(f"not a method name: {text!r}")
    return text.upper()


def header_argument(text: str) -> tuple[str, str]:
    """argparse ``type=``: ``'Name: value'`` (the value may be empty)."""
    name, colon, value = text.partition(":")
    if not colon:
        raise argparse.ArgumentTypeError(f"expected 'Name: value', not {text!r}")
    try:
        Headers([(name, value)])
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{error} in {text!r}") from None
    return name, value.strip()


def redirect_count(text: str) -> int:
    """argparse ``type=``: a whole number of at least 0."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 0, not {text!r}")
    return int(text)


#: argparse ``type=``: a finite number of seconds greater than 0.
seconds_argument = positive_number("a number of seconds")


# -- the command ------------------------------------------------------------------


@attrs.frozen
class Plan:
    """Everything one ``get`` does, decided before the event loop starts."""

    url: str
    method: str
    headers: list[tuple[str, str]]
    body: bytes | None
    output: str | None  # None: stdout
    include: bool
    max_redirects: int
    timeout: float


def run(args: argparse.Namespace) -> int:
    """Fetch ``args.url``; return the exit status."""
    local = urlsplit(args.url).scheme.lower() in _LOCAL_SCHEMES
    method = args.method or ("POST" if args.data is not None else "GET")
    if local and (args.data is not None or method != "GET"):
        raise UsageError("file: and data: URLs can only be read: no -d, and no -X but GET")
    output = None if args.output in (None, "-") else args.output
    if output is not None and Path(output).is_dir():
        print_error(f"cannot write to {output}: it is a directory")
        return EXIT_FAILURE
    try:
        body = _read_data(args.data)
    except OSError as error:
        print_error(f"cannot read the data {args.data}: {error.strerror or error}")
        return EXIT_FAILURE
    headers: list[tuple[str, str]] = list(args.headers)
    if body is not None and not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", _FORM))
    plan = Plan(
        url=args.url,
        method=method,
        headers=headers,
        body=body,
        output=output,
        include=args.include,
        max_redirects=args.max_redirects,
        timeout=args.timeout,
    )
    return trio.run(partial(fetch, plan))


def _read_data(data: str | None) -> bytes | None:
    """The request body of ``-d``: the text, or a file's bytes for ``@FILE`` (``@-``: stdin)."""
    if data is None:
        return None
    if data == "@-":
        return sys.stdin.buffer.read()
    if data.startswith("@"):
        return Path(data[1:]).read_bytes()
    return data.encode("utf-8")


class Failure(Exception):
    """A failure of ``get`` that is not an :class:`HTTPError`, already in words.

    A 4xx or 5xx response, or a body that cannot be written (disk full,
    broken pipe...).
    """


async def fetch(plan: Plan) -> int:
    """Carry out ``plan``; report any failure as one line; return the exit status."""
    try:
        if urlsplit(plan.url).scheme.lower() in _LOCAL_SCHEMES:
            await _fetch_local(plan)
        else:
            await _fetch_http(plan)
    except HTTPError as error:  # before OSError: the timeouts are TimeoutErrors too
        print_error(str(error) if error.url else f"{plan.url}: {error}")
        return EXIT_FAILURE
    except Failure as failure:
        print_error(str(failure))
        return EXIT_FAILURE
    return EXIT_OK


async def _fetch_http(plan: Plan) -> None:
    async with (
        Client(
            timeout=Timeout(plan.timeout),
            follow_redirects=plan.max_redirects > 0,
            max_redirects=plan.max_redirects,
        ) as client,
        client.stream(plan.method, plan.url, headers=plan.headers, body=plan.body) as response,
    ):
        head = [f"HTTP/{response.http_version} {response.status} {response.reason}".rstrip()]
        if plan.include:
            await _write_head(head, response.headers.items())
        failure = None
        if response.status >= 400:
            failure = Failure(
                f"{plan.method} {response.url}: HTTP {response.status} {response.reason}".rstrip()
            )
            if not plan.include:
                raise failure
        output = None if failure else plan.output  # an error page never replaces a file
        total = None if plan.method == "HEAD" else _length(response.headers)
        async with open_output(output, total) as write:
            async for chunk in response.iter_bytes():
                await write(chunk)
        if failure:
            raise failure


async def _fetch_local(plan: Plan) -> None:
    async with open_url(plan.url, timeout=Timeout(plan.timeout)) as resource:
        if plan.include:
            await _write_head([], resource.headers.items())
        async with open_output(plan.output, _length(resource.headers)) as write:
            async for chunk in resource:
                await write(chunk)


def _length(headers: Headers) -> int | None:
    """The body size announced by Content-Length (``None`` when unknown or encoded)."""
    value = headers.get("content-length")
    if value is None or not value.isdigit() or headers.get("content-encoding"):
        return None
    return int(value)


async def _write_head(lines: list[str], fields: Iterable[tuple[str, str]]) -> None:
    """Print the status line (if any) and the header fields, curl -i style (CRLF)."""
    text = "".join(f"{line}\r\n" for line in lines)
    text += "".join(f"{name}: {value}\r\n" for name, value in fields) + "\r\n"
    await _write_to(sys.stdout.buffer, "stdout", text.encode("latin-1", errors="replace"))


# -- where the body goes ----------------------------------------------------------


class Writer:
    """Writes body chunks to a file in a worker thread, updating the progress bar."""

    def __init__(self, file: BinaryIO, name: str, progress: ProgressBar | None) -> None:
        self.file = file
        self.name = name
        self.progress = progress
        self.written = 0

    async def __call__(self, chunk: bytes) -> None:
        """Write ``chunk``."""
        await _write_to(self.file, self.name, chunk)
        self.written += len(chunk)
        if self.progress is not None:
            self.progress.update(self.written)


async def _write_to(file: BinaryIO, name: str, data: bytes) -> None:
    try:
        await trio.to_thread.run_sync(file.write, data)
    except OSError as error:
        if file is sys.stdout.buffer:
            silence_stdout()
        raise Failure(f"cannot write to {name}: {error.strerror or error}") from error


def _create(path: Path) -> BinaryIO:
    """Create ``path``, which must not exist, for writing (mode 0666 less the umask)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb")


@asynccontextmanager
async def open_output(output: str | None, total: int | None) -> AsyncIterator[Writer]:
    """A :class:`Writer` to stdout (``output`` is ``None``) or to the file ``output``.

    A file is written under a temporary name beside it and renamed over
    ``output`` only when the block ends normally; otherwise the temporary
    file is removed. A progress bar is drawn on stderr for a file when
    stderr is a terminal.
    """
    if output is None:
        writer = Writer(sys.stdout.buffer, "stdout", None)
        yield writer
        try:
            await trio.to_thread.run_sync(sys.stdout.buffer.flush)
        except OSError as error:
            silence_stdout()
            raise Failure(f"cannot write to stdout: {error.strerror or error}") from error
        return
    target = Path(output)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    progress = ProgressBar(total) if sys.stderr.isatty() else None
    try:
        file = await trio.to_thread.run_sync(_create, temporary)
    except OSError as error:
        raise Failure(f"cannot write to {output}: {error.strerror or error}") from error
    try:
        yield Writer(file, output, progress)
        try:
            file.close()
            os.replace(temporary, target)
        except OSError as error:
            raise Failure(f"cannot write to {output}: {error.strerror or error}") from error
    except BaseException:
        if progress is not None:
            progress.abandon()
        with contextlib.suppress(OSError):
            file.close()
        temporary.unlink(missing_ok=True)  # synchronous: also when cancelled
        raise
    if progress is not None:
        progress.finish()
