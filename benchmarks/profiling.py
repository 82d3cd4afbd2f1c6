"""``--profile``: sample a running server with py-spy while it is being measured.

py-spy attaches to the server's PID (no change to the server's command, so
the server measured is the one profiled), samples it 100 times a second
without pausing it (``--nonblocking``) and, when the block ends, is asked
to stop with SIGINT, on which it writes a flame graph (SVG, open it in a
browser). py-spy runs pinned to the load generator's core, where it takes
a few percent: a profiled run's throughput is for reading the profile, not
for the table. py-spy is a separate process we start, stopped by its PID.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from benchmarks.harness import ServerProcess, pinned, stop_process

SAMPLE_RATE = 100
#: Seconds py-spy gets to write its flame graph after SIGINT.
WRITE_TIMEOUT = 30.0


def profile_path(json_path: Path, what: str) -> Path:
    """Where a profile goes: next to the results, ``<results stem>-profile-<what>.svg``."""
    return json_path.with_name(f"{json_path.stem}-profile-{what}.svg")


@contextlib.contextmanager
def profiled(server: ServerProcess, output: Path, cpu: int) -> Iterator[None]:
    """Sample ``server`` with py-spy for the duration of the block; flame graph to ``output``.

    A profiler that fails (no permission to attach, for one) is reported on
    stdout and does not stop the benchmark.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    command = pinned(
        cpu, "py-spy", "record", "--pid", str(server.pid), "--nonblocking",
        "--rate", str(SAMPLE_RATE), "--format", "flamegraph", "--output", str(output),
    )  # fmt: skip
    with tempfile.TemporaryFile() as log:
        spy = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            yield
        finally:
            if spy.poll() is None:
                spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
                with contextlib.suppress(subprocess.TimeoutExpired):
                    spy.wait(WRITE_TIMEOUT)
            stop_process(spy)
            if output.exists():
                print(f"  profile of {server.name} written to {output}")
            else:
                log.seek(0)
                tail = log.read().decode(errors="replace").strip().splitlines()[-1:]
                print(f"  warning: py-spy wrote no profile of {server.name}: {tail}")
