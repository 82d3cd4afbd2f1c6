"""Third-party servers for client tests: stdlib ``http.server``, hypercorn, TLS.

* :func:`stdlib_server` runs a ``ThreadingHTTPServer`` in a thread.
* :func:`hypercorn_server` runs an ASGI app under hypercorn's Trio worker.
* :func:`tls_contexts` makes a server and a client :class:`ssl.SSLContext`
  from a ``trustme`` CA.

Optional peers (hypercorn, trustme) are imported through :func:`require`,
which *fails* the test with an install hint instead of skipping it: a peer
that silently stops being tested is worse than a red test.
"""

from __future__ import annotations

import functools
import http.server
import importlib
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import attrs
import pytest
import trio

HOST = "127.0.0.1"


def require(module: str, hint: str) -> ModuleType:
    """Import ``module`` or fail the test (not skip) saying how to get it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        pytest.fail(f"{module} is required for this test but is not importable ({error}); {hint}")


# -- stdlib http.server -------------------------------------------------------
@attrs.define
class ThreadedServer:
    """A stdlib server running in a thread, and its port."""

    server: http.server.ThreadingHTTPServer
    port: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


@asynccontextmanager
async def stdlib_server(
    handler_class: type[http.server.BaseHTTPRequestHandler],
) -> AsyncIterator[ThreadedServer]:
    """Serve ``handler_class`` with ``http.server.ThreadingHTTPServer`` on loopback.

    ``serve_forever`` runs in a plain thread; shutting down happens in a
    worker thread so that the Trio loop never blocks.
    """
    server = http.server.ThreadingHTTPServer((HOST, 0), handler_class)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield ThreadedServer(server, server.server_address[1])
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(server.shutdown)
            await trio.to_thread.run_sync(thread.join)
        server.server_close()


# -- hypercorn (Trio worker) ----------------------------------------------------
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@asynccontextmanager
async def hypercorn_server(app: ASGIApp) -> AsyncIterator[str]:
    """Serve the ASGI ``app`` with hypercorn's Trio worker; yield its base URL."""
    hint = "install it with 'pip install hypercorn' (it belongs in the 'test' extra)"
    config_module = require("hypercorn.config", hint)
    hypercorn_trio = require("hypercorn.trio", hint)
    config = config_module.Config()
    config.bind = [f"{HOST}:0"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 1.0
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        serve = functools.partial(hypercorn_trio.serve, app, config, shutdown_trigger=stop.wait)
        binds = await nursery.start(serve)
        try:
            yield str(binds[0])
        finally:
            stop.set()
            nursery.cancel_scope.deadline = trio.current_time() + 5  # a guard, not a wait


# -- TLS with a trustme CA ----------------------------------------------------
@attrs.define
class TLSContexts:
    """A server context with a certificate, and a client context trusting its CA."""

    server: ssl.SSLContext
    client: ssl.SSLContext
    #: SNI names the server was asked for, in order (``None``: no SNI sent).
    sni: list[str | None] = attrs.Factory(list)


def tls_contexts(*hostnames: str) -> TLSContexts:
    """A fresh ``trustme`` CA, a server certificate for ``hostnames``, and both contexts."""
    trustme = require(
        "trustme", "install it with 'pip install trustme' (it belongs in the 'test' extra)"
    )
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*hostnames).configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    contexts = TLSContexts(server_context, client_context)

    def record_sni(sock: Any, server_name: str | None, context: ssl.SSLContext) -> None:
        contexts.sni.append(server_name)

    server_context.sni_callback = record_sni
    return contexts


# -- our own server over TLS ------------------------------------------------------
@attrs.define
class RunningTLSServer:
    """One of our servers speaking HTTPS on loopback."""

    server: Any  # trio_webkit.Server
    port: int

    def url(self, host: str = HOST) -> str:
        return f"https://{host}:{self.port}"


@asynccontextmanager
async def running_tls_server(
    handler: Any, server_context: ssl.SSLContext
) -> AsyncIterator[RunningTLSServer]:
    """Like :func:`support.loopback.running_server`, with TLS (``serve_tcp(ssl_context=...)``)."""
    import trio_webkit  # here: keeps this module importable alone

    server = trio_webkit.Server(handler, trio_webkit.ServerConfig(access_log=False))
    async with trio.open_nursery() as nursery:
        serve = functools.partial(server.serve_tcp, 0, HOST, ssl_context=server_context)
        listeners = await nursery.start(serve)
        try:
            yield RunningTLSServer(server, listeners[0].socket.getsockname()[1])
        finally:
            with trio.move_on_after(5) as cleanup:
                cleanup.shield = True
                await server.shutdown()
            nursery.cancel_scope.cancel()
