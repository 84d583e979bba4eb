"""peekQueue on both brokers: the next messages' task names, ids and ETA, nothing consumed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
from celery import Celery

from tests.support.graphql import gql
from tests.support.servers import ApiServer

PEEK = """
query($n: String!, $k: Int!) {
  peekQueue(name: $n, n: $k) { taskId taskName eta redelivered }
}
"""
LENGTH = "query($n: String!) { queue(name: $n) { length } }"
ETA = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)


async def test_peek_shows_the_next_messages_without_consuming_them(
    api: ApiServer, celery_client: Celery, http: httpx.AsyncClient, admin_token: str
) -> None:
    name = f"peek_{uuid.uuid4().hex[:6]}"  # nobody consumes it
    sent = [
        celery_client.send_task("src.tasks.demo.add", args=[1, 2], queue=name, eta=ETA).id,
        celery_client.send_task("src.tasks.demo.analyze_slow", args=[0.1], queue=name).id,
        celery_client.send_task("src.tasks.demo.add", args=[3, 4], queue=name).id,
    ]
    for _ in range(2):  # twice: the first look took nothing and moved nothing
        peeked = (
            await gql(http, api.graphql_url, PEEK, {"n": name, "k": 2}, token=admin_token)
        ).ok()["peekQueue"]
        assert [m["taskId"] for m in peeked] == sent[:2]
        assert [m["taskName"] for m in peeked] == [
            "src.tasks.demo.add",
            "src.tasks.demo.analyze_slow",
        ]
        assert datetime.fromisoformat(peeked[0]["eta"]) == ETA
        assert peeked[1]["eta"] is None
    length = (await gql(http, api.graphql_url, LENGTH, {"n": name}, token=admin_token)).ok()
    assert length["queue"]["length"] == 3
    everything = (
        await gql(http, api.graphql_url, PEEK, {"n": name, "k": 10}, token=admin_token)
    ).ok()["peekQueue"]
    assert [m["taskId"] for m in everything] == sent


async def test_peek_of_an_unknown_queue_or_a_bad_count_is_refused(
    api: ApiServer, http: httpx.AsyncClient, admin_token: str
) -> None:
    unknown = await gql(http, api.graphql_url, PEEK, {"n": "no-such-q", "k": 1}, token=admin_token)
    assert unknown.codes == ["NOT_FOUND"]
    too_many = await gql(
        http, api.graphql_url, PEEK, {"n": "ai_analysis", "k": 101}, token=admin_token
    )
    assert too_many.codes == ["BAD_INPUT"]


async def test_peek_is_for_admins(
    api: ApiServer, http: httpx.AsyncClient, viewer_token: str
) -> None:
    refused = await gql(
        http, api.graphql_url, PEEK, {"n": "ai_analysis", "k": 1}, token=viewer_token
    )
    assert refused.codes == ["FORBIDDEN"]
