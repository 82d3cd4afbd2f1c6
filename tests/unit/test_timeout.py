"""Timeout: a frozen value with one limit per client phase (seconds, ``None`` = off)."""

from __future__ import annotations

import math

import attrs
import pytest

from trio_webkit import Timeout

PHASES = ("connect", "read", "write", "pool")


def _limits(timeout: Timeout) -> tuple[float | None, ...]:
    return tuple(getattr(timeout, phase) for phase in PHASES)


def test_one_number_sets_all_four() -> None:
    assert _limits(Timeout(5.0)) == (5.0, 5.0, 5.0, 5.0)
    assert _limits(Timeout(0.25)) == (0.25,) * 4


def test_default_is_finite_for_every_phase() -> None:
    for limit in _limits(Timeout()):
        assert limit is not None
        assert 0 < limit < math.inf


@pytest.mark.parametrize("phase", PHASES)
def test_keyword_overrides_one_phase(phase: str) -> None:
    timeout = Timeout(5.0, **{phase: 30.0})
    for other in PHASES:
        assert getattr(timeout, other) == (30.0 if other == phase else 5.0)


@pytest.mark.parametrize("phase", PHASES)
def test_none_disables_one_phase(phase: str) -> None:
    timeout = Timeout(5.0, **{phase: None})
    for other in PHASES:
        assert getattr(timeout, other) == (None if other == phase else 5.0)


def test_none_disables_all() -> None:
    assert _limits(Timeout(None)) == (None,) * 4


def test_none_default_with_one_phase_set() -> None:
    assert _limits(Timeout(None, connect=3.0)) == (3.0, None, None, None)


def test_all_keywords() -> None:
    timeout = Timeout(connect=1.0, read=2.0, write=3.0, pool=4.0)
    assert _limits(timeout) == (1.0, 2.0, 3.0, 4.0)


def test_zero_is_allowed() -> None:
    assert _limits(Timeout(0)) == (0, 0, 0, 0)


@pytest.mark.parametrize("bad", [-1, -0.001, math.nan, -math.inf])
def test_negative_or_nan_rejected_as_default(bad: float) -> None:
    with pytest.raises(ValueError):
        Timeout(bad)


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("bad", [-1, math.nan])
def test_negative_or_nan_rejected_per_phase(phase: str, bad: float) -> None:
    with pytest.raises(ValueError):
        Timeout(5.0, **{phase: bad})


@pytest.mark.parametrize("phase", PHASES)
def test_frozen(phase: str) -> None:
    timeout = Timeout(5.0)
    with pytest.raises(AttributeError):
        setattr(timeout, phase, 1.0)
    assert getattr(timeout, phase) == 5.0


def test_frozen_attrs_error() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        Timeout(1.0).read = 2.0  # type: ignore[misc]


def test_equality_and_hash() -> None:
    assert Timeout(5.0) == Timeout(connect=5.0, read=5.0, write=5.0, pool=5.0)
    assert Timeout(5.0) != Timeout(5.0, read=6.0)
    assert Timeout(5.0, pool=None) != Timeout(5.0)
    assert hash(Timeout(1.0)) == hash(Timeout(1.0))
    assert len({Timeout(1.0), Timeout(1.0), Timeout(2.0)}) == 2


def test_evolve_gives_a_new_value() -> None:
    base = Timeout(5.0)
    longer = attrs.evolve(base, read=60.0)
    assert _limits(longer) == (5.0, 60.0, 5.0, 5.0)
    assert _limits(base) == (5.0,) * 4
