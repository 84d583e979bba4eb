"""Health of each dependency, each check bounded in time, for systemStatus and the REST probe."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass

from sqlalchemy import text

from src.services import Services

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


async def _database(services: Services) -> None:
    async with services.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _result_backend(services: Services) -> None:
    if services.result_redis is not None:
        await services.result_redis.ping()


async def check_components(services: Services) -> list[ComponentHealth]:
    """Broker, result backend and database, checked concurrently."""
    return list(
        await asyncio.gather(
            _timed("broker", services.queues.ping()),
            _timed("result_backend", _result_backend(services)),
            _timed("database", _database(services)),
        )
    )


__all__ = ["ComponentHealth", "check_components"]
