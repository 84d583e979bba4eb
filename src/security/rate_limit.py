"""Per-client request budgets, counted in Redis so every replica shares them.

Fixed one-minute windows: one `INCR` + `EXPIRE` round trip per request (pipelined). Buckets:
`subject` (authenticated callers, per token subject), `anonymous` (per IP, requests without a
token) and `denied` (per IP, attempts refused as unauthenticated: a bad token, or a token-less
call of a guarded field). A caller over its `denied` budget is refused before anything else is
looked at.

Once Redis has put an address over its `anonymous` or `denied` budget, this process remembers
until when (the end of that window): the flood shield (src/security/shield.py) then refuses the
address's token-less requests before routing or reading the body, with no Redis round trip.
Redis stays the source of truth: a replica learns of the block from Redis's own answer, and the
block ends with the window whatever happens.

Without Redis (or while Redis is down) the counts are kept in this process against a fallback
budget of a quarter of each budget (at least 1): with N replicas each counting alone, the limit
stays near the shared one for up to 4 replicas instead of becoming N times looser, and it never
refuses everyone as an API that fails closed would. At most `_LOCAL_KEYS` counters are held. After
a Redis failure the limiter stays local for `RETRY_REDIS_SECONDS` (a down Redis costs no connect
attempt per request) and says so once in the log, and once again when Redis answers.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from src.errors import AppError, ErrorCode

log = logging.getLogger("celery_admin.security")

WINDOW_SECONDS = 60
RETRY_REDIS_SECONDS = 5.0
FALLBACK_SHARE = 0.25
_KEY = "celery-admin:rate:{bucket}:{who}:{window}"
_LOCAL_KEYS = 10_000
_BLOCKED_KEYS = 10_000
_BAD_TOKENS = 4_096
_BAD_TOKEN_SECONDS = 600.0


class Bucket(StrEnum):
    SUBJECT = "subject"
    ANONYMOUS = "anonymous"
    DENIED = "denied"


# Budgets per address: their refusals hold for every token-less request of that address.
_PER_ADDRESS = frozenset({Bucket.ANONYMOUS, Bucket.DENIED})


class RateLimited(AppError):
    code = ErrorCode.RATE_LIMITED

    def __init__(self, bucket: Bucket, limit: int, retry_after: int) -> None:
        super().__init__(
            f"too many requests ({bucket.value}: {limit} a minute); retry in {retry_after} s",
            details={"bucket": bucket.value, "limit": limit, "retryAfter": retry_after},
        )
        self.bucket = bucket
        self.limit = limit
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Budgets:
    subject: int
    anonymous: int
    denied: int

    def limit(self, bucket: Bucket) -> int:
        return int(getattr(self, bucket.value))

    def fallback(self, bucket: Bucket) -> int:
        """The stricter budget of one process counting alone (Redis away)."""
        return max(1, math.ceil(self.limit(bucket) * FALLBACK_SHARE))


@dataclass(frozen=True, slots=True)
class Block:
    """An address refused until `until` (time.monotonic()) for `bucket`."""

    until: float
    bucket: Bucket
    limit: int

    def retry_after(self, now: float) -> int:
        return max(1, math.ceil(self.until - now))

    def refusal(self) -> RateLimited:
        return RateLimited(self.bucket, self.limit, self.retry_after(time.monotonic()))


def token_digest(token: str) -> bytes:
    return hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class RateLimiter:
    def __init__(self, redis: aioredis.Redis | None, budgets: Budgets) -> None:
        self._redis = redis
        self.budgets = budgets
        self._local: OrderedDict[str, int] = OrderedDict()
        self._blocked: OrderedDict[str, Block] = OrderedDict()
        self._bad_tokens: OrderedDict[bytes, float] = OrderedDict()
        self._redis_down_until = 0.0  # monotonic; while in the future, counts are local
        self._degraded = redis is None

    # -- what the flood shield asks, no I/O ----------------------------------------------

    def blocked(self, who: str) -> Block | None:
        """The block on this address, if Redis put it over a per-address budget this window."""
        block = self._blocked.get(who)
        if block is None:
            return None
        if block.until <= time.monotonic():
            self._blocked.pop(who, None)
            return None
        return block

    def remember_bad_token(self, token: str) -> None:
        """A token the gate refused: a blocked address sending it again is refused as if it
        sent none (for `_BAD_TOKEN_SECONDS`; at most `_BAD_TOKENS` remembered)."""
        digest = token_digest(token)
        self._bad_tokens.pop(digest, None)
        self._bad_tokens[digest] = time.monotonic() + _BAD_TOKEN_SECONDS
        while len(self._bad_tokens) > _BAD_TOKENS:
            self._bad_tokens.popitem(last=False)

    def known_bad(self, token: str) -> bool:
        until = self._bad_tokens.get(token_digest(token))
        return until is not None and until > time.monotonic()

    @property
    def local_counters(self) -> int:
        """How many counters this process holds (at most `_LOCAL_KEYS`)."""
        return len(self._local)

    @property
    def degraded(self) -> bool:
        """True while budgets are counted in this process only (Redis away or not configured)."""
        return self._degraded

    # -- counting ------------------------------------------------------------------------

    @staticmethod
    def _window() -> tuple[int, float]:
        """The window's number and the seconds left in it."""
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        return window, (window + 1) * WINDOW_SECONDS - now

    def _local_add(self, key: str, amount: int) -> int:
        count = self._local.pop(key, 0) + amount
        self._local[key] = count
        while len(self._local) > _LOCAL_KEYS:
            self._local.popitem(last=False)
        return count

    def _redis_failed(self, exc: BaseException) -> None:
        self._redis_down_until = time.monotonic() + RETRY_REDIS_SECONDS
        if not self._degraded:
            self._degraded = True
            log.warning(
                "rate limits counted in this process (a quarter of each budget): Redis failed "
                "(%s); Redis is tried again every %g s",
                exc,
                RETRY_REDIS_SECONDS,
            )

    async def _add(self, bucket: Bucket, who: str, amount: int) -> tuple[int, float, int]:
        """(count, seconds left in the window, the budget that applies to the count)."""
        window, left = self._window()
        key = _KEY.format(bucket=bucket.value, who=who, window=window)
        if self._redis is not None and time.monotonic() >= self._redis_down_until:
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    if amount:
                        pipe.incrby(key, amount)
                        pipe.expire(key, WINDOW_SECONDS * 2)
                    else:
                        pipe.get(key)
                    replies = await pipe.execute()
            except (RedisError, OSError) as exc:
                self._redis_failed(exc)
            else:
                if self._degraded:
                    self._degraded = False
                    log.warning("rate limits counted in Redis again (shared by the replicas)")
                return int(replies[0] or 0), left, self.budgets.limit(bucket)
        return self._local_add(key, amount), left, self.budgets.fallback(bucket)

    def _refuse(self, bucket: Bucket, who: str, limit: int, left: float) -> RateLimited:
        if bucket in _PER_ADDRESS:
            self._blocked.pop(who, None)
            self._blocked[who] = Block(time.monotonic() + left, bucket, limit)
            while len(self._blocked) > _BLOCKED_KEYS:
                self._blocked.popitem(last=False)
        return RateLimited(bucket, limit, max(1, math.ceil(left)))

    async def hit(self, bucket: Bucket, who: str) -> int:
        """Count one request; raise RateLimited when it is over the bucket's budget.
        Returns the count (the first over the budget is `limit + 1`)."""
        count, left, limit = await self._add(bucket, who, 1)
        if count > limit:
            raise self._refuse(bucket, who, limit, left)
        return count

    async def check(self, bucket: Bucket, who: str) -> None:
        """Raise RateLimited if the bucket is already over its budget (counts nothing)."""
        count, left, limit = await self._add(bucket, who, 0)
        if count >= limit:
            raise self._refuse(bucket, who, limit, left)

    async def count(self, bucket: Bucket, who: str) -> int:
        """Count one event in the bucket without refusing anything; returns the count."""
        return (await self._add(bucket, who, 1))[0]


__all__ = ["Block", "Bucket", "Budgets", "RateLimited", "RateLimiter", "token_digest"]
