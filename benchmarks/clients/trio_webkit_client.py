"""The client benchmark's trio_webkit client: ``rps`` (keep-alive GETs/s) or ``download``.

Usage: ``python trio_webkit_client.py rps URL [--concurrency C] [--duration S]``
or ``python trio_webkit_client.py download URL --size N`` (see ``_common``).
One :class:`trio_webkit.Client` with a 50-connection pool per run;
``client.get`` reads each body, a download streams through ``iter_bytes``.
"""

from __future__ import annotations

import argparse
from typing import Any

import _common

import trio_webkit


def make_client() -> trio_webkit.Client:
    """The client of every run: a pool as large as the concurrency."""
    return trio_webkit.Client(max_connections=50, max_connections_per_host=50)


async def rps(args: argparse.Namespace) -> dict[str, Any]:
    async with make_client() as client:

        async def one(slot: int) -> None:
            response = await client.get(args.url)
            _common.check(response.status, len(response.content))

        result = await _common.run_rps(one, args)
        result["connections_opened"] = client.statistics().connections_opened  # keep-alive?
        return result


async def download(args: argparse.Namespace) -> dict[str, Any]:
    async with make_client() as client:

        async def one() -> tuple[int, int]:
            received = 0
            async with client.stream("GET", args.url) as response:
                async for chunk in response.iter_bytes():
                    received += len(chunk)
            return response.status, received

        return await _common.run_download(one, args)


if __name__ == "__main__":
    _common.main(rps, download)
