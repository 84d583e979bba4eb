"""The revoke registry on a real Redis: kept for Celery's revoke lifetime, then forgotten."""

from __future__ import annotations

import uuid

import pytest
from redis import asyncio as aioredis

from src.control import revokes
from src.control.revokes import RevokeRegistry
from src.embedded_redis import EmbeddedRedis


@pytest.fixture
async def redis(redis_server: EmbeddedRedis):  # type: ignore[no-untyped-def]
    client = aioredis.Redis.from_url(f"{redis_server.url}/5")
    await client.delete(revokes.KEY)
    yield client
    await client.delete(revokes.KEY)
    await client.aclose()


async def test_revokes_live_until_they_expire(
    redis: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = RevokeRegistry(redis, controller=None)  # type: ignore[arg-type]  (no replay here)
    kept, expired = str(uuid.uuid4()), str(uuid.uuid4())
    await registry.record([kept])
    monkeypatch.setattr(revokes, "REVOKE_EXPIRES", -1.0)  # recorded already past its lifetime
    await registry.record([expired])
    assert await registry.live() == [kept]
    assert await registry.contains(kept) and not await registry.contains(expired)


async def test_the_registry_keeps_at_most_revokes_max(
    redis: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(revokes, "REVOKES_MAX", 3)
    registry = RevokeRegistry(redis, controller=None)  # type: ignore[arg-type]
    ids = [f"t{i}" for i in range(5)]
    for task_id in ids:
        monkeypatch.setattr(revokes, "REVOKE_EXPIRES", 100.0 + len(task_id) + ids.index(task_id))
        await registry.record([task_id])
    assert sorted(await registry.live()) == ids[2:]
