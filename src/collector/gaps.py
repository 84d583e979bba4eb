"""Broker gaps: when the collector heard nothing because the broker was unreachable.

Each gap is logged and pushed onto a capped Redis list, so any replica can show what history may
be missing and when.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from src.collector.workers_registry import PREFIX

GAPS_KEY = PREFIX + "collector:gaps"
MAX_GAPS = 1000


# Pauses between tries: a gap is recorded just as the broker's Redis comes back, when the pooled
# connections it closed fail their first use (None: the last try).
RECORD_RETRIES: tuple[float | None, ...] = (0.2, 0.5, 1.0, None)


async def record_gap(redis: aioredis.Redis | None, gap: dict[str, Any]) -> None:
    if redis is None:
        return
    entry = {
        "start": gap["start"],
        "end": gap["end"],
        "duration": round(gap["end"] - gap["start"], 3),
        "error": gap.get("error", ""),
    }
    for pause in RECORD_RETRIES:
        try:
            async with redis.pipeline(transaction=False) as pipe:
                pipe.lpush(GAPS_KEY, json.dumps(entry))
                pipe.ltrim(GAPS_KEY, 0, MAX_GAPS - 1)
                await pipe.execute()
            return
        except (RedisError, OSError):
            if pause is None:
                raise
            await asyncio.sleep(pause)


async def read_gaps(redis: aioredis.Redis, limit: int = 100) -> list[dict[str, Any]]:
    """The most recent gaps first."""
    raw = await redis.lrange(GAPS_KEY, 0, limit - 1)
    return [json.loads(item) for item in raw]


__all__ = ["GAPS_KEY", "read_gaps", "record_gap"]
