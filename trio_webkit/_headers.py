"""Headers: ordered, case-insensitive, multi-valued; str at the API, bytes on the wire."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol, TypeAlias

# RFC 9110 §5.1 token and §5.5 field value (HTAB, SP, VCHAR, obs-text): no CR,
# LF or NUL, so a value can never smuggle a second header line into a head.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_BAD_VALUE = re.compile(r"[^\t\x20-\x7e\x80-\xff]")  # controls (CR, LF, NUL...), non-Latin-1

HeaderName: TypeAlias = str | bytes
HeadersLike: TypeAlias = (
    "Headers | Mapping[str, str] | Mapping[bytes, bytes]"
    " | Iterable[tuple[HeaderName, HeaderName]] | None"
)


class _RawFields(Protocol):
    """What h11 gives for a parsed message's headers."""

    def raw_items(self) -> list[tuple[bytes, bytes]]: ...


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


#: Names already checked (a handler sends the same few again and again).
_VALID_NAMES: set[str] = set()
_MAX_VALID_NAMES = 1024


def _checked(name: str | bytes, value: str | bytes) -> tuple[str, str]:
    text_name = name if type(name) is str else _text(name)
    text_value = (value if type(value) is str else _text(value)).strip(" \t")
    if text_name not in _VALID_NAMES:
        if not _TOKEN.match(text_name):
            raise ValueError(f"invalid header name {text_name!r}")
        if len(_VALID_NAMES) < _MAX_VALID_NAMES:
            _VALID_NAMES.add(text_name)
    # Printable ASCII is valid (no CR, LF, NUL...): the common case, checked in C.
    if not (text_value.isascii() and text_value.isprintable()) and _BAD_VALUE.search(text_value):
        raise ValueError(f"invalid value for header {text_name!r}: {text_value!r}")
    return text_name, text_value


class Headers:
    """An ordered, case-insensitive, multi-valued collection of HTTP header fields.

    Built from a mapping or an iterable of ``(name, value)`` pairs, each a
    ``str`` or ``bytes`` (bytes are read as Latin-1). Names and values are
    validated, so a value with CR or LF raises :class:`ValueError` instead of
    injecting a header line.

    >>> h = Headers([("Set-Cookie", "a=1"), ("set-cookie", "b=2"), ("Host", "x")])
    >>> h["host"], h.get_all("SET-COOKIE"), "HOST" in h
    ('x', ['a=1', 'b=2'], True)

    Iterating yields the distinct names (lower-cased), like a dict;
    :meth:`items` yields every field in order with its original spelling.

    Args:
        headers: a mapping, an iterable of ``(name, value)`` pairs, another
            :class:`Headers` (copied), or ``None`` for none.

    Raises:
        ValueError: a name is not a token, or a value holds CR, LF, NUL or
            another control character.
    """

    __slots__ = ("_fields", "_raw")

    def __init__(self, headers: HeadersLike = None) -> None:
        self._raw: _RawFields | None = None
        self._fields: list[tuple[str, str]] = []
        if headers is None:
            return
        if isinstance(headers, Headers):
            self._fields = list(headers._pairs())
            return
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        self._fields = [_checked(name, value) for name, value in pairs]

    @classmethod
    def _from_wire(cls, raw: _RawFields) -> Headers:
        """Wrap fields h11 already validated; decoded only when first read."""
        headers = cls.__new__(cls)
        headers._raw = raw
        headers._fields = []
        return headers

    def _pairs(self) -> list[tuple[str, str]]:
        if self._raw is not None:
            self._fields = [
                (n.decode("latin-1"), v.decode("latin-1")) for n, v in self._raw.raw_items()
            ]
            self._raw = None
        return self._fields

    # -- reading ---------------------------------------------------------
    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name``, or ``default`` when absent.

        Args:
            name: the field name, in any case.
            default: returned when no field has that name.

        Returns:
            The value (str, Latin-1 decoded, surrounding whitespace stripped).
        """
        wanted = name.lower()
        for field, value in self._pairs():
            if field.lower() == wanted:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, in order (empty list when absent).

        Args:
            name: the field name, in any case.

        Returns:
            The values of every field of that name, as they appeared.
        """
        wanted = name.lower()
        return [value for field, value in self._pairs() if field.lower() == wanted]

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def keys(self) -> list[str]:
        """The distinct names, lower-cased, in order of first appearance."""
        return list(dict.fromkeys(field.lower() for field, _ in self._pairs()))

    def items(self) -> list[tuple[str, str]]:
        """Every ``(name, value)`` field in order, names as they were given."""
        return list(self._pairs())

    def raw(self) -> list[tuple[bytes, bytes]]:
        """Every field as Latin-1 bytes, for the wire."""
        if self._raw is not None:
            return list(self._raw.raw_items())
        return [(n.encode("latin-1"), v.encode("latin-1")) for n, v in self._fields]

    def copy(self) -> Headers:
        """An independent copy."""
        return Headers(self)

    # -- writing ---------------------------------------------------------
    def add(self, name: str, value: str) -> None:
        """Append a field, keeping any existing ones of the same name.

        Args:
            name: a field name (an RFC 9110 token).
            value: its value (no CR, LF, NUL or other controls).

        Raises:
            ValueError: the name or the value is invalid (a value with CR or
                LF would inject a header line).
        """
        self._pairs().append(_checked(name, value))

    def __setitem__(self, name: str, value: str) -> None:
        """Replace every field of ``name`` by one with ``value``."""
        checked = _checked(name, value)
        self._remove(name)
        self._fields.append(checked)

    def setdefault(self, name: str, value: str) -> str:
        """Add ``name: value`` unless ``name`` is present; return the value in effect.

        Args:
            name: the field name, in any case.
            value: added when the name is absent.

        Returns:
            The first existing value, or ``value`` once added.

        Raises:
            ValueError: ``value`` had to be added and is invalid.
        """
        current = self.get(name)
        if current is None:
            self.add(name, value)
            return value
        return current

    def __delitem__(self, name: str) -> None:
        if not self._remove(name):
            raise KeyError(name)

    def _remove(self, name: str) -> int:
        """Drop every field of ``name``; return how many there were."""
        wanted = name.lower()
        before = self._pairs()
        self._fields = [(f, v) for f, v in before if f.lower() != wanted]
        return len(before) - len(self._fields)

    # -- comparison ------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        try:
            other_headers = other if isinstance(other, Headers) else Headers(other)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return NotImplemented
        return _normalised(self) == _normalised(other_headers)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self.items()!r})"


def _normalised(headers: Headers) -> list[tuple[str, str]]:
    return [(name.lower(), value) for name, value in headers.items()]
