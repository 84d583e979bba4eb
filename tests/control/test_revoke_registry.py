"""The revoke registry on a real Redis: kept for Celery's revoke lifetime, then forgotten; one
replica answers each hello and one re-sends to a worker at a time."""

from __future__ import annotations

import uuid

import pytest
import redis as sync_redis
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
    registry = RevokeRegistry(redis)
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
    registry = RevokeRegistry(redis)
    ids = [f"t{i}" for i in range(5)]
    for task_id in ids:
        monkeypatch.setattr(revokes, "REVOKE_EXPIRES", 100.0 + len(task_id) + ids.index(task_id))
        await registry.record([task_id])
    assert sorted(await registry.live()) == ids[2:]


async def test_one_replica_answers_each_hello(
    redis: aioredis.Redis, redis_server: EmbeddedRedis
) -> None:
    registry = RevokeRegistry(redis)
    await registry.record(["a", "b"])
    ticket = str(uuid.uuid4())
    first, second = (sync_redis.Redis.from_url(f"{redis_server.url}/5") for _ in range(2))
    try:
        assert revokes.claim_hello(first, ticket, "replica-1") == ["a", "b"]
        assert revokes.claim_hello(second, ticket, "replica-2") is None  # already answered
        assert revokes.claim_hello(second, str(uuid.uuid4()), "replica-2") == ["a", "b"]
    finally:
        first.close()
        second.close()


async def test_one_replica_resends_to_a_worker_at_a_time(redis: aioredis.Redis) -> None:
    """The second replica does not re-send beside the first: it asks it for one more round."""
    registry = RevokeRegistry(redis)
    host = f"w-{uuid.uuid4().hex[:6]}@tests"
    assert await registry.claim_replay(host, "replica-1", ttl=10)
    assert not await registry.claim_replay(host, "replica-2", ttl=10)
    assert await registry.refresh_replay(host, "replica-1", ttl=10)
    assert not await registry.refresh_replay(host, "replica-2", ttl=10)
    assert await registry.take_replay_again(host)  # asked once ...
    assert not await registry.take_replay_again(host)  # ... and taken once
    await registry.release_replay(host, "replica-2")  # not its lease: nothing happens
    assert not await registry.claim_replay(host, "replica-2", ttl=10)
    await registry.release_replay(host, "replica-1")
    assert await registry.claim_replay(host, "replica-2", ttl=10)
    await registry.release_replay(host, "replica-2")
