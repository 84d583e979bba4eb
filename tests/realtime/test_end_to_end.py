"""End to end: real workers -> Celery events -> the collector -> the bus -> a subscription, and the
same task in the database behind the `tasks` query."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
from celery import Celery

from tests.support.graphql import gql
from tests.support.servers import ApiServer, WorkerProcess
from tests.support.waiting import eventually
from tests.support.ws import subscribed

SUBSCRIPTION = """
subscription ($filter: TaskFilterInput) {
  taskEvents(filter: $filter) {
    __typename
    ... on TaskEvent { taskId name state worker runtime }
  }
}
"""
TASK = "query ($id: String!) { task(id: $id) { id name state worker runtime args result } }"


async def test_a_real_task_streams_its_states_and_lands_in_history(
    api: ApiServer,
    workers: list[WorkerProcess],
    celery_client: Celery,
    http: httpx.AsyncClient,
    viewer_token: str,
    admin_token: str,
) -> None:
    marker = uuid.uuid4().int % 1_000_000
    variables = {"filter": {"names": ["src.tasks.demo.add"], "states": ["STARTED", "SUCCESS"]}}
    seen: list[dict[str, Any]] = []
    before = api.runtime.bus.health().subscribers
    async with subscribed(api.graphql_url, viewer_token, SUBSCRIPTION, variables) as client:
        # The server subscribes to the bus after acknowledging: send the task once it has.
        await eventually(lambda: api.runtime.bus.health().subscribers > before)
        result = celery_client.send_task("src.tasks.demo.add", args=[marker, 1], queue="health")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            event = (await client.next(within=30))["taskEvents"]
            if event.get("taskId") == result.id:
                seen.append(event)
                if event["state"] == "SUCCESS":
                    break
    states = [e["state"] for e in seen]
    assert states[-1] == "SUCCESS", states
    assert set(states) <= {"STARTED", "SUCCESS"}, "the filter holds on the server"
    assert seen[-1]["worker"] in {"alpha@tests", "beta@tests"}
    assert seen[-1]["runtime"] is not None and seen[-1]["runtime"] >= 0

    # The collector writes at most about a second behind: poll the history until it has it.
    deadline = time.monotonic() + 60
    while True:
        # task data (args, result) is for roles that may see it: admin by default
        task = (await gql(http, api.graphql_url, TASK, {"id": result.id}, token=admin_token)).ok()[
            "task"
        ]
        if (task and task["state"] == "SUCCESS") or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert task is not None and task["state"] == "SUCCESS"
    assert task["worker"] == seen[-1]["worker"]
    assert str(marker) in task["args"] and str(marker + 1) in task["result"]
