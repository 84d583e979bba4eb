"""Host and process metrics via psutil, run in a thread (disk and /proc reads may block).

CPU percentages are measured since the previous call (`interval=None`), so the objects live for the
process and the first reading after start-up is primed and discarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from dataclasses import dataclass

import psutil

from src.monitoring.sample import HostSample

DISK_PATH = os.environ.get("CELERY_ADMIN_DISK_PATH", "/")

_lock = threading.Lock()
_process = psutil.Process()
_primed = False


def _prime() -> None:
    global _primed
    if not _primed:
        psutil.cpu_percent(interval=None)
        _process.cpu_percent(interval=None)
        _primed = True


def _host_now() -> HostSample:
    with _lock:
        _prime()
        sample = HostSample(cpu_percent=psutil.cpu_percent(interval=None))
    try:
        memory = psutil.virtual_memory()
        sample.memory_percent = memory.percent
        sample.memory_used_bytes = int(memory.total - memory.available)
        sample.memory_total_bytes = int(memory.total)
    except OSError:
        pass
    try:
        sample.disk_percent = psutil.disk_usage(DISK_PATH).percent
        sample.disk_path = DISK_PATH
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sample.load_1m = os.getloadavg()[0]
    return sample


async def host_sample() -> HostSample:
    return await asyncio.to_thread(_host_now)


@dataclass(frozen=True, slots=True)
class ProcessSample:
    pid: int
    cpu_percent: float
    rss_bytes: int
    threads: int
    open_files: int | None
    uptime_seconds: float


def _process_now() -> ProcessSample:
    with _lock:
        _prime()
        cpu = _process.cpu_percent(interval=None)
    with _process.oneshot():
        try:
            fds: int | None = _process.num_fds()
        except (AttributeError, psutil.Error):
            fds = None
        return ProcessSample(
            pid=_process.pid,
            cpu_percent=cpu,
            rss_bytes=int(_process.memory_info().rss),
            threads=_process.num_threads(),
            open_files=fds,
            uptime_seconds=round(time.time() - _process.create_time(), 3),
        )


async def process_sample() -> ProcessSample:
    return await asyncio.to_thread(_process_now)


__all__ = ["ProcessSample", "host_sample", "process_sample"]
