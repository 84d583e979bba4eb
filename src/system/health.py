"""Health of each dependency, each check bounded in time, for systemStatus and the REST probe."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass

from redis import asyncio as aioredis

from src.brokers import QueueBackend
from src.db.session import Database

CHECK_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    name: str
    ok: bool
    detail: str
    latency_ms: float | None = None


async def _timed(name: str, check: Awaitable[object]) -> ComponentHealth:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check, CHECK_TIMEOUT)
    except TimeoutError:
        return ComponentHealth(name, False, f"no answer within {CHECK_TIMEOUT:g}s")
    except Exception as exc:
        return ComponentHealth(name, False, _short(exc))
    return ComponentHealth(name, True, "ok", round((time.perf_counter() - started) * 1000, 2))


def _short(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}"[:300]


class HealthChecks:
    """Broker, result backend and database: is each reachable now?"""

    def __init__(
        self, broker: QueueBackend, result_redis: aioredis.Redis | None, db: Database
    ) -> None:
        self._broker = broker
        self._result_redis = result_redis
        self._db = db

    async def _result_backend(self) -> None:
        if self._result_redis is not None:
            await self._result_redis.ping()

    async def check(self) -> list[ComponentHealth]:
        """Each dependency, checked concurrently."""
        return list(
            await asyncio.gather(
                _timed("broker", self._broker.ping()),
                _timed("result_backend", self._result_backend()),
                _timed("database", self._db.ping()),
            )
        )


__all__ = ["ComponentHealth", "HealthChecks"]
