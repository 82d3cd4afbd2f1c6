"""Hypothesis profiles for the fuzz tests.

``ci`` (the default) is fixed and repeatable: derandomized (the same examples
on every run, for a given hypothesis version and test source), no example
database, no deadline (an example's time is mostly trio.run set-up and mock
time costs nothing), and sized so that ``pytest tests/fuzz`` takes well under
a minute. ``deep`` is for a local hunt: random and ten times longer, e.g.
``HYPOTHESIS_PROFILE=deep pytest tests/fuzz``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, Phase, settings

SUPPRESSED = [HealthCheck.too_slow, HealthCheck.data_too_large]
#: Everything but "explain" (which reruns a failure many times to say which
#: lines only failing examples reach): a failing example is still shrunk.
CI_PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink]

settings.register_profile(
    "ci",
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    phases=CI_PHASES,
    print_blob=True,
    suppress_health_check=SUPPRESSED,
)
settings.register_profile(
    "deep",
    max_examples=2000,
    deadline=None,
    derandomize=False,
    database=None,
    print_blob=True,
    suppress_health_check=SUPPRESSED,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """No patch files: on a failure hypothesis' plugin would write the falsifying
    example as a patch under ``.hypothesis/`` (importing libcst, whose deprecation
    warnings this suite turns into errors). The failure report shows the example."""
    item.__dict__.pop("_hypothesis_failing_examples", None)
    yield
