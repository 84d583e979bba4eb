"""Prefetch times long tasks: a worker reserves `prefetch_multiplier * concurrency` messages; those
beyond its free processes wait behind whatever runs, however long, while other workers idle."""

from __future__ import annotations

from dataclasses import dataclass

from src.doctor.checks._format import seconds
from src.doctor.model import Advisory, Check, Severity
from src.doctor.sources import Sources

CODE = "prefetch_behind_long_tasks"


@dataclass(frozen=True, slots=True)
class PrefetchCheck:
    long_seconds: float = 60.0  # a task this long holds the prefetched ones noticeably

    async def run(self, sources: Sources) -> list[Advisory]:
        stats = await sources.stats()
        runtimes = await sources.longest_runtimes()
        found = []
        for hostname, reply in sorted(stats.items()):
            prefetch = int(reply.get("prefetch_count") or 0)
            concurrency = int((reply.get("pool") or {}).get("max-concurrency") or 1)
            longest = runtimes.get(hostname)
            if prefetch > concurrency and longest and longest.seconds >= self.long_seconds:
                found.append(
                    f"{hostname}: prefetch {prefetch} for {concurrency} processes "
                    f"(multiplier {prefetch / concurrency:g}), longest task "
                    f"{seconds(longest.seconds)} ({longest.name})"
                )
        if not found:
            return []
        return [
            Advisory(
                code=CODE,
                severity=Severity.WARNING,
                title="Prefetched tasks wait behind long-running ones",
                evidence="; ".join(found)
                + ". Up to prefetch minus concurrency tasks sit reserved on "
                "a busy worker while others could run them.",
                fix="worker_prefetch_multiplier=1 with task_acks_late=True for the long tasks "
                "(or route long tasks to their own queue and workers; `-O fair` on prefork).",
            )
        ]


CHECK = Check(CODE, PrefetchCheck().run)

__all__ = ["CHECK", "CODE", "PrefetchCheck"]
