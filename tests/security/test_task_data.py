"""Finding: task args, kwargs, results, exceptions and tracebacks reached viewers unredacted
(`{'api_key': 'sk_live_…', 'password': …}`), and `text` search found them."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from redis import asyncio as aioredis
from sqlalchemy import delete

from src.auth.roles import Role
from src.bus.base import Channel, envelope
from src.db.engine import create_engine
from src.db.models.tasks import TaskRecord
from src.security.task_data import TaskDataRedactor, parse_roles
from tests.support.graphql import gql, mint
from tests.support.servers import ApiServer, running_api
from tests.support.ws import subscribed
from tests.tasks.data import insert_rows, rows

SECRET = "sk_live_4f9a8b7c6d5e"
PASSWORD = "hunter2-very-secret"

ONE = """
query($id: String!) {
  task(id: $id) { id name args kwargs argsJson kwargsJson result exception traceback }
}
"""
SEARCH = """
query($text: String!) { tasks(filter: {text: $text}, first: 5) { edges { node { id } } } }
"""
DATA_FIELDS = ("args", "kwargs", "argsJson", "kwargsJson", "result", "exception", "traceback")


@pytest.fixture
async def secret_task(api: ApiServer) -> AsyncIterator[str]:
    row = rows(1, base=datetime.now(UTC) - timedelta(minutes=1), prefix=f"s{uuid.uuid4().hex[:8]}")[
        0
    ]
    row.update(
        name="billing.charge",
        args=f"('{SECRET}', 42)",
        kwargs=f"{{'api_key': '{SECRET}', 'password': '{PASSWORD}', 'amount': 42}}",
        args_json=[SECRET, 42],
        kwargs_json={"api_key": SECRET, "password": PASSWORD, "amount": 42},
        result=f"{{'token': '{SECRET}', 'status': 'ok'}}",
        exception=f"ValueError(\"bad password='{PASSWORD}'\")",
        traceback=f"Traceback ...\nValueError: bad password='{PASSWORD}'",
    )
    engine = create_engine(api.settings.database_url)
    await insert_rows(engine, [row])
    try:
        yield str(row["task_id"])
    finally:
        async with engine.begin() as conn:
            await conn.execute(delete(TaskRecord).where(TaskRecord.task_id == row["task_id"]))
        await engine.dispose()


async def test_a_viewer_sees_no_task_data(
    api: ApiServer, http: httpx.AsyncClient, secret_task: str, viewer_token: str
) -> None:
    task = (await gql(http, api.graphql_url, ONE, {"id": secret_task}, token=viewer_token)).ok()[
        "task"
    ]
    assert task["name"] == "billing.charge"
    assert all(task[f] is None for f in DATA_FIELDS), task


async def test_a_viewer_may_not_search_task_data(
    api: ApiServer, http: httpx.AsyncClient, secret_task: str, viewer_token: str
) -> None:
    response = await gql(http, api.graphql_url, SEARCH, {"text": SECRET}, token=viewer_token)
    assert response.codes == ["FORBIDDEN"]
    assert "TASK_DATA_ROLES" in response.errors[0]["message"]


async def test_an_admin_sees_task_data_with_secret_keys_masked(
    api: ApiServer, http: httpx.AsyncClient, secret_task: str, admin_token: str
) -> None:
    task = (await gql(http, api.graphql_url, ONE, {"id": secret_task}, token=admin_token)).ok()[
        "task"
    ]
    assert task["kwargsJson"] == {"api_key": "********", "password": "********", "amount": 42}
    assert "'amount': 42" in task["kwargs"]
    for field in ("kwargs", "kwargsJson", "result", "exception", "traceback"):
        assert SECRET not in str(task[field]) and PASSWORD not in str(task[field]), field
    # a positional secret has no key to be known by: shown to those who may see task data
    assert task["argsJson"] == [SECRET, 42]
    found = (await gql(http, api.graphql_url, SEARCH, {"text": "billing"}, token=admin_token)).ok()
    assert found["tasks"]["edges"] is not None


async def test_task_data_roles_is_configurable(
    api: ApiServer, http: httpx.AsyncClient, secret_task: str
) -> None:
    settings = api.settings.model_copy(update={"task_data_roles": "viewer"})
    with running_api(settings) as open_api:
        token = mint(settings, Role.VIEWER)
        task = (await gql(http, open_api.graphql_url, ONE, {"id": secret_task}, token=token)).ok()[
            "task"
        ]
        assert task["kwargsJson"]["amount"] == 42
        assert task["kwargsJson"]["password"] == "********"


def test_roles_and_keys_parse() -> None:
    assert parse_roles("admin") == {Role.ADMIN, Role.SUPER_ADMIN}
    assert parse_roles("viewer") == set(Role)
    redactor = TaskDataRedactor.from_setting("card_number,password")
    assert redactor.json({"cardNumber": "4111", "x": {"Password": "p"}}) == {
        "cardNumber": "********",
        "x": {"Password": "********"},
    }
    assert "4111" not in (redactor.text("{'card_number': '4111', 'n': 1}") or "")


EVENTS = """
subscription { taskEvents(filter: {names: ["billing.live"]}) {
  ... on TaskEvent { taskId kwargs result }
} }
"""


async def test_subscribers_share_results_only_within_the_same_view(
    api: ApiServer, viewer_token: str, admin_token: str
) -> None:
    """The same subscription from a viewer and an admin: one execution may not serve both."""
    message = envelope(
        "task-succeeded",
        {
            "task_id": f"live-{uuid.uuid4().hex[:8]}",
            "name": "billing.live",
            "state": "SUCCESS",
            "kwargs": f"{{'password': '{PASSWORD}', 'amount': 42}}",
            "result": "'done'",
        },
    )
    before = api.runtime.bus.health().subscribers
    async with (
        subscribed(api.graphql_url, admin_token, EVENTS) as admin,
        subscribed(api.graphql_url, viewer_token, EVENTS) as viewer,
        subscribed(api.graphql_url, admin_token, EVENTS) as admin_again,
    ):
        deadline = time.monotonic() + 30
        while api.runtime.bus.health().subscribers < before + 3:
            assert time.monotonic() < deadline, "subscribers did not register"
            await asyncio.sleep(0.02)
        client = aioredis.Redis.from_url(f"{api.settings.broker_url}")
        try:
            await client.publish(str(Channel.TASKS), json.dumps(message))
        finally:
            await client.aclose()
        seen_by_viewer = (await viewer.next())["taskEvents"]
        seen_by_admin = (await admin.next())["taskEvents"]
        seen_again = (await admin_again.next())["taskEvents"]
    assert seen_by_viewer["kwargs"] is None and seen_by_viewer["result"] is None
    assert "'amount': 42" in seen_by_admin["kwargs"] and PASSWORD not in seen_by_admin["kwargs"]
    assert seen_again == seen_by_admin


class _Context:
    def __init__(self, may_see: bool) -> None:
        self._may_see = may_see
        self.task_data = TaskDataRedactor()

    def may_see_task_data(self) -> bool:
        return self._may_see


class _Info:
    def __init__(self, may_see: bool) -> None:
        self.context = _Context(may_see)


def test_periodic_entries_args_go_through_the_same_gate() -> None:
    from schema.periodic.task_data import task_data

    kwargs = {"api_key": SECRET, "limit": 5}
    assert task_data(_Info(False), kwargs) is None  # type: ignore[arg-type]
    assert task_data(_Info(True), kwargs) == {"api_key": "********", "limit": 5}  # type: ignore[arg-type]
