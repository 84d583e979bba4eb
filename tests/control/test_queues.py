"""purgeQueue on a real Redis broker: counts every priority sub-queue, leaves the queue empty."""

from __future__ import annotations

import uuid

import httpx
from celery import Celery

from tests.support.audit import audit_row
from tests.support.graphql import gql
from tests.support.servers import ApiServer

PURGE = """
mutation($n: String!, $c: Boolean!) {
  purgeQueue(name: $n, confirm: $c) { ok auditId purged queue errors { field message code } }
}
"""
LENGTH = "query($n: String!) { queue(name: $n) { length } }"


async def test_purge_removes_every_message_and_counts_them(
    api: ApiServer, celery_client: Celery, http: httpx.AsyncClient, admin_token: str
) -> None:
    name = f"purge_{uuid.uuid4().hex[:6]}"
    celery_client.conf.broker_transport_options = {
        "polling_interval": 0.05,
        "priority_steps": list(range(10)),
        "queue_order_strategy": "priority",
    }
    for priority in (0, 0, 3, 6, 9, 9):
        celery_client.send_task("src.tasks.demo.add", args=[1, 2], queue=name, priority=priority)

    unconfirmed = (
        await gql(http, api.graphql_url, PURGE, {"n": name, "c": False}, token=admin_token)
    ).ok()["purgeQueue"]
    assert unconfirmed["ok"] is False and unconfirmed["errors"][0]["field"] == "confirm"
    length = await gql(http, api.graphql_url, LENGTH, {"n": name}, token=admin_token)
    assert length.ok()["queue"]["length"] == 6

    purged = (
        await gql(http, api.graphql_url, PURGE, {"n": name, "c": True}, token=admin_token)
    ).ok()["purgeQueue"]
    assert purged["ok"] is True and purged["purged"] == 6 and purged["queue"] == name
    length = await gql(http, api.graphql_url, LENGTH, {"n": name}, token=admin_token)
    assert length.ok()["queue"]["length"] == 0
    row = await audit_row(http, api.graphql_url, admin_token, purged["auditId"])
    assert row["observed"] == {"purged": 6}
    assert row["stateBefore"]["messages"] == 6 and row["stateAfter"]["messages"] == 0


async def test_purge_of_an_unknown_queue_is_not_found(
    api: ApiServer, http: httpx.AsyncClient, admin_token: str
) -> None:
    payload = (
        await gql(
            http, api.graphql_url, PURGE, {"n": "no-such-queue", "c": True}, token=admin_token
        )
    ).ok()["purgeQueue"]
    assert payload["ok"] is False and payload["purged"] is None
    assert payload["errors"][0]["code"] == "NOT_FOUND"
