"""The ``trio-webkit`` command line (also ``python -m trio_webkit``).

Each command lives in its own module with two functions: ``add_parser``
registers its subparser (options, help) and sets ``run``, which takes the
parsed arguments and returns the exit status. :func:`main` only parses and
dispatches.

Exit statuses: 0 success, 1 failure (one line on stderr), 2 bad usage (one
line on stderr, pointing at ``--help``), 130 interrupted before a command
could handle Ctrl-C. Usage errors that argparse cannot see (options that
only go together) are raised by ``run`` as :class:`UsageError` and reported
the same way.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from .._version import __version__
from . import bench, echo, get, serve
from ._serving import EXIT_FAILURE, EXIT_USAGE, PROG, UsageError, silence_stdout

#: Command modules, in the order ``--help`` lists them.
_COMMANDS = (serve, get, bench, echo)

_EXIT_USAGE = EXIT_USAGE
_EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it

Command = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (then exit 2).

    argparse prints the whole usage before the error; the contract is a
    single line, so this names the ``--help`` to read instead. Subparsers
    inherit the class, so every command behaves the same.
    """

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message`` and a pointer to --help; exit 2."""
        self.exit(_EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subparser per command."""
    parser = _Parser(
        prog=PROG,
        description="A structured-concurrency HTTP/1.1 toolkit for Trio.",
        epilog=f"Run '{PROG} COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", required=True
    )
    for command in _COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``).

    Returns the exit status instead of exiting, so that callers (and
    ``__main__``) decide; ``--help``, ``--version`` and usage errors
    return 0, 0 and 2 after printing.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, usage errors
        return _status(exit_.code)
    run: Command = args.run
    try:
        return run(args)
    except UsageError as error:
        prog = f"{PROG} {args.command}"
        print(f"{prog}: error: {error} (see '{prog} --help')", file=sys.stderr, flush=True)
        return _EXIT_USAGE
    except KeyboardInterrupt:  # Ctrl-C before the command installed its own handling
        print(file=sys.stderr)
        return _EXIT_INTERRUPTED
    except BrokenPipeError:  # stdout closed early, as by "| head": stop quietly
        silence_stdout()
        return EXIT_FAILURE


def _status(code: str | int | None) -> int:
    """The int exit status of a ``SystemExit`` code."""
    if code is None:
        return 0
    return code if isinstance(code, int) else _EXIT_USAGE
