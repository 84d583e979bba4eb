"""Revokes that survive: every revoke is recorded in Redis, where every replica reads it.

A revoke is a broadcast: a worker that is down at the time never hears it and will run the task
when it comes back. So each revoked id goes into a sorted set scored by its expiry (Celery's
workers forget revokes after `CELERY_WORKER_REVOKE_EXPIRES`, 3 hours by default, and keep at most
`CELERY_WORKER_REVOKES_MAX`). Two parts hand the live ids to a worker that (re)starts:
`mingle_responder` answers its start-up `hello` (before it takes any task) and `revoke_replay`
re-sends them until it acknowledges. This module is the only one that knows the keys.

The responder runs in a thread with a synchronous Redis client, the rest on the event loop; both
read through the same key layout (`claim_hello` / `RevokeRegistry.live`).
"""

from __future__ import annotations

import os
import time
from typing import cast

import redis
from redis import asyncio as aioredis

from src.leadership import RELEASE_IF_HELD, RENEW_IF_HELD

KEY = "celery-admin:revokes"
HELLO_CLAIM_KEY = "celery-admin:revokes:hello:{ticket}"  # which replica answers one hello
REPLAY_LOCK_KEY = (
    "celery-admin:revokes:replaying:{hostname}"  # which replica re-sends to one worker
)
REPLAY_AGAIN_KEY = "celery-admin:revokes:again:{hostname}"  # "it came online again meanwhile"
REVOKE_EXPIRES = float(os.environ.get("CELERY_WORKER_REVOKE_EXPIRES", 10800))
REVOKES_MAX = int(os.environ.get("CELERY_WORKER_REVOKES_MAX", 50000))
HELLO_CLAIM_TTL_MS = 60_000

# Claim one hello for this process and, when won, read the live ids (oldest first) in the same
# round trip: the responder has about a second before the worker stops listening for answers.
_CLAIM_HELLO = """
if not redis.call('set', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[3]) then
  return false
end
return redis.call('zrangebyscore', KEYS[2], ARGV[1], '+inf')
"""


def _text(member: bytes | str) -> str:
    return member.decode() if isinstance(member, bytes) else str(member)


class RevokeRegistry:
    """The durable revokes, on the event loop."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

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
        """Every revoke still live, oldest first (so a worker whose set is full drops those)."""
        members = await self.redis.zrangebyscore(KEY, time.time(), "+inf")
        return [_text(cast(bytes, m)) for m in members]

    async def contains(self, task_id: str) -> bool:
        score = await self.redis.zscore(KEY, task_id)
        return score is not None and score > time.time()

    async def claim_replay(self, hostname: str, token: str, ttl: float) -> bool:
        """Become the one replica re-sending to `hostname`; when another one is, ask it to go
        round once more (the worker may have restarted since its last attempt)."""
        key = REPLAY_LOCK_KEY.format(hostname=hostname)
        if await self.redis.set(key, token, nx=True, px=int(ttl * 1000)):
            return True
        again = REPLAY_AGAIN_KEY.format(hostname=hostname)
        await self.redis.set(again, "1", px=int(ttl * 1000))
        return False

    async def refresh_replay(self, hostname: str, token: str, ttl: float) -> bool:
        key = REPLAY_LOCK_KEY.format(hostname=hostname)
        return bool(await self.redis.eval(RENEW_IF_HELD, 1, key, token, int(ttl * 1000)))

    async def take_replay_again(self, hostname: str) -> bool:
        """Whether another replica asked for one more round (and clear the request)."""
        return bool(await self.redis.getdel(REPLAY_AGAIN_KEY.format(hostname=hostname)))

    async def release_replay(self, hostname: str, token: str) -> None:
        await self.redis.eval(RELEASE_IF_HELD, 1, REPLAY_LOCK_KEY.format(hostname=hostname), token)


def claim_hello(client: redis.Redis, ticket: str, claimant: str) -> list[str] | None:
    """For the mingle responder's thread: the live ids when this process won the right to answer
    the hello with this ticket, None when another replica answers it."""
    key = HELLO_CLAIM_KEY.format(ticket=ticket)
    found = client.eval(_CLAIM_HELLO, 2, key, KEY, time.time(), claimant, HELLO_CLAIM_TTL_MS)
    if found is None:
        return None
    return [_text(m) for m in found]


__all__ = ["KEY", "REVOKE_EXPIRES", "RevokeRegistry", "claim_hello"]
