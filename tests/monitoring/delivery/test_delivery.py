"""Alert delivery through a real local HTTP receiver: each sink format for firing and resolved,
the webhook's signature, retries while the receiver is down, order, permanent refusals, secrets
kept out of errors and logs, and two deliverers never sending one notification twice."""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import re
import textwrap
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from src.db.models import AlertDelivery
from src.monitoring.delivery.formats import build_request
from src.monitoring.delivery.notification import Notification
from src.monitoring.delivery.sinks import WebhookSink, parse_sinks
from src.monitoring.delivery.store import FINAL, INSERT_ROWS, Status
from tests.monitoring.delivery.conftest import (
    Parts,
    backlog_rule,
    backlog_sample,
    fire,
    fire_many,
    resolve,
    unique,
)
from tests.support.receiver import Received, Receiver
from tests.support.servers import ROOT

SECRET = "hmac-key-for-tests-0123456789abcdef"
FAST = {"backoff_seconds": 0.1, "max_backoff_seconds": 0.2, "timeout_seconds": 2}


FINISHED = {status.value for status in FINAL}


async def settled_rows(
    parts: Parts, alert_key: str, *, count: int, within: float = 60.0
) -> list[Any]:
    """The delivery rows of an alert once `count` of them have a recorded outcome: the receiver
    sees a request before the deliverer records its answer."""
    deadline = time.monotonic() + within
    while True:
        rows = await parts.rows(alert_key=alert_key)
        if len(rows) >= count and all(r.status in FINISHED for r in rows):
            return rows
        assert time.monotonic() < deadline, f"outcomes not recorded: {rows}"
        await asyncio.sleep(0.05)


def _of(requests: list[Received], event: str) -> list[Received]:
    return [r for r in requests if r.headers.get("x-celery-admin-event") == event]


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


async def test_a_webhook_receives_firing_and_resolved_signed(parts: Parts) -> None:
    queue = unique("hooked")
    with Receiver() as receiver:
        await parts.sinks(
            {"name": "hook", "kind": "webhook", "url": f"{receiver.url}/hook", "secret": SECRET}
        )
        parts.run()
        raised = await fire(parts, queue)
        firing = await receiver.wait_for(lambda rs: len(_of(rs, "firing")) == 1)
        await resolve(parts, queue)
        requests = await receiver.wait_for(lambda rs: len(_of(rs, "resolved")) == 1)

    assert _of(requests, "firing") == _of(firing, "firing")  # once, before the resolve
    assert {r.path for r in requests} == {"/hook"}
    request = _of(requests, "firing")[0]
    body = request.json()
    assert body["event"] == "firing" and body["source"] == "celery-admin"
    assert body["alert"]["rule_id"] == f"backlog-{queue}"
    assert body["alert"]["subject"] == queue and body["alert"]["value"] == 42
    assert body["alert"]["severity"] == "critical" and body["alert"]["resolved_at"] is None
    assert body["id"] == request.notification
    resolved = _of(requests, "resolved")[0].json()
    assert resolved["alert"]["resolved_at"] is not None
    assert resolved["alert"]["raised_at"] == _of(requests, "firing")[0].json()["alert"]["raised_at"]
    assert raised.alert.key == resolved["alert"]["key"]

    # The signature, recomputed here as a receiver would: HMAC-SHA256 over "<timestamp>.<body>".
    for request in requests:
        timestamp = request.headers["x-celery-admin-timestamp"]
        assert abs(int(timestamp) - time.time()) < 300
        expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + request.body, "sha256")
        assert request.headers["x-celery-admin-signature"] == "sha256=" + expected.hexdigest()
        tampered = hmac.new(
            SECRET.encode(), timestamp.encode() + b"." + request.body + b" ", "sha256"
        )
        assert request.headers["x-celery-admin-signature"] != "sha256=" + tampered.hexdigest()

    rows = await settled_rows(parts, raised.alert.key, count=2)
    assert sorted((r.event, r.status, r.attempts, r.response_status) for r in rows) == [
        ("firing", "delivered", 1, 200),
        ("resolved", "delivered", 1, 200),
    ]


async def test_a_slack_hook_receives_firing_and_resolved_messages(parts: Parts) -> None:
    queue = unique("chatty")
    with Receiver() as receiver:
        await parts.sinks(
            {
                "name": "chat",
                "kind": "slack",
                "url": f"{receiver.url}/services/T000/B000/XXXXSECRET",
                "channel": "#ops",
            }
        )
        parts.run()
        await fire(parts, queue)
        await receiver.wait_for(lambda rs: len(_of(rs, "firing")) == 1)
        await resolve(parts, queue)
        requests = await receiver.wait_for(lambda rs: len(_of(rs, "resolved")) == 1)

    firing, resolved = _of(requests, "firing")[0].json(), _of(requests, "resolved")[0].json()
    print("slack firing payload:", json.dumps(firing, indent=2, sort_keys=True))
    print("slack resolved payload:", json.dumps(resolved, indent=2, sort_keys=True))
    assert firing["text"].startswith(
        f":rotating_light: [FIRING] critical backlog-{queue} ({queue})"
    )
    assert firing["channel"] == "#ops"
    attachment = firing["attachments"][0]
    assert attachment["color"] == "#d00000"
    fields = {f["title"]: f["value"] for f in attachment["fields"]}
    assert fields["Rule"] == f"backlog-{queue}" and fields["Value / threshold"] == "42 / 10"
    assert resolved["text"].startswith(":white_check_mark: [RESOLVED]")
    assert resolved["attachments"][0]["color"] == "#2eb67d"
    assert "Resolved" in {f["title"] for f in resolved["attachments"][0]["fields"]}


async def test_alertmanager_receives_labels_annotations_and_ends_at(parts: Parts) -> None:
    queue = unique("managed")
    with Receiver() as receiver:
        await parts.sinks(
            {
                "name": "am",
                "kind": "alertmanager",
                "url": receiver.url,
                "basic_auth": {"username": "celery", "password": "am-password"},
                "labels": {"team": "data"},
                "resend_seconds": 3600,
            }
        )
        parts.run()
        raised = await fire(parts, queue)
        await receiver.wait_for(lambda rs: len(_of(rs, "firing")) == 1)
        await resolve(parts, queue)
        requests = await receiver.wait_for(lambda rs: len(_of(rs, "resolved")) == 1)

    expected_auth = "Basic " + base64.b64encode(b"celery:am-password").decode()
    for request in _of(requests, "firing") + _of(requests, "resolved"):
        assert request.path == "/api/v2/alerts"
        assert request.headers["authorization"] == expected_auth
    [firing] = _of(requests, "firing")[0].json()
    [resolved] = _of(requests, "resolved")[0].json()
    assert firing["labels"] == {
        "alertname": f"backlog-{queue}",
        "severity": "critical",
        "kind": "queue_backlog",
        "subject": queue,
        "source": "celery-admin",
        "team": "data",
    }
    assert firing["annotations"]["value"] == "42" and firing["annotations"]["threshold"] == "10"
    assert firing["annotations"]["summary"] == raised.alert.message
    starts = _parse(firing["startsAt"])
    assert starts == raised.alert.raised_at
    assert _parse(firing["endsAt"]) > starts  # in the future while firing
    assert resolved["labels"] == firing["labels"]
    assert _parse(resolved["endsAt"]) <= datetime.now(starts.tzinfo)  # resolved: ends in the past


async def test_alertmanager_gets_the_active_alerts_again_while_they_last(parts: Parts) -> None:
    queue = unique("refreshed")
    with Receiver() as receiver:
        await parts.sinks(
            {"name": "am", "kind": "alertmanager", "url": receiver.url, "resend_seconds": 5}
        )
        raised = await fire(parts, queue)
        parts.run()
        # The firing notification, and re-sends (no notification header) that carry the alert.
        requests = await receiver.wait_for(
            lambda rs: len([r for r in rs if r.notification is None]) >= 2, within=40
        )
    refreshes = [r.json() for r in requests if r.notification is None]
    names = {a["labels"]["alertname"] for batch in refreshes for a in batch}
    assert f"backlog-{queue}" in names
    assert all(_parse(a["endsAt"]) > _parse(a["startsAt"]) for b in refreshes for a in b)
    assert raised.alert.key  # the alert is still active: nothing resolved it


async def test_a_receiver_that_was_down_gets_each_notification_once_in_order(parts: Parts) -> None:
    queue = unique("late")
    receiver = Receiver()  # its port is chosen, nothing listens yet
    await parts.sinks({"name": "late", "kind": "webhook", "url": f"{receiver.url}/x", **FAST})
    parts.run()
    raised = await fire(parts, queue)
    await resolve(parts, queue)  # resolved while the receiver is still down

    async def attempted_twice() -> bool:
        rows = await parts.rows(alert_key=raised.alert.key, events=("firing",))
        return bool(rows) and rows[0].attempts >= 2

    deadline = time.monotonic() + 90
    while not await attempted_twice():
        assert time.monotonic() < deadline, "no retries while the receiver was down"
        await asyncio.sleep(0.05)
    [firing_row] = await parts.rows(alert_key=raised.alert.key, events=("firing",))
    assert firing_row.status in (Status.RETRYING.value, Status.SENDING.value)
    assert firing_row.last_error and "Connect" in firing_row.last_error
    [resolved_row] = await parts.rows(alert_key=raised.alert.key, events=("resolved",))
    assert resolved_row.attempts == 0  # waits for the firing one

    with receiver.start():
        await receiver.wait_for(lambda rs: len(rs) == 2, within=60)
        # Both outcomes recorded: nothing is due any more, so nothing more may arrive.
        settled = await settled_rows(parts, raised.alert.key, count=2)
        await asyncio.sleep(1.0)  # twenty polls
        requests = receiver.received()
    assert [r.headers["x-celery-admin-event"] for r in requests] == ["firing", "resolved"]
    assert len({r.notification for r in requests}) == 2
    rows = {r.event: r for r in settled}
    assert rows["firing"].status == "delivered" and rows["firing"].attempts >= 2
    assert rows["firing"].last_error is None
    assert int(requests[0].headers["x-celery-admin-attempt"]) == rows["firing"].attempts
    assert rows["resolved"].status == "delivered" and rows["resolved"].attempts == 1


async def test_a_refusal_fails_at_once_and_errors_and_logs_keep_secrets_out(
    parts: Parts, caplog: pytest.LogCaptureFixture
) -> None:
    queue = unique("refused")
    token = "tok3n-in-the-path-0123456789"
    caplog.set_level(logging.INFO, logger="src.monitoring.delivery")
    with Receiver(status=404) as receiver:
        receiver.echo_path = True  # the answer repeats the URL's secret path
        await parts.sinks(
            {"name": "gone", "kind": "slack", "url": f"{receiver.url}/hooks/{token}", **FAST}
        )
        parts.run()
        raised = await fire(parts, queue)

        async def failed() -> bool:
            rows = await parts.rows(alert_key=raised.alert.key)
            return bool(rows) and rows[0].status == Status.FAILED.value

        deadline = time.monotonic() + 90
        while not await failed():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        assert len(receiver.received()) == 1  # 404 is not retried
    [row] = await parts.rows(alert_key=raised.alert.key)
    assert row.attempts == 1 and row.response_status == 404
    assert row.last_error.startswith("HTTP 404") and "********" in row.last_error
    assert token not in row.last_error
    assert "gone" in caplog.text and token not in caplog.text


async def test_retries_stop_after_max_attempts(parts: Parts) -> None:
    queue = unique("flaky")
    with Receiver(status=503) as receiver:
        await parts.sinks(
            {"name": "flaky", "kind": "webhook", "url": receiver.url, "max_attempts": 3, **FAST}
        )
        parts.run()
        raised = await fire(parts, queue)
        await receiver.wait_for(lambda rs: len(rs) == 3)
        deadline = time.monotonic() + 90
        while (await parts.rows(alert_key=raised.alert.key))[0].status != "failed":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        assert len(receiver.received()) == 3
    [row] = await parts.rows(alert_key=raised.alert.key)
    assert row.attempts == 3 and row.response_status == 503
    assert row.last_error.startswith("gave up after 3 attempts: HTTP 503")


async def test_filters_choose_the_sinks_and_a_removed_sink_cancels_its_backlog(
    parts: Parts,
) -> None:
    queue = unique("filtered")
    with Receiver() as receiver:
        down = Receiver()  # never started
        await parts.sinks(
            {"name": "critical-only", "kind": "webhook", "url": receiver.url, "min_severity": "critical"},
            {"name": "other-rules", "kind": "webhook", "url": receiver.url, "rules": ["nope"]},
            {"name": "no-resolved", "kind": "webhook", "url": f"{receiver.url}/nr", "send_resolved": False},
            {"name": "down", "kind": "webhook", "url": down.url, **FAST},
        )  # fmt: skip
        parts.run()
        raised = await fire(parts, queue)
        await resolve(parts, queue)
        await receiver.wait_for(lambda rs: len(rs) == 3)  # firing x2, resolved x1
        rows = await parts.rows(alert_key=raised.alert.key)
        assert sorted((r.sink, r.event) for r in rows) == [
            ("critical-only", "firing"),
            ("critical-only", "resolved"),
            ("down", "firing"),
            ("down", "resolved"),
            ("no-resolved", "firing"),
        ]
        await parts.sinks({"name": "critical-only", "kind": "webhook", "url": receiver.url})
        deadline = time.monotonic() + 90
        while {r.status for r in await parts.rows(alert_key=raised.alert.key, sinks=("down",))} != {
            "cancelled"
        }:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    down.stop()
    [last] = await parts.rows(alert_key=raised.alert.key, sinks=("down",), events=("firing",))
    assert last.last_error == "sink removed"


async def test_two_deliverers_at_once_send_each_notification_once(parts: Parts) -> None:
    """Two processes that both believe they lead (a lease lost a moment before it is noticed):
    the claims decide, and no notification reaches the receiver twice."""
    queues = [unique("raced") for _ in range(8)]
    with Receiver(delay=0.1) as receiver:
        await parts.sinks({"name": "race", "kind": "webhook", "url": receiver.url})
        await fire_many(parts, queues)
        parts.run()
        parts.run(parts.new_deliverer())
        requests = await receiver.wait_for(lambda rs: len(rs) >= len(queues))
        await asyncio.sleep(1.0)
        requests = receiver.received()
    ids = [r.notification for r in requests]
    assert len(ids) == len(queues) and len(set(ids)) == len(queues)


async def test_a_deliverer_that_dies_mid_send_is_taken_over_after_its_claim(parts: Parts) -> None:
    """The one case a receiver can see a notification twice: the sender vanished while its
    request was in flight. The next one waits for the claim to expire, then sends the same
    notification id (attempt 2), for the receiver to drop the repeat."""
    queue = unique("orphan")
    with Receiver(delay=3.0) as receiver:
        await parts.sinks(
            {"name": "slow", "kind": "webhook", "url": receiver.url, "timeout_seconds": 2}
        )
        first = parts.run()
        raised = await fire(parts, queue)

        await receiver.wait_for(lambda rs: len(rs) == 1)  # attempt 1 is at the receiver
        first.cancel()  # the leader is gone mid-request
        await asyncio.gather(first, return_exceptions=True)
        [row] = await parts.rows(alert_key=raised.alert.key)
        assert row.status == Status.SENDING.value and row.claim_until is not None
        claim_until = row.claim_until
        receiver.delay = 0.0
        parts.run(parts.new_deliverer())
        requests = await receiver.wait_for(lambda rs: len(rs) == 2, within=90)
    retried = [r for r in requests if r.headers["x-celery-admin-attempt"] == "2"]
    assert len(retried) == 1 and retried[0].accepted
    assert {r.notification for r in requests} == {retried[0].notification}
    [row] = await parts.rows(alert_key=raised.alert.key)
    assert row.status == "delivered" and row.attempts == 2
    assert row.last_attempt_at >= claim_until  # not taken over before the claim expired


def test_the_readme_recipe_verifies_what_is_sent() -> None:
    """The verification code in README's "Alert delivery", run against a request as sent."""
    readme = (ROOT / "README.md").read_text()
    block = next(
        textwrap.dedent(b) for b in re.findall(r"```python\n(.*?)```", readme, re.S)
        if "def verify(" in b
    )  # fmt: skip
    namespace: dict[str, Any] = {}
    exec(block, namespace)
    verify = namespace["verify"]
    sink = WebhookSink(name="w", url="http://receiver.example/x", secret=SECRET)
    notification = Notification.test("w", "tests")
    request = build_request(sink, notification, attempt=1, now=datetime.now(UTC))
    assert verify(SECRET.encode(), request.headers, request.body)
    assert not verify(SECRET.encode(), request.headers, request.body + b" ")
    assert not verify(b"another-key-0123456789", request.headers, request.body)
    stale = {**request.headers, "X-Celery-Admin-Timestamp": str(int(time.time()) - 3600)}
    assert not verify(SECRET.encode(), stale, request.body)


async def test_a_burst_is_stored_in_bounded_statements_and_once(parts: Parts) -> None:
    """Many alerts at once (a broker outage raises one per queue): more rows than one statement
    may carry, stored once however often the outbox is handed over."""
    queues = [unique("burst") for _ in range(260)]
    changes = await parts.alerts.evaluate(
        backlog_sample(queues[0], 42, *queues[1:]), [backlog_rule(q) for q in queues]
    )
    notifications = [Notification.of(c) for c in changes]
    sinks = parse_sinks(
        [{"name": n, "kind": "webhook", "url": "http://127.0.0.1:9/x"} for n in ("b1", "b2")]
    )
    store = parts.deliverer.store
    assert await store.enqueue(notifications, sinks) == 520 > INSERT_ROWS
    assert await store.enqueue(notifications, sinks) == 0
    rows = await parts.rows(sinks=("b1", "b2"), events=("firing",))
    assert len(rows) == 200  # one page; count them all:
    async with parts.db.session("test") as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(AlertDelivery)
            .where(AlertDelivery.sink.in_(["b1", "b2"]))
        )
    assert stored == 520
