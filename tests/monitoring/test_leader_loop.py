"""The sampler as a loop: the monitoring switch stops and resumes it; the API's own leader raises
and resolves alerts from rules kept in celery_system_config."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import httpx

from src.monitoring import settings as keys
from src.monitoring.alert_rules import ALERT_RULES
from src.monitoring.sampler import Sampler
from src.monitoring.service import Monitoring
from src.monitoring.switch import set_monitoring_enabled
from src.runtime import Runtime
from tests.support.graphql import gql
from tests.support.servers import ApiServer


async def _until(condition: Callable[[], bool], within: float = 60.0) -> bool:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def test_switching_monitoring_off_stops_sampling(
    monitoring: Monitoring, runtime: Runtime
) -> None:
    sampler = Sampler(monitoring, interval=0.1)
    loop = asyncio.create_task(sampler.run())
    try:
        assert await _until(lambda: sampler.samples_taken >= 2)
        await set_monitoring_enabled(runtime.config, False, actor="test")
        # Once the loop has seen the switch off, a tick that was under way has ended.
        assert await _until(lambda: sampler.rounds_off >= 1)
        stopped_at, seen_off = sampler.samples_taken, sampler.rounds_off
        assert await _until(lambda: sampler.rounds_off >= seen_off + 10)  # ten rounds: no sample
        assert sampler.samples_taken == stopped_at
        await set_monitoring_enabled(runtime.config, True, actor="test")
        assert await _until(lambda: sampler.samples_taken > stopped_at)
    finally:
        await set_monitoring_enabled(runtime.config, True, actor="test")
        loop.cancel()


ALERTS = "query($active: Boolean!) { alerts(active: $active) { ruleId subject active resolvedAt } }"


async def test_the_api_leader_raises_and_resolves_configured_alerts(
    api: ApiServer,
    runtime: Runtime,
    celery_client,
    http: httpx.AsyncClient,
    viewer_token: str,  # type: ignore[no-untyped-def]
) -> None:
    name = f"idle_{uuid.uuid4().hex[:6]}"
    rule_id = f"backlog-{name}"
    for i in range(2):
        celery_client.send_task("src.tasks.demo.add", args=[i, i], queue=name)

    async def alerts(active: bool) -> list[dict[str, object]]:
        data = (
            await gql(http, api.graphql_url, ALERTS, {"active": active}, token=viewer_token)
        ).ok()
        return [a for a in data["alerts"] if a["ruleId"] == rule_id]

    async def wait_for(active: bool, present: bool) -> bool:
        deadline = time.monotonic() + 30  # the leader may be mid-way through a 5 s sleep
        while time.monotonic() < deadline:
            if bool(await alerts(active)) == present:
                return True
            await asyncio.sleep(0.2)
        return False

    config = runtime.config
    await config.set(keys.METRICS_INTERVAL.name, 0.5, actor="test")
    rule = {"kind": "queue_backlog", "id": rule_id, "queues": [name], "threshold": 1}
    await config.set(ALERT_RULES.name, [rule], actor="test")
    try:
        assert await wait_for(active=True, present=True)
        assert (await alerts(True))[0]["subject"] == name
        await runtime.queues.backend.purge(name)
        assert await wait_for(active=True, present=False)
        history = await alerts(False)
        assert history and history[0]["active"] is False and history[0]["resolvedAt"]
    finally:
        await config.set(ALERT_RULES.name, [], actor="test")
        await config.set(keys.METRICS_INTERVAL.name, keys.METRICS_INTERVAL.default, actor="test")
