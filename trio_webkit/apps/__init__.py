"""Ready-made handlers: :func:`echo` (and, soon, the file server)."""

from .echo import echo as echo

__all__ = ["echo"]
