"""The soak's option: ``pytest tests/soak --soak-seconds 180`` runs it for three minutes.

(Add ``-s`` to see its table, and ``-o faulthandler_timeout=0`` so that
pytest's hang detector does not dump stacks after 60 s.)

Without the option (or ``TRIO_WEBKIT_SOAK_SECONDS`` in the environment) the
soak runs its short CI version as part of the normal suite. The option is
registered only when ``tests/soak`` is named on the command line (pytest
reads options from the conftests of the paths it is given), hence the
default in :func:`soak_seconds`.
"""

from __future__ import annotations

import os

import pytest

#: The CI version: warm-up plus main phase, in seconds.
CI_SECONDS = 15.0


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak-seconds",
        type=float,
        default=None,
        help="run the soak in tests/soak for this many seconds (default: a short CI run)",
    )


@pytest.fixture
def soak_seconds(request: pytest.FixtureRequest) -> float:
    """How long the soak runs: the option, else the environment, else the CI length."""
    option = request.config.getoption("soak_seconds", default=None)
    if option is not None:
        return float(option)
    return float(os.environ.get("TRIO_WEBKIT_SOAK_SECONDS", CI_SECONDS))
