"""Monitoring fixtures: a Monitoring of our own (own Services, own state namespace in the test
Redis, a bus that records what is published), so tests do not race the API's leader sampler."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from src.bus import Channel
from src.bus.base import BusHealth
from src.config import Settings
from src.monitoring.runtime import Monitoring
from src.services import Services


class RecordingBus:
    """Stands in for the event bus (its own tests live with the bus): keeps what is published."""

    def __init__(self) -> None:
        self.messages: list[tuple[Channel, dict[str, Any]]] = []

    async def publish(self, channel: Channel, message: dict[str, Any]) -> None:
        self.messages.append((channel, message))

    def on(self, channel: Channel) -> list[dict[str, Any]]:
        return [m for c, m in self.messages if c == channel]

    def subscribe(self, channel: Channel) -> Any:
        raise NotImplementedError

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def health(self) -> BusHealth:
        return BusHealth(True, True, 0, 0, 0, 0, None)


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    built = Services.build(settings)
    built.bus = RecordingBus()
    try:
        yield built
    finally:
        await built.stop()


@pytest.fixture
async def monitoring(services: Services) -> AsyncIterator[Monitoring]:
    built = Monitoring.build(services, namespace=f"test:{uuid.uuid4().hex[:8]}")
    try:
        yield built
    finally:
        await built.close()
