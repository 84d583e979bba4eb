"""Monitoring fixtures: a Monitoring of our own (own Runtime with the real Redis event bus, own
state namespace in the test Redis), so tests do not race the API's leader sampler."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from src.config import Settings
from src.monitoring.service import Monitoring
from src.runtime import Runtime


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    built = Runtime.build(settings)
    await built.bus.start()
    assert built.bus.health().connected
    try:
        yield built
    finally:
        await built.stop()


@pytest.fixture
async def monitoring(runtime: Runtime) -> AsyncIterator[Monitoring]:
    built = runtime.new_monitoring(namespace=f"test:{uuid.uuid4().hex[:8]}")
    try:
        yield built
    finally:
        await built.close()


async def next_matching(
    messages: AsyncIterator[dict[str, Any]],
    wanted: Callable[[dict[str, Any]], bool],
    within: float = 60.0,
) -> dict[str, Any]:
    """The next message off a bus subscription that `wanted` accepts (others are skipped)."""
    deadline = time.monotonic() + within
    while True:
        message = await asyncio.wait_for(anext(messages), max(0.01, deadline - time.monotonic()))
        if wanted(message):
            return message
