"""The client benchmark's reference ceiling: a minimal Trio + h11 client loop.

Usage: ``python h11_client.py rps URL [--concurrency C] [--duration S]``
or ``python h11_client.py download URL --size N`` (see ``_common``).
Each task owns one TCP connection and one ``h11.Connection``; a request is
one ``send_all`` of the GET head, then events until ``EndOfMessage``, then
``start_next_cycle``. No pool, no URL parsing per request, no timeouts and
no header objects: what any client on Trio + h11 must at least spend.
A connection that fails is dropped and reopened by the next request.
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import urlsplit

import _common
import h11
import trio

RECEIVE_SIZE = 65536


class Connection:
    """One keep-alive connection: a socket stream and its h11 state."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.h11 = h11.Connection(h11.CLIENT)

    async def get(self, target: str, host: str) -> tuple[int, int]:
        """Send one GET, count its body, get ready for the next: status and body length."""
        request = h11.Request(method="GET", target=target, headers=[("Host", host)])
        await self.stream.send_all(self.h11.send(request) + self.h11.send(h11.EndOfMessage()))
        status, received = 0, 0
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                self.h11.receive_data(await self.stream.receive_some(RECEIVE_SIZE))
            elif isinstance(event, h11.Data):
                received += len(event.data)
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.EndOfMessage):
                self.h11.start_next_cycle()
                return status, received
            elif isinstance(event, h11.ConnectionClosed):
                raise _common.BadResponse("connection closed mid-response")


class Target:
    """Where to connect, and one connection per slot, opened on first use."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.host = parts.netloc
        self.path = parts.path or "/"
        self.connections: dict[int, Connection] = {}
        self.opened = 0

    async def connection(self, slot: int) -> Connection:
        if slot not in self.connections:
            stream = await trio.open_tcp_stream(*self.address)
            self.connections[slot] = Connection(stream)
            self.opened += 1
        return self.connections[slot]

    async def get(self, slot: int) -> tuple[int, int]:
        """GET the path on the slot's connection, count the body: status and length."""
        connection = await self.connection(slot)
        try:
            return await connection.get(self.path, self.host)
        except BaseException:
            del self.connections[slot]
            await trio.aclose_forcefully(connection.stream)
            raise

    async def aclose(self) -> None:
        for connection in self.connections.values():
            await trio.aclose_forcefully(connection.stream)


async def rps(args: argparse.Namespace) -> dict[str, Any]:
    target = Target(args.url)

    async def one(slot: int) -> None:
        _common.check(*await target.get(slot))

    try:
        result = await _common.run_rps(one, args)
        result["connections_opened"] = target.opened
        return result
    finally:
        await target.aclose()


async def download(args: argparse.Namespace) -> dict[str, Any]:
    target = Target(args.url)
    try:
        return await _common.run_download(lambda: target.get(0), args)
    finally:
        await target.aclose()


if __name__ == "__main__":
    _common.main(rps, download)
