"""Shared test configuration (``tests/support`` imports as ``support``: see pyproject)."""
