"""Worker liveness as the collector sees it (heartbeats), kept in Redis for every replica.

One hash per worker, `celery_admin:worker:<hostname>`, with a TTL, plus a sorted set
`celery_admin:workers` (hostname by last time heard) to list them without SCAN. Readers compute
`online` from the last heartbeat and its frequency themselves (Celery's rule: expired after
`freq * 2` seconds, plus slack), so a stale hash reads as offline even when no collector runs.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis import asyncio as aioredis

PREFIX = "celery_admin:"
WORKER_KEY = PREFIX + "worker:{hostname}"
WORKERS_INDEX = PREFIX + "workers"
REGISTRY_TTL = 24 * 3600  # how long a silent worker is remembered (listed as OFFLINE)
HEARTBEAT_SLACK = 2.0
DEFAULT_FREQ = 2.0


def expires_at(heard_at: float, freq: float | None, slack: float = HEARTBEAT_SLACK) -> float:
    """When a worker heard at `heard_at` with heartbeat frequency `freq` counts as gone."""
    return heard_at + max(freq or DEFAULT_FREQ, 1.0) * 2 + slack


@dataclass(frozen=True, slots=True)
class WorkerRecord:
    hostname: str
    online: bool
    last_heartbeat: datetime | None  # the worker's own timestamp of its latest heartbeat
    heard_at: float  # our clock, when we last heard from it
    freq: float | None
    loadavg: list[float] | None
    sw_ident: str | None
    sw_ver: str | None
    sw_sys: str | None
    processed: int | None
    active: int | None
    offline_at: float | None

    @classmethod
    def from_hash(cls, hostname: str, raw: dict[str, str], now: float) -> WorkerRecord:
        def num(key: str) -> float | None:
            try:
                return float(raw[key]) if raw.get(key) not in (None, "") else None
            except ValueError:
                return None

        heard = num("heard_at") or 0.0
        freq = num("freq")
        heartbeat = num("last_heartbeat")
        online = raw.get("online") == "1" and now <= expires_at(heard, freq)
        loadavg = None
        if raw.get("loadavg"):
            try:
                loadavg = [float(x) for x in json.loads(raw["loadavg"])]
            except (ValueError, TypeError):
                loadavg = None
        processed, active = num("processed"), num("active")
        return cls(
            hostname=hostname,
            online=online,
            last_heartbeat=datetime.fromtimestamp(heartbeat, UTC) if heartbeat else None,
            heard_at=heard,
            freq=freq,
            loadavg=loadavg,
            sw_ident=raw.get("sw_ident") or None,
            sw_ver=raw.get("sw_ver") or None,
            sw_sys=raw.get("sw_sys") or None,
            processed=int(processed) if processed is not None else None,
            active=int(active) if active is not None else None,
            offline_at=num("offline_at"),
        )


def _str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def read_workers(redis: aioredis.Redis | None) -> dict[str, WorkerRecord]:
    """Every worker heard within the registry TTL, by hostname; empty when Redis is unavailable."""
    if redis is None:
        return {}
    now = time.time()
    try:
        hostnames = [
            _str(h) for h in await redis.zrangebyscore(WORKERS_INDEX, now - REGISTRY_TTL, "+inf")
        ]
        if not hostnames:
            return {}
        async with redis.pipeline(transaction=False) as pipe:
            for hostname in hostnames:
                pipe.hgetall(WORKER_KEY.format(hostname=hostname))
            hashes = await pipe.execute()
    except Exception:
        return {}
    out = {}
    for hostname, raw in zip(hostnames, hashes, strict=True):
        if raw:
            decoded = {_str(k): _str(v) for k, v in raw.items()}
            out[hostname] = WorkerRecord.from_hash(hostname, decoded, now)
    return out


async def write_workers(redis: aioredis.Redis, states: list[dict[str, Any]]) -> None:
    """One pipeline for every changed worker (called by the collector about once a second)."""
    if not states:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for state in states:
            key = WORKER_KEY.format(hostname=state["hostname"])
            mapping: dict[Any, Any] = {k: ("" if v is None else v) for k, v in state.items()}
            pipe.hset(key, mapping=mapping)
            pipe.expire(key, REGISTRY_TTL)
            pipe.zadd(WORKERS_INDEX, {state["hostname"]: float(state.get("heard_at") or 0)})
        pipe.zremrangebyscore(WORKERS_INDEX, "-inf", time.time() - REGISTRY_TTL)
        await pipe.execute()


__all__ = [
    "HEARTBEAT_SLACK",
    "PREFIX",
    "REGISTRY_TTL",
    "WORKERS_INDEX",
    "WORKER_KEY",
    "WorkerRecord",
    "expires_at",
    "read_workers",
    "write_workers",
]
