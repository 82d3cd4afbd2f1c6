"""Integration tests: real loopback sockets against real peers.

Helpers live in ``tests/support`` (imported as ``support``); the ``tests``
directory is put on ``sys.path`` here so that works under any import mode.
"""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent.parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
