"""Contract: what src/bus/broadcaster_adapter.py relies on in broadcaster's private parts.

Fails loudly when a new broadcaster release moves or changes them; then revisit the adapter (and
the pin in pyproject.toml) rather than the bus.
"""

from __future__ import annotations

import asyncio
import inspect
import uuid
from importlib.metadata import version

from broadcaster import Broadcast
from broadcaster._backends.redis import RedisBackend

from src.bus.broadcaster_adapter import SubscribeFirstBackend, arrived_at, listener_task
from src.embedded_redis import EmbeddedRedis

TESTED = "0.3."


def test_the_tested_release_is_installed() -> None:
    assert version("broadcaster").startswith(TESTED), version("broadcaster")


def test_the_private_backend_has_the_shape_we_subclass() -> None:
    assert issubclass(SubscribeFirstBackend, RedisBackend)
    parent = inspect.signature(RedisBackend.__init__)
    assert list(parent.parameters) == ["self", "url"]
    for name in ("connect", "disconnect", "subscribe", "unsubscribe", "publish", "next_published"):
        assert inspect.iscoroutinefunction(getattr(RedisBackend, name)), name
    assert list(inspect.signature(RedisBackend.subscribe).parameters) == ["self", "channel"]
    assert inspect.iscoroutinefunction(RedisBackend._pubsub_listener)
    # The attributes the parent's constructor sets are the ones our constructor replaces (its
    # listener and connect() read them).
    source = inspect.getsource(RedisBackend.__init__)
    for attribute in ("_conn", "_pubsub", "_ready", "_queue", "_listener"):
        assert f"self.{attribute}" in source, attribute
    assert "self._ready.wait()" in inspect.getsource(RedisBackend._pubsub_listener)
    assert "_listener_task" in inspect.getsource(Broadcast.connect)


async def test_a_message_travels_through_a_real_redis(redis_server: EmbeddedRedis) -> None:
    backend = SubscribeFirstBackend(f"{redis_server.url}/0", connect_timeout=3.0)
    broadcast = Broadcast(backend=backend)
    channel = f"contract.{uuid.uuid4().hex}"
    await asyncio.wait_for(broadcast.connect(), 10)
    try:
        task = listener_task(broadcast)
        assert task is not None and not task.done()
        async with broadcast.subscribe(channel) as subscriber:
            assert backend.listening
            await broadcast.publish(channel, "hello")
            event = await asyncio.wait_for(subscriber.get(), 10)
        assert (event.channel, event.message) == (channel, "hello")
        # What the bus reads to bound delivery in time: each message stamped and counted.
        assert isinstance(arrived_at(event), float) and backend.arrivals == 1
    finally:
        await asyncio.wait_for(broadcast.disconnect(), 10)
