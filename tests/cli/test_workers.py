"""The ``serve --workers`` supervisor in-process, with tiny stand-in worker programs."""

from __future__ import annotations

import socket
import sys

import pytest
import trio
import trio.testing

from trio_webkit.cli import _workers
from trio_webkit.cli._workers import Supervisor, reserve_port

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="SO_REUSEPORT, signals")

#: Says it serves, then waits for SIGTERM/SIGINT and exits 0.
WELL_BEHAVED = [
    sys.executable,
    "-c",
    "import signal\n"
    "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})\n"
    "print('Serving on http://x/ (Ctrl-C to stop)', flush=True)\n"
    "signal.sigwait({signal.SIGTERM, signal.SIGINT})\n",
]
#: Fails at once, as a worker that cannot bind would.
FAILING = [sys.executable, "-c", "import sys; sys.exit(3)"]


async def test_stop_forwards_a_signal_and_every_worker_exits_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    supervisor = Supervisor(WELL_BEHAVED, 3, ["http://127.0.0.1:1/"])
    status = None

    async def run() -> None:
        nonlocal status
        status = await supervisor.run()

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run)
            await supervisor.wait_ready()
            await trio.testing.wait_all_tasks_blocked()  # the announcer's turn
            supervisor.stop()
    assert status == 0
    captured = capsys.readouterr()
    assert captured.out == "Serving on http://127.0.0.1:1/ (Ctrl-C to stop)\n"
    assert captured.err.count("started (pid ") == 3


async def test_gives_up_after_quick_failures(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_workers, "RESTART_DELAY", 0.01)
    supervisor = Supervisor(FAILING, 2, ["http://127.0.0.1:1/"])
    with trio.fail_after(20):
        assert await supervisor.run() == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # never announced
    assert "exited unexpectedly with status 3; restarting" in captured.err
    assert "exited 3 times in a row soon after starting (last exit status 3); giving up" in (
        captured.err
    )
    assert captured.err.count("trio-webkit: error: ") == 1  # the first to give up stops all


def test_reserve_port_picks_a_port_and_detects_one_in_use() -> None:
    reservation = reserve_port("127.0.0.1", 0)
    try:
        assert reservation.port > 0
        assert reservation.addresses == ["127.0.0.1"]
        with pytest.raises(OSError), socket.socket() as other:  # nobody else can take it
            other.bind(("127.0.0.1", reservation.port))
            other.listen()
    finally:
        reservation.close()
