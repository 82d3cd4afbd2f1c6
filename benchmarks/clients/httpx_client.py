"""The client benchmark's httpx client, on Trio: ``rps`` (keep-alive GETs/s) or ``download``.

Usage: ``python httpx_client.py rps URL [--concurrency C] [--duration S]``
or ``python httpx_client.py download URL --size N`` (see ``_common``).
One ``httpx.AsyncClient`` per run, under ``trio.run`` (httpx reaches Trio
through anyio/httpcore). ``max_keepalive_connections`` is raised to 50 with
``max_connections``: httpx's default of 20 would close 30 of the 50
concurrent connections after every response, and measure that instead.
"""

from __future__ import annotations

import argparse
from typing import Any

import _common
import httpx

LIMITS = httpx.Limits(max_connections=50, max_keepalive_connections=50)


async def rps(args: argparse.Namespace) -> dict[str, Any]:
    async with httpx.AsyncClient(limits=LIMITS) as client:

        async def one(slot: int) -> None:
            response = await client.get(args.url)
            _common.check(response.status_code, len(response.content))

        return await _common.run_rps(one, args)


async def download(args: argparse.Namespace) -> dict[str, Any]:
    async with httpx.AsyncClient(limits=LIMITS) as client:

        async def one() -> tuple[int, int]:
            received = 0
            async with client.stream("GET", args.url) as response:
                async for chunk in response.aiter_bytes():
                    received += len(chunk)
            return response.status_code, received

        return await _common.run_download(one, args)


if __name__ == "__main__":
    _common.main(rps, download)
