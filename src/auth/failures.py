"""Sign-in activity: failed authentications counted per source IP and per subject, and where
super_admins act from.

Kept in Redis (celery-admin's state Redis) so every replica counts into the same window and the
alert rule `auth_failures` (evaluated by the monitoring leader) sees them all; in this process's
memory without a Redis (single replica). Everything is bounded: a failure list per source keeps its
last `MAX_PER_SOURCE` entries within `MAX_WINDOW`, the set of failing sources its `MAX_SOURCES`
most recent, and keys expire.

Reasons are stable words (`bad_signature`, `expired`, `unknown_issuer`, `revoked`, ...); they label
`celery_admin_auth_failures_total{reason}` on /metrics.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from src.errors import Unauthenticated

log = logging.getLogger(__name__)

NAMESPACE = "celery_admin:auth"
MAX_WINDOW = 86400.0
MAX_PER_SOURCE = 1000
MAX_SOURCES = 5000
SEEN_FIELDS_MAX = 100_000

# Messages of the local token service (src/auth/tokens.py) to reasons; the OIDC verifier raises
# AuthFailure with its reason already set.
_REASON_WORDS = (
    ("revoked", "revoked"),
    ("expired", "expired"),
    ("issuer", "unknown_issuer"),
    ("signature", "bad_signature"),
    ("no key", "bad_signature"),
    ("audience", "bad_audience"),
    ("malformed", "malformed"),
    ("algorithm", "bad_algorithm"),
    ("role", "no_role"),
)


def reason_of(error: Unauthenticated) -> str:
    reason = error.details.get("reason") if error.details else None
    if isinstance(reason, str):
        return reason
    text = error.message.lower()
    return next((r for word, r in _REASON_WORDS if word in text), "invalid")


@dataclass(frozen=True, slots=True)
class Burst:
    """A source with `count` failures in the window."""

    kind: str  # "ip" or "subject"
    value: str
    count: int


class FailureStore(Protocol):
    async def record(self, reason: str, *, ip: str | None, subject: str | None) -> None: ...
    async def totals(self) -> dict[str, int]: ...
    async def bursts(
        self, window: float, threshold: int, kinds: tuple[str, ...]
    ) -> list[Burst]: ...
    async def last_seen(self, kind: str, value: str) -> float | None: ...
    async def seen(self, kind: str, value: str) -> None: ...


class RedisFailureStore:
    def __init__(self, redis: aioredis.Redis, *, namespace: str = NAMESPACE) -> None:
        self._redis = redis
        self._ns = namespace

    def _k(self, *parts: str) -> str:
        return ":".join((self._ns, *parts))

    async def record(self, reason: str, *, ip: str | None, subject: str | None) -> None:
        now = time.time()
        pipe = self._redis.pipeline(transaction=False)
        pipe.hincrby(self._k("totals"), reason, 1)
        for kind, value in (("ip", ip), ("subject", subject)):
            if not value:
                continue
            source = f"{kind}:{value[:200]}"
            key = self._k("fail", source)
            pipe.zadd(key, {f"{now!r}:{uuid.uuid4().hex[:8]}:{reason}": now})
            pipe.zremrangebyscore(key, 0, now - MAX_WINDOW)
            pipe.zremrangebyrank(key, 0, -MAX_PER_SOURCE - 1)
            pipe.expire(key, int(MAX_WINDOW))
            pipe.zadd(self._k("sources"), {source: now})
        pipe.zremrangebyscore(self._k("sources"), 0, now - MAX_WINDOW)
        pipe.zremrangebyrank(self._k("sources"), 0, -MAX_SOURCES - 1)
        await pipe.execute()

    async def totals(self) -> dict[str, int]:
        raw = await self._redis.hgetall(self._k("totals"))
        return {_text(k): int(v) for k, v in raw.items()}

    async def bursts(self, window: float, threshold: int, kinds: tuple[str, ...]) -> list[Burst]:
        now = time.time()
        sources = [
            _text(s)  # type: ignore[arg-type]
            for s in await self._redis.zrangebyscore(self._k("sources"), now - window, "+inf")
        ]
        sources = [s for s in sources if s.partition(":")[0] in kinds]
        if not sources:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for source in sources:
            pipe.zcount(self._k("fail", source), now - window, "+inf")
        counts = await pipe.execute()
        found = []
        for source, count in zip(sources, counts, strict=True):
            if int(count) >= threshold:
                kind, _, value = source.partition(":")
                found.append(Burst(kind, value, int(count)))
        return found

    async def last_seen(self, kind: str, value: str) -> float | None:
        raw = await self._redis.hget(self._k("seen"), f"{kind}:{value}")
        return float(raw) if raw is not None else None

    async def seen(self, kind: str, value: str) -> None:
        key = self._k("seen")
        await self._redis.hset(key, f"{kind}:{value[:200]}", repr(time.time()))
        if await self._redis.hlen(key) > SEEN_FIELDS_MAX:  # pathological: start over
            await self._redis.delete(key)


class MemoryFailureStore:
    """The same in this process (a single replica without Redis, tools)."""

    def __init__(self) -> None:
        self._totals: dict[str, int] = defaultdict(int)
        self._fails: dict[str, list[float]] = {}
        self._seen: dict[str, float] = {}

    async def record(self, reason: str, *, ip: str | None, subject: str | None) -> None:
        now = time.time()
        self._totals[reason] += 1
        for kind, value in (("ip", ip), ("subject", subject)):
            if value:
                times = self._fails.setdefault(f"{kind}:{value[:200]}", [])
                times.append(now)
                del times[:-MAX_PER_SOURCE]
        if len(self._fails) > MAX_SOURCES:
            oldest = sorted(self._fails, key=lambda s: self._fails[s][-1])
            for source in oldest[: len(self._fails) - MAX_SOURCES]:
                del self._fails[source]

    async def totals(self) -> dict[str, int]:
        return dict(self._totals)

    async def bursts(self, window: float, threshold: int, kinds: tuple[str, ...]) -> list[Burst]:
        since = time.time() - window
        found = []
        for source, times in self._fails.items():
            kind, _, value = source.partition(":")
            count = sum(1 for t in times if t >= since)
            if kind in kinds and count >= threshold:
                found.append(Burst(kind, value, count))
        return found

    async def last_seen(self, kind: str, value: str) -> float | None:
        return self._seen.get(f"{kind}:{value}")

    async def seen(self, kind: str, value: str) -> None:
        if len(self._seen) > SEEN_FIELDS_MAX:
            self._seen.clear()
        self._seen[f"{kind}:{value[:200]}"] = time.time()


class SignInActivity:
    """What the authenticator and the guard tell, and what alerts and /metrics read."""

    def __init__(self, store: FailureStore, *, new_source_days: int) -> None:
        self.store = store
        self._new_after = new_source_days * 86400.0

    async def failed(self, error: Unauthenticated, *, ip: str | None, subject: str | None) -> None:
        """Count one failed authentication; a Redis away must not turn it into a 500."""
        try:
            await self.store.record(reason_of(error), ip=ip, subject=subject)
        except (RedisError, OSError) as exc:
            log.warning("an authentication failure was not counted: %s", exc)

    async def unfamiliar(self, *, subject: str | None, ip: str | None) -> list[str]:
        """Which of subject and IP were not seen acting in the last N days (then remember them
        as seen now). Unknowable (Redis away): nothing is flagged, and it is logged."""
        flags = []
        try:
            now = time.time()
            for kind, value in (("subject", subject), ("ip", ip)):
                if not value:
                    continue
                last = await self.store.last_seen(kind, value)
                if last is None or now - last > self._new_after:
                    flags.append(f"new_{kind}")
                await self.store.seen(kind, value)
        except (RedisError, OSError) as exc:
            log.warning("sign-in history unavailable: %s", exc)
        return flags


def failure_store_for(redis: aioredis.Redis | None) -> FailureStore:
    return RedisFailureStore(redis) if redis is not None else MemoryFailureStore()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


__all__ = [
    "Burst",
    "FailureStore",
    "MemoryFailureStore",
    "RedisFailureStore",
    "SignInActivity",
    "failure_store_for",
    "reason_of",
]
