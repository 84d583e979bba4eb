"""Redis `maxmemory-policy` that evicts keys: on the broker the queues are plain keys, so an
`allkeys-*` policy drops queued tasks (and the `unacked` hash of tasks being run) without a
trace when memory runs out. The specification's own advice, `allkeys-lru`, is such a policy."""

from __future__ import annotations

from redis import asyncio as aioredis
from redis.exceptions import ResponseError

from src.doctor.checks._format import megabytes, url
from src.doctor.model import Advisory, Check, Severity
from src.doctor.sources import RedisMemory, Sources

CODE = "redis_evicts_keys"


async def read_memory(redis: aioredis.Redis, where: str) -> RedisMemory:
    """The policy and limit, from CONFIG GET, or from INFO where CONFIG is renamed or denied
    (managed Redis services)."""
    try:
        config = await redis.config_get("maxmemory*")
        policy, limit = str(config["maxmemory-policy"]), int(config["maxmemory"] or 0)
    except (ResponseError, KeyError):
        info = await redis.info("memory")
        policy, limit = str(info["maxmemory_policy"]), int(info["maxmemory"])
        return RedisMemory(url(where), policy, limit, int(info.get("used_memory", 0)))
    used = (await redis.info("memory")).get("used_memory")
    return RedisMemory(url(where), policy, limit, int(used) if used is not None else None)


def _advise(role: str, memory: RedisMemory) -> Advisory | None:
    policy = memory.policy
    limit = megabytes(memory.maxmemory) if memory.maxmemory else "0 (no limit yet)"
    used = f", {megabytes(memory.used_memory)} used" if memory.used_memory is not None else ""
    evidence = f"{role} Redis {memory.url}: maxmemory-policy={policy}, maxmemory={limit}{used}"
    fix = (
        "CONFIG SET maxmemory-policy noeviction (and the same in redis.conf, or your provider's "
        "parameter group); size maxmemory for the largest backlog you accept, alert on "
        "used_memory, and keep results on a separate Redis if they must be evictable."
    )
    if policy.startswith("allkeys-") and role == "broker":
        return Advisory(
            code=CODE,
            severity=Severity.CRITICAL if memory.maxmemory else Severity.WARNING,
            title="The broker's Redis evicts keys: queued tasks can vanish",
            evidence=evidence
            + (
                ". When memory is full Redis deletes any key, the queue lists and the unacked "
                "hash included: tasks are lost without an error. The specification's advice "
                "(allkeys-lru) is exactly this policy: it would drop queued tasks."
                if memory.maxmemory
                else ". Dormant while maxmemory is 0; the moment a limit is set, queued tasks "
                "become eviction candidates (the specification's allkeys-lru advice does that)."
            ),
            fix=fix,
        )
    if policy.startswith("allkeys-"):
        return Advisory(
            code=CODE,
            severity=Severity.WARNING,
            title="The result backend's Redis evicts keys: results can vanish",
            evidence=evidence + ". Results (and chord counters) can be evicted before they are "
            "read, and a chord whose counter is evicted never fires.",
            fix=fix,
        )
    if policy.startswith("volatile-") and role == "broker":
        return Advisory(
            code=CODE,
            severity=Severity.INFO,
            title="The broker's Redis evicts keys that have a TTL",
            evidence=evidence + ". Queues have no TTL and are safe; keys with one (results, "
            "locks, RedBeat entries kept there) can be evicted.",
            fix=fix,
        )
    return None


async def run(sources: Sources) -> list[Advisory]:
    advisories = []
    servers = [("broker", sources.broker_url, await sources.broker_redis())]
    result = await sources.result_redis()
    if result is not None and _server(sources.result_backend) != _server(sources.broker_url):
        servers.append(("result backend", sources.result_backend, result))
    for role, where, redis in servers:
        if redis is None:
            continue
        advisory = _advise(role, await read_memory(redis, where))
        if advisory is not None:
            advisories.append(advisory)
    return advisories


def _server(value: str) -> str:
    """scheme://host:port without the database number."""
    return value.rsplit("/", 1)[0] if value.count("/") >= 3 else value


CHECK = Check(CODE, run)

__all__ = ["CHECK", "CODE", "read_memory"]
