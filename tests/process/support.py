"""Running `celery-admin` commands as real processes and stopping them with real signals."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from src.embedded_redis import free_port
from tests.support.servers import ROOT, TEST_JWT_SECRET

# The product promises to stop within 10 s; the tests allow 15 for a loaded 2-core machine.
STOP_DEADLINE = 15.0
# A start-up that fails its checks ends by itself, after imports and checks that take a few
# seconds, and many more on a loaded machine.
STARTUP_DEADLINE = 90.0


def command_env(**settings: str) -> dict[str, str]:
    """The test process's environment minus any celery-admin setting, plus `settings`."""
    from src.config import Settings

    ours = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in ours}
    env.update(PYTHONPATH=str(ROOT), JWT_SECRET=TEST_JWT_SECRET, CELERY_LOG_LEVEL="INFO")
    env.update(settings)
    return env


class Command:
    """`python -m src.cli ARGS` with its output in a log file (never a pipe that can fill up)."""

    def __init__(self, *args: str, env: dict[str, str], log_dir: Path) -> None:
        self.args = args
        self.log = log_dir / f"{args[0]}-{uuid.uuid4().hex[:6]}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "src.cli", *args],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_output(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output)
            if found:
                return found
            if self.process.poll() is not None:
                raise AssertionError(f"{self.args[0]} exited early:\n{self.output[-3000:]}")
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in {self.args[0]}'s output:\n{self.output[-3000:]}")

    def wait_http(self, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.args[0]} exited early:\n{self.output[-3000:]}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{url} never answered:\n{self.output[-3000:]}")

    def exit_code(self, timeout: float = STOP_DEADLINE) -> int:
        """Its exit code; fails when it is still running after `timeout` (then kills it)."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"{self.args[0]} still running {timeout} s later:\n{self.output[-4000:]}"
            ) from None

    def stop(self, sig: signal.Signals, timeout: float = STOP_DEADLINE) -> int:
        """Send `sig` and return the exit code, which must come within `timeout` (how long it
        took is printed, for the record: `pytest -s`)."""
        sent = time.monotonic()
        self.process.send_signal(sig)
        code = self.exit_code(timeout)
        print(f"\n{self.args[0]} stopped {time.monotonic() - sent:.2f} s after {sig.name}: {code}")
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def serve(env: dict[str, str], log_dir: Path, port: int | None = None) -> tuple[Command, int]:
    port = port or free_port()
    return Command("serve", "--port", str(port), env=env, log_dir=log_dir), port


def info_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/celery-admin/system/info"


def no_traceback(text: str) -> bool:
    return "Traceback" not in text


__all__ = [
    "STARTUP_DEADLINE",
    "STOP_DEADLINE",
    "Command",
    "command_env",
    "info_url",
    "no_traceback",
    "serve",
]
