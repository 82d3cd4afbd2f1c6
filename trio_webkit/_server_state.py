"""State a server shares with its connection tasks, and its statistics."""

from __future__ import annotations

import attrs
import trio

from ._head_cache import HeadCache
from ._httpdate import DateCache


@attrs.frozen
class ServerStatistics:
    """A snapshot of a server's activity, from :meth:`Server.statistics`.

    Attributes:
        connections_open: connections currently served.
        connections_idle: open connections waiting for a request.
        connections_total: connections accepted since the server started.
        requests_active: requests whose handler or response is in progress.
        requests_served: responses sent in full.
        draining: whether :meth:`Server.shutdown` has begun.
    """

    connections_open: int
    connections_idle: int
    connections_total: int
    requests_active: int
    requests_served: int
    draining: bool


class ServerState:
    """Mutable counters and the shutdown signal, shared by one server's tasks."""

    def __init__(self, server_header: str | None = None) -> None:
        self.server_header = server_header
        self.date = DateCache()
        self.heads = HeadCache()  # request heads parsed before, by their bytes
        self.draining = False
        #: Cancel scopes of connections waiting idle for a request; shutdown
        #: cancels them so that idle connections close at once.
        self.idle_scopes: set[trio.CancelScope] = set()
        self.connections_open = 0
        self.connections_total = 0
        self.requests_active = 0
        self.requests_served = 0

    def start_draining(self) -> None:
        """Refuse further requests and close every idle connection now."""
        self.draining = True
        for scope in self.idle_scopes:
            scope.cancel()

    def statistics(self) -> ServerStatistics:
        """A frozen snapshot of the counters."""
        return ServerStatistics(
            connections_open=self.connections_open,
            connections_idle=len(self.idle_scopes),
            connections_total=self.connections_total,
            requests_active=self.requests_active,
            requests_served=self.requests_served,
            draining=self.draining,
        )
