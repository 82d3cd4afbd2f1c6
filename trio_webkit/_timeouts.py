"""Timeout policy (:class:`Timeout`) and the cancel-scope helper for one phase."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
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
    ``Timeout(5.0, read=30.0)``.

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


@contextmanager
def phase_limit(
    seconds: float | None, error: type[HTTPError], message: str, **context: str | None
) -> Iterator[trio.CancelScope]:
    """Run the body under a cancel scope of ``seconds``; on expiry raise ``error``.

    Only this scope's own deadline turns into ``error``: a caller's
    ``trio.fail_after`` around it propagates untouched. The scope is yielded so
    that an inactivity limit can be re-armed after each chunk.
    """
    with trio.move_on_after(math.inf if seconds is None else seconds) as scope:
        yield scope
    if scope.cancelled_caught:
        raise error(message, **context)
