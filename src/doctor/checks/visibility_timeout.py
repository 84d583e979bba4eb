"""Broker `visibility_timeout` shorter than what a message waits unacknowledged: Redis (and SQS)
hand a message that stays unacknowledged longer to another worker. ETA and countdown tasks wait
unacknowledged until due, and with `acks_late` every task stays so until it finishes; past the
timeout they run twice, again and again."""

from __future__ import annotations

from typing import Any

from src.doctor.checks._format import seconds
from src.doctor.model import Advisory, Check, Severity
from src.doctor.sources import Sources, TaskFact

CODE = "visibility_timeout_too_short"
DEFAULT_VISIBILITY = 3600.0  # kombu's Redis and SQS transports
TRANSPORTS = ("redis", "rediss", "sqs", "unix")


def visibility_timeout(conf: Any) -> float:
    options = conf.get("broker_transport_options") if hasattr(conf, "get") else None
    value = (options or {}).get("visibility_timeout")
    return float(value) if value else DEFAULT_VISIBILITY


def _fact(fact: TaskFact) -> str:
    return f"{seconds(fact.seconds)} ({fact.name or 'a task'} {fact.task_id})"


async def run(sources: Sources) -> list[Advisory]:
    if sources.broker_url.split("://", 1)[0] not in TRANSPORTS:
        return []
    timeouts = {"celery-admin's app": visibility_timeout(sources.app.conf)}
    conf = await sources.worker_conf()
    timeouts.update({h: visibility_timeout(c) for h, c in conf.items()})
    where, timeout = min(timeouts.items(), key=lambda item: item[1])
    fix_value = (
        "set broker_transport_options={'visibility_timeout': <longer than the longest "
        "ETA/countdown and task runtime>} on every worker and producer"
    )
    advisories = []

    etas = (await sources.unacked_eta_waits()) + (await sources.recorded_eta_waits())
    longest_eta = max(etas, key=lambda f: f.seconds, default=None)
    if longest_eta is not None and longest_eta.seconds > timeout:
        advisories.append(
            Advisory(
                code=CODE,
                severity=Severity.CRITICAL,
                title="ETA/countdown tasks outlive the visibility timeout: they run more than once",
                evidence=f"visibility_timeout {seconds(timeout)} ({where}); longest ETA/countdown "
                f"wait seen {_fact(longest_eta)}. The broker redelivers it every "
                f"{seconds(timeout)} while a worker holds it, so it runs again for each.",
                fix=f"{fix_value}; or schedule far-future work with a periodic task or a "
                "database instead of long countdowns.",
            )
        )

    acks_late = [h for h, c in conf.items() if c.get("task_acks_late")]
    if sources.app.conf.task_acks_late:
        acks_late.append("celery-admin's app")
    runtimes = await sources.longest_runtimes()
    longest = runtimes.get(None)
    if acks_late and longest is not None and longest.seconds > timeout:
        advisories.append(
            Advisory(
                code=CODE,
                severity=Severity.WARNING,
                title="Tasks run longer than the visibility timeout with acks_late: they run twice",
                evidence=f"visibility_timeout {seconds(timeout)} ({where}); acks_late on "
                f"{', '.join(sorted(acks_late))}; longest runtime seen {_fact(longest)}.",
                fix=fix_value + ".",
            )
        )
    return advisories


CHECK = Check(CODE, run)

__all__ = ["CHECK", "CODE", "visibility_timeout"]
