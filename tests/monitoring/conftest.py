"""Monitoring fixtures: a Monitoring of our own (own Services with the real Redis event bus, own
state namespace in the test Redis), so tests do not race the API's leader sampler."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from src.config import Settings
from src.monitoring.runtime import Monitoring
from src.services import Services


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    built = Services.build(settings)
    await built.bus.start()
    assert built.bus.health().connected
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


async def next_matching(
    messages: AsyncIterator[dict[str, Any]],
    wanted: Callable[[dict[str, Any]], bool],
    within: float = 10.0,
) -> dict[str, Any]:
    """The next message off a bus subscription that `wanted` accepts (others are skipped)."""
    deadline = time.monotonic() + within
    while True:
        message = await asyncio.wait_for(anext(messages), max(0.01, deadline - time.monotonic()))
        if wanted(message):
            return message
