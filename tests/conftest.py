"""Shared test configuration: ``tests/support`` helpers import as ``support`` (pyproject pythonpath)."""
