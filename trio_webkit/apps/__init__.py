"""Ready-made handlers: :func:`echo` and :class:`FileServer`."""

from .echo import echo as echo
from .files import FileServer as FileServer

__all__ = ["FileServer", "echo"]
