"""Unbounded `worker_max_tasks_per_child` with growing memory: a leak in a task (or a library)
grows the pool's processes until the kernel's OOM killer ends one, mid-task.

Growth is read from `inspect stats` (`rusage.maxrss`, the worker's peak resident memory) on
successive doctor runs, kept in Redis; with the prefork pool that is the main process, so leaks
in the children show only through the pool's own restarts. A check that has one sample says
nothing yet."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from src.doctor.checks._format import megabytes
from src.doctor.model import Advisory, Check, Severity
from src.doctor.sources import Sources

CODE = "worker_memory_grows_unbounded"
HISTORY_KEY = "celery_admin:doctor:maxrss:{hostname}"
HISTORY_SAMPLES = 32
HISTORY_TTL = 7 * 86400


@dataclass(frozen=True, slots=True)
class MemoryGrowthCheck:
    min_growth_bytes: int = 256 << 20  # growth across the kept samples that counts as a leak
    min_ratio: float = 1.5  # and relative to the first sample

    async def run(self, sources: Sources) -> list[Advisory]:
        redis = sources.state_redis
        stats = await sources.stats()
        conf = await sources.worker_conf()
        found = []
        now = time.time()
        for hostname, reply in sorted(stats.items()):
            maxrss_kib = (reply.get("rusage") or {}).get("maxrss")
            if not isinstance(maxrss_kib, int | float):
                continue
            current = int(maxrss_kib) * 1024  # Linux reports KiB
            samples = [(now, current)]
            if redis is not None:
                key = HISTORY_KEY.format(hostname=hostname)
                pid = str(reply.get("pid", ""))
                entry = json.dumps([now, current, pid])
                async with redis.pipeline(transaction=False) as pipe:
                    pipe.lrange(key, 0, HISTORY_SAMPLES - 1)
                    pipe.lpush(key, entry)
                    pipe.ltrim(key, 0, HISTORY_SAMPLES - 1)
                    pipe.expire(key, HISTORY_TTL)
                    older = (await pipe.execute())[0]
                for raw in older:
                    at, rss, old_pid = json.loads(raw)
                    if old_pid == pid:  # a restarted worker starts over
                        samples.append((float(at), int(rss)))
            first = min(samples)[1]
            growth = current - first
            limits = conf.get(hostname, {})
            unbounded = not limits.get("worker_max_tasks_per_child") and not limits.get(
                "worker_max_memory_per_child"
            )
            if (
                unbounded
                and len(samples) > 1
                and growth >= self.min_growth_bytes
                and current >= first * self.min_ratio
            ):
                span = now - min(samples)[0]
                found.append(
                    f"{hostname}: peak RSS {megabytes(first)} → {megabytes(current)} over "
                    f"{span / 60:.0f} min ({len(samples)} samples), "
                    "worker_max_tasks_per_child and worker_max_memory_per_child unset"
                )
        if not found:
            return []
        return [
            Advisory(
                code=CODE,
                severity=Severity.WARNING,
                title="Worker memory grows with no per-child limit",
                evidence="; ".join(found) + ".",
                fix="worker_max_tasks_per_child=<n> (e.g. 1000) or worker_max_memory_per_child="
                "<KiB> so pool processes are replaced before the OOM killer ends one mid-task; "
                "then find the leak.",
            )
        ]


CHECK = Check(CODE, MemoryGrowthCheck().run)

__all__ = ["CHECK", "CODE", "HISTORY_KEY", "MemoryGrowthCheck"]
