"""Clocks skewed between workers: ETA/countdown and `expires` are absolute times, so a worker
whose clock runs ahead runs tasks early and expires them too soon; behind, it runs them late.
Heartbeats look stale, and runtimes and wait times come out wrong.

Each worker's offset is its heartbeat's own timestamp minus when the collector heard it (this
process's clock, which the comparison between workers does not depend on)."""

from __future__ import annotations

from dataclasses import dataclass

from src.doctor.model import Advisory, Check, Severity
from src.doctor.sources import Sources

CODE = "worker_clocks_skewed"


@dataclass(frozen=True, slots=True)
class ClockSkewCheck:
    max_skew: float = 5.0  # seconds; Celery itself warns of heartbeat drift at 16

    async def run(self, sources: Sources) -> list[Advisory]:
        offsets = {
            w.hostname: w.last_heartbeat.timestamp() - w.heard_at
            for w in (await sources.workers_heard()).values()
            if w.online and w.last_heartbeat is not None and w.heard_at
        }
        if not offsets:
            return []
        spread = max(offsets.values()) - min(offsets.values())
        off_ours = {h: o for h, o in offsets.items() if abs(o) > self.max_skew}
        if spread <= self.max_skew and not off_ours:
            return []
        listed = ", ".join(f"{h} {o:+.1f} s" for h, o in sorted(offsets.items()))
        return [
            Advisory(
                code=CODE,
                severity=Severity.WARNING,
                title="Worker clocks disagree",
                evidence=f"clock offsets from celery-admin's (heartbeat timestamp minus arrival): "
                f"{listed}; spread {spread:.1f} s (limit {self.max_skew:g} s).",
                fix="run NTP (chrony, systemd-timesyncd) on every worker host and on "
                "celery-admin's; in containers the host's clock counts.",
            )
        ]


CHECK = Check(CODE, ClockSkewCheck().run)

__all__ = ["CHECK", "CODE", "ClockSkewCheck"]
