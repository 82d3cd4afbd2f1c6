"""ServerConfig: defaults safe for the open internet, validated, frozen.

* Every timeout is set and finite by default; limits are finite.
* A timeout is ``None`` (off) or a positive number: 0, negatives and NaN are
  refused at construction, not discovered under load.
* ``max_header_bytes``, ``max_body_bytes`` and ``max_connections`` are
  positive ints; only ``max_body_bytes`` may be ``None`` (no limit), since
  DESIGN.md gives the other two no "off" value.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import pytest

from trio_webkit import ServerConfig

TIMEOUTS = (
    "header_timeout",
    "keepalive_timeout",
    "body_timeout",
    "send_timeout",
    "shutdown_timeout",
)
LIMITS = ("max_header_bytes", "max_body_bytes", "max_connections")


def _config(**options: Any) -> ServerConfig:
    return ServerConfig(**options)


def test_max_header_bytes_default_is_16k() -> None:
    assert ServerConfig().max_header_bytes == 16384


@pytest.mark.parametrize("name", TIMEOUTS)
def test_every_timeout_is_set_and_finite_by_default(name: str) -> None:
    value = getattr(ServerConfig(), name)
    assert value is not None
    assert 0 < value < math.inf


@pytest.mark.parametrize("name", LIMITS)
def test_limits_are_finite_by_default(name: str) -> None:
    value = getattr(ServerConfig(), name)
    assert isinstance(value, int)
    assert 0 < value < 2**40


def test_keepalive_is_shorter_than_header_timeout_by_default() -> None:
    # An idle connection should not outlive a slow one still sending its head.
    config = ServerConfig()
    assert config.keepalive_timeout is not None
    assert config.header_timeout is not None
    assert config.keepalive_timeout <= config.header_timeout


def test_other_defaults() -> None:
    config = ServerConfig()
    assert isinstance(config.server_header, str)
    assert config.server_header.startswith("trio-webkit")
    assert config.access_log is True


@pytest.mark.parametrize("name", TIMEOUTS)
def test_none_disables_a_timeout(name: str) -> None:
    assert getattr(_config(**{name: None}), name) is None


@pytest.mark.parametrize("name", TIMEOUTS)
@pytest.mark.parametrize("value", [0.001, 1, 3600.0])
def test_positive_timeouts_accepted(name: str, value: float) -> None:
    assert getattr(_config(**{name: value}), name) == value


@pytest.mark.parametrize("name", TIMEOUTS)
@pytest.mark.parametrize("bad", [0, 0.0, -1, -0.5, math.nan, -math.inf])
def test_bad_timeouts_rejected(name: str, bad: float) -> None:
    with pytest.raises(ValueError):
        _config(**{name: bad})


def test_none_accepted_for_max_body_bytes() -> None:
    assert ServerConfig(max_body_bytes=None).max_body_bytes is None


@pytest.mark.parametrize("name", LIMITS)
@pytest.mark.parametrize("value", [1, 100, 10**9])
def test_positive_limits_accepted(name: str, value: int) -> None:
    assert getattr(_config(**{name: value}), name) == value


@pytest.mark.parametrize("name", LIMITS)
@pytest.mark.parametrize("bad", [0, -1, -16384, True, False])
def test_non_positive_limits_rejected(name: str, bad: int) -> None:
    with pytest.raises(ValueError):
        _config(**{name: bad})


@pytest.mark.parametrize("name", LIMITS)
@pytest.mark.parametrize("bad", [math.nan, 1.5, math.inf, "100"])
def test_non_integer_limits_rejected(name: str, bad: object) -> None:
    # NaN compares false with everything: a NaN body limit would never trip.
    with pytest.raises((TypeError, ValueError)):
        _config(**{name: bad})


@pytest.mark.parametrize("name", ["max_header_bytes", "max_connections"])
def test_none_rejected_for_limits_that_cannot_be_off(name: str) -> None:
    # Server() passes these straight to h11 and trio.Semaphore, which need ints.
    with pytest.raises((TypeError, ValueError)):
        _config(**{name: None})


def test_server_header_can_be_omitted() -> None:
    assert ServerConfig(server_header=None).server_header is None


def test_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        ServerConfig(1.0)


@pytest.mark.parametrize("name", [*TIMEOUTS, *LIMITS, "server_header", "access_log"])
def test_frozen(name: str) -> None:
    config = ServerConfig()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(config, name, getattr(config, name))


def test_equality_and_evolve() -> None:
    assert ServerConfig() == ServerConfig()
    shorter = attrs.evolve(ServerConfig(), header_timeout=1.0)
    assert shorter.header_timeout == 1.0
    assert shorter != ServerConfig()
    with pytest.raises(ValueError):
        attrs.evolve(ServerConfig(), header_timeout=-1)
