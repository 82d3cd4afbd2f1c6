"""Timeout policy (:class:`Timeout`) and the cancel-scope helper for one phase."""

from __future__ import annotations

import math
from collections.abc import Callable
from types import TracebackType
from typing import Any

import attrs
import trio

from ._errors import HTTPError

_UNSET: Any = object()


def _check_limit(instance: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not value >= 0:  # also rejects NaN
        raise ValueError(f"{attribute.name} must be None or >= 0 seconds, not {value!r}")


@attrs.frozen(init=False)
class Timeout:
    """Per-phase time limits of a client, in seconds (``None`` disables one).

    ``Timeout(5.0)`` sets all four phases; keywords override single phases:
    ``Timeout(5.0, read=30.0)``. Each phase is a cancel scope around the one
    wait it limits; its expiry raises :class:`ConnectTimeout`,
    :class:`ReadTimeout`, :class:`WriteTimeout` or :class:`PoolTimeout`. A
    caller's own ``trio.fail_after`` composes with it.

    Args:
        default: the limit of every phase not given by keyword (``None``:
            no limit).
        connect: the ``connect`` limit, instead of ``default``.
        read: the ``read`` limit, instead of ``default``.
        write: the ``write`` limit, instead of ``default``.
        pool: the ``pool`` limit, instead of ``default``.

    Raises:
        ValueError: a limit is negative or NaN.

    Attributes:
        connect: longest time to open the TCP connection and finish TLS.
        read: longest *silence* while waiting for response bytes; a peer that
            trickles a byte every few seconds never trips it. Wrap the call in
            :func:`trio.fail_after` for a total deadline: both compose.
        write: longest time the peer may refuse request bytes.
        pool: longest wait for a free connection slot.
    """

    connect: float | None = attrs.field(validator=_check_limit)
    read: float | None = attrs.field(validator=_check_limit)
    write: float | None = attrs.field(validator=_check_limit)
    pool: float | None = attrs.field(validator=_check_limit)

    def __init__(
        self,
        default: float | None = 5.0,
        *,
        connect: float | None = _UNSET,
        read: float | None = _UNSET,
        write: float | None = _UNSET,
        pool: float | None = _UNSET,
    ) -> None:
        def pick(value: float | None) -> float | None:
            return default if value is _UNSET else value

        self.__attrs_init__(pick(connect), pick(read), pick(write), pick(pool))


class phase_limit:  # lower-case: used like the context-manager function it replaced
    """Run the body under a cancel scope of ``seconds``; on expiry raise ``error``.

    ``with phase_limit(limits.read, ReadTimeout, message, url=...):`` —
    only this scope's own deadline turns into ``error``: a caller's
    ``trio.fail_after`` around it propagates untouched. ``message`` may be a
    zero-argument callable, built only if the limit expires. (A class, not
    a ``@contextmanager``: it wraps every read and write of the client.)
    """

    __slots__ = ("_context", "_error", "_message", "_scope")

    def __init__(
        self,
        seconds: float | None,
        error: type[HTTPError],
        message: str | Callable[[], str],
        **context: str | None,
    ) -> None:
        self._scope = trio.move_on_after(math.inf if seconds is None else seconds)
        self._error = error
        self._message = message
        self._context = context

    def __enter__(self) -> trio.CancelScope:
        return self._scope.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # The scope swallows only its own cancellation, which becomes ``error``;
        # anything else (a caller's deadline included) propagates as it was.
        self._scope.__exit__(exc_type, exc, traceback)
        if self._scope.cancelled_caught:
            message = self._message if isinstance(self._message, str) else self._message()
            raise self._error(message, **self._context)
