"""``trio-webkit serve``: serve a directory with :class:`trio_webkit.apps.FileServer`."""

from __future__ import annotations

import argparse
import ssl
import sys
from pathlib import Path

from .._config import ServerConfig
from .._server import Server
from ..apps.files import FileServer
from ._serving import (
    EXIT_FAILURE,
    UsageError,
    add_address_arguments,
    configure_logging,
    host_port,
    load_tls,
    print_error,
    run_server,
)
from ._workers import reserve_port, run_workers

_DESCRIPTION = """\
Serve the files under DIR (default: the current directory) over HTTP/1.1:
GET and HEAD, directory listings, ranges, conditional requests; nothing
outside DIR is ever served. Prints the URL it serves and logs each request
on stderr; Ctrl-C or SIGTERM stops it gracefully (in-flight requests
finish; a second signal stops at once).

Exit status: 0 after a graceful stop; 1 when DIR is not a directory, the
certificate cannot be loaded, the address cannot be bound, or the stop was
cut short; 2 for bad arguments.
"""

_EPILOG = """\
examples:
  trio-webkit serve                        the current directory on http://127.0.0.1:8000/
  trio-webkit serve ~/site -b 0.0.0.0 -p 0 all interfaces, any free port
  trio-webkit serve --workers 4            four processes sharing the port (Linux)
  trio-webkit serve --certfile cert.pem --keyfile key.pem   HTTPS
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``serve`` command."""
    parser = commands.add_parser(
        "serve",
        help="serve the files of a directory",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "directory", metavar="DIR", nargs="?", default=".", help="the directory to serve"
    )
    add_address_arguments(parser)
    parser.add_argument(
        "--workers",
        metavar="N",
        type=worker_count,
        default=1,
        help="run N server processes sharing the port with SO_REUSEPORT, supervised "
        "and restarted by this one (default: 1, no extra process)",
    )
    parser.add_argument(
        "--certfile", metavar="FILE", help="serve HTTPS with this PEM certificate chain"
    )
    parser.add_argument("--keyfile", metavar="FILE", help="the PEM private key of --certfile")
    parser.add_argument(
        "--no-listing",
        dest="listing",
        action="store_false",
        help="answer 403 for a directory without an index.html instead of listing it",
    )
    # Internal: how the parent of --workers starts each worker.
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def worker_count(text: str) -> int:
    """argparse ``type=`` for ``--workers``: an integer of at least 1."""
    try:
        count = int(text, 10)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return count


def run(args: argparse.Namespace) -> int:
    """Serve ``args.directory``; return the exit status."""
    if (args.certfile is None) != (args.keyfile is None):
        raise UsageError("--certfile and --keyfile go together: give both or neither")
    root = Path(args.directory)
    problem = _directory_problem(root)
    if problem:
        print_error(f"cannot serve {args.directory}: {problem}")
        return EXIT_FAILURE
    ssl_context = None
    if args.certfile is not None:
        try:
            ssl_context = load_tls(args.certfile, args.keyfile)
        except (OSError, ssl.SSLError) as error:
            print_error(
                f"cannot load the certificate {args.certfile} and key {args.keyfile}: {error}"
            )
            return EXIT_FAILURE
    if args.workers > 1 and not args.worker:
        return _supervise(args, root.resolve())
    configure_logging(show_pid=args.worker)
    server = Server(FileServer(root, listing=args.listing), ServerConfig())
    return run_server(
        server,
        args.bind,
        args.port,
        ssl_context=ssl_context,
        reuse_port=args.worker,
        watch_parent=args.worker,
    )


def _directory_problem(root: Path) -> str | None:
    """Why ``root`` cannot be served (``None`` when it can)."""
    try:
        if not root.exists():
            return "no such directory"
        if not root.is_dir():
            return "not a directory"
        FileServer(root)  # resolves it: permission problems show up here
    except OSError as error:
        return error.strerror or str(error)
    return None


def _supervise(args: argparse.Namespace, root: Path) -> int:
    """The parent of ``--workers``: reserve the port, run and supervise the workers."""
    try:
        reservation = reserve_port(args.bind, args.port)
    except OSError as error:
        print_error(f"cannot listen on {host_port(args.bind, args.port)}: {error}")
        return EXIT_FAILURE
    scheme = "https" if args.certfile else "http"
    urls = [
        f"{scheme}://{host_port(address, reservation.port)}/" for address in reservation.addresses
    ]
    command = [sys.executable, "-m", "trio_webkit", "serve", str(root), "--worker"]
    command += [f"--bind={args.bind}", f"--port={reservation.port}"]
    if args.certfile:
        command.append(f"--certfile={Path(args.certfile).resolve()}")
        command.append(f"--keyfile={Path(args.keyfile).resolve()}")
    if not args.listing:
        command.append("--no-listing")
    try:
        return run_workers(command, args.workers, urls)
    finally:
        reservation.close()
