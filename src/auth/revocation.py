"""Revoked tokens, by `jti`: kept in Redis so every replica honours them, and checked in memory.

Redis holds one sorted set (`celery_admin:revoked_tokens`, member = jti, score = the epoch after
which the token is dead anyway); entries past their score are pruned, so the set stays as small as
the tokens revoked within one maximum lifetime. Each replica refreshes its in-memory copy every
`REFRESH_SECONDS` (the replica that revokes knows at once), so token verification stays a set
lookup on the event loop. When a jti becomes revoked, the WebSocket connections opened with it are
closed (4403, as for a connection refused at `connection_init`).

With Redis away the last copy stays in force (fail-safe for what is known); `revoke()` answers
BACKEND_UNAVAILABLE rather than pretend.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from redis import asyncio as aioredis

from src.errors import AppError, ErrorCode

log = logging.getLogger(__name__)

KEY = "celery_admin:revoked_tokens"
REFRESH_SECONDS = 1.0
MAX_ENTRIES = 100_000  # far beyond any real use; bounds the memory of a replica
CLOSE_CODE = 4403

Closer = Callable[[], Awaitable[None]]


class RevocationUnavailable(AppError):
    code = ErrorCode.BACKEND_UNAVAILABLE


class Revocations:
    def __init__(self, redis: aioredis.Redis | None, *, refresh: float = REFRESH_SECONDS) -> None:
        self._redis = redis
        self._refresh = refresh
        self._revoked: dict[str, float] = {}
        self._connections: dict[str, weakref.WeakSet[Any]] = {}

    # -- checks (sync, on the event loop) ---------------------------------------------------

    def is_revoked(self, jti: str) -> bool:
        until = self._revoked.get(jti)
        return until is not None and until > time.time()

    # -- revoking ---------------------------------------------------------------------------

    async def revoke(self, jti: str, until: float) -> None:
        """Record `jti` as revoked until the epoch `until` (its expiry), for every replica."""
        if self._redis is None:
            raise RevocationUnavailable(
                "token revocation needs Redis (PUBSUB_URL or a Redis broker)"
            )
        try:
            async with asyncio.timeout(5):
                await self._redis.zadd(KEY, {jti: until}, gt=True)  # adds, or extends
        except Exception as exc:
            raise RevocationUnavailable(
                f"the revocation could not be recorded in Redis: {type(exc).__name__}"
            ) from exc
        await self._learn({jti: until})

    # -- open WebSockets --------------------------------------------------------------------

    def track(self, jti: str | None, websocket: Any) -> None:
        """Close `websocket` (anything with `async close(code, reason)`) if `jti` is revoked."""
        if jti is None:
            return
        self._connections.setdefault(jti, weakref.WeakSet()).add(websocket)

    async def _close(self, jti: str) -> None:
        sockets = self._connections.pop(jti, None)
        for websocket in list(sockets or ()):
            with contextlib.suppress(Exception):  # already closed
                await websocket.close(code=CLOSE_CODE, reason="token revoked")

    # -- keeping the copy current -----------------------------------------------------------

    async def refresh(self) -> None:
        if self._redis is None:
            return
        now = time.time()
        async with asyncio.timeout(5):
            await self._redis.zremrangebyscore(KEY, "-inf", now)
            rows = await self._redis.zrangebyscore(
                KEY, now, "+inf", start=0, num=MAX_ENTRIES, withscores=True
            )
        current: dict[str, float] = {}
        for row in rows:
            member, score = row[0], row[1]
            current[member.decode() if isinstance(member, bytes) else str(member)] = float(score)
        await self._learn(current, replace=True)

    async def _learn(self, entries: dict[str, float], *, replace: bool = False) -> None:
        new = [jti for jti in entries if jti not in self._revoked]
        if replace:
            self._revoked = dict(entries)
        else:
            self._revoked.update(entries)
        for jti in new:
            await self._close(jti)
        for jti in [j for j in self._connections if j not in self._revoked]:
            if not self._connections[jti]:
                del self._connections[jti]

    async def run(self) -> None:
        """Refresh forever (a background loop of every replica)."""
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # Redis away: keep what we know
                log.debug("revocation list not refreshed: %s", exc)
            await asyncio.sleep(self._refresh)


__all__ = ["CLOSE_CODE", "KEY", "RevocationUnavailable", "Revocations"]
