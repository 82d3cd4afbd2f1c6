"""Shared fixtures: servers on port 0, clients over loopback."""

from __future__ import annotations

import pytest

import trio_webkit

pytest_plugins: list[str] = []


@pytest.fixture
def config() -> trio_webkit.ServerConfig:
    return trio_webkit.ServerConfig(access_log=False)
