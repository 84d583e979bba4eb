"""Revokes that survive: every revoke is recorded in Redis and re-sent to workers coming online.

A revoke is a broadcast: a worker that is down at the time never hears it and will run the task
when it comes back. So each revoked id goes into a sorted set scored by its expiry (Celery's
workers forget revokes after `CELERY_WORKER_REVOKE_EXPIRES`, 3 hours by default, and keep at most
`CELERY_WORKER_REVOKES_MAX`), and `replay(hostname)` sends the live ones to a worker that comes
(back) online; `Services.on_worker_online` calls it.
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING

from redis import asyncio as aioredis

if TYPE_CHECKING:
    from src.control.broadcast import Controller

log = logging.getLogger(__name__)

KEY = "celery-admin:revokes"
REVOKE_EXPIRES = float(os.environ.get("CELERY_WORKER_REVOKE_EXPIRES", 10800))
REVOKES_MAX = int(os.environ.get("CELERY_WORKER_REVOKES_MAX", 50000))
REPLAY_BATCH = 5000


class RevokeRegistry:
    def __init__(self, redis: aioredis.Redis, controller: Controller) -> None:
        self.redis = redis
        self.controller = controller

    async def record(self, task_ids: list[str]) -> None:
        if not task_ids:
            return
        expires = time.time() + REVOKE_EXPIRES
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(KEY, dict.fromkeys(task_ids, expires))
            pipe.zremrangebyscore(KEY, "-inf", time.time())
            pipe.zremrangebyrank(KEY, 0, -REVOKES_MAX - 1)  # keep the newest REVOKES_MAX
            await pipe.execute()

    async def live(self) -> list[str]:
        await self.redis.zremrangebyscore(KEY, "-inf", time.time())
        members = await self.redis.zrange(KEY, 0, -1)
        return [m.decode() if isinstance(m, bytes) else str(m) for m in members]

    async def contains(self, task_id: str) -> bool:
        score = await self.redis.zscore(KEY, task_id)
        return score is not None and score > time.time()

    async def replay(self, hostname: str) -> int:
        """Send every live revoke to `hostname`; returns how many ids were sent."""
        ids = await self.live()
        for start in range(0, len(ids), REPLAY_BATCH):
            batch = ids[start : start + REPLAY_BATCH]
            await self.controller.call(
                "revoke", {"task_id": batch, "terminate": False}, destination=[hostname]
            )
        if ids:
            log.info("re-sent %d revoke(s) to %s", len(ids), hostname)
        return len(ids)


__all__ = ["REVOKE_EXPIRES", "RevokeRegistry"]
