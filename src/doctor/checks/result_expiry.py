"""A result backend without expiry: every result stays forever; on Redis memory grows until
maxmemory (then writes fail, or an evicting policy drops queued tasks along with results)."""

from __future__ import annotations

from src.doctor.model import Advisory, Check, Severity
from src.doctor.sources import Sources

CODE = "results_never_expire"
SAMPLE = 200  # result keys sampled for a TTL


def _never(value: object) -> bool:
    if value is None:
        return True
    try:
        seconds = value.total_seconds() if hasattr(value, "total_seconds") else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return seconds <= 0


async def run(sources: Sources) -> list[Advisory]:
    backend = sources.result_backend
    if not backend or backend.startswith(("disabled", "rpc")):
        return []
    found = []
    if _never(sources.app.conf.result_expires):
        found.append("celery-admin's app: result_expires unset")
    for hostname, conf in sorted((await sources.worker_conf()).items()):
        if _never(conf.get("result_expires")):
            found.append(f"worker {hostname}: result_expires unset")
    redis = await sources.result_redis()
    if redis is not None:
        keys, forever = 0, 0
        async for key in redis.scan_iter(match="celery-task-meta-*", count=100):
            keys += 1
            forever += int(await redis.ttl(key) == -1)
            if keys >= SAMPLE:
                break
        if forever:
            found.append(f"{forever} of {keys} sampled result keys in Redis have no TTL")
    if not any("worker" in f or "keys" in f for f in found):
        return []  # the app alone is not who writes results
    return [
        Advisory(
            code=CODE,
            severity=Severity.WARNING,
            title="Results never expire",
            evidence="; ".join(found) + ".",
            fix="result_expires=<seconds> (Celery's default is one day) on the workers; "
            "on Redis existing keys keep no TTL: EXPIRE them or let a one-off script do it; "
            "tasks whose result nobody reads: ignore_result=True.",
        )
    ]


CHECK = Check(CODE, run)

__all__ = ["CHECK", "CODE"]
