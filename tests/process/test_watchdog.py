"""The last resort: a stop that does not finish within its grace is reported and forced (exit 70),
and a second signal forces it at once."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.support.servers import ROOT

STUCK = """
import asyncio
from src.process.watchdog import StopWatchdog, run_until_signal

async def main(stop):
    print("ready", flush=True)
    await stop.wait()
    print("stopping", flush=True)
    await asyncio.Event().wait()  # a stop step that never ends

asyncio.run(run_until_signal(main, StopWatchdog(grace={grace})))
"""


def _stuck(grace: float, tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    log = tmp_path / "stderr.log"
    process = subprocess.Popen(
        [sys.executable, "-c", STUCK.format(grace=grace)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process, log


def test_a_stop_that_overruns_is_reported_and_forced(tmp_path: Path) -> None:
    process, log = _stuck(1.0, tmp_path)
    process.send_signal(signal.SIGTERM)
    assert process.wait(15) == 70
    report = log.read_text()
    assert "stop forced (still running 1 s after SIGTERM)" in report
    assert "main (<string>:9) > wait (locks.py" in report  # where the stop is stuck


def test_a_second_signal_forces_the_stop_at_once(tmp_path: Path) -> None:
    process, log = _stuck(600.0, tmp_path)
    process.send_signal(signal.SIGINT)
    assert process.stdout is not None and process.stdout.readline().strip() == "stopping"
    process.send_signal(signal.SIGINT)
    assert process.wait(15) == 70  # long before the 600 s grace
    assert "stop forced (second SIGINT)" in log.read_text()
