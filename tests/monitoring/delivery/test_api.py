"""Sinks through the API: configured by super_admin, validated per kind, secrets masked in answers
and audit records (and kept when sent back masked); `testAlertSink` and `alertDeliveries`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from src.monitoring.delivery.sinks import ALERT_SINKS
from src.runtime import Runtime
from tests.support.audit import audit_row
from tests.support.graphql import gql
from tests.support.receiver import Receiver
from tests.support.servers import ApiServer

CONFIG = """
mutation($v: JSON!, $e: Int) {
  updateSystemConfig(key: "alerts.sinks", value: $v, expectedVersion: $e) {
    ok auditId errors { code field message } entry { value version }
  }
}
"""
ENTRIES = "{ systemConfiguration { entries { key value version } } }"
TEST_SINK = """
mutation($name: String!) {
  testAlertSink(name: $name) {
    ok auditId receiverStatus errors { code field message }
    delivery { id sink sinkKind event status attempts responseStatus lastError notificationId }
  }
}
"""
DELIVERIES = """
query($f: AlertDeliveryFilter, $first: Int!, $after: String) {
  alertDeliveries(filter: $f, first: $first, after: $after) {
    edges { cursor node { id sink event status attempts ruleId severity } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
SLACK_TOKEN = "T0SECRET/B0SECRET/xoxSECRETtoken"
HMAC_KEY = "api-test-hmac-key-0123456789abcdef"
PASSWORD = "am-basic-auth-password"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    with Receiver() as started:
        yield started


@pytest.fixture
async def sinks_restored(
    api: ApiServer, http: httpx.AsyncClient, super_admin_token: str
) -> AsyncIterator[None]:
    yield
    await set_sinks(http, api, super_admin_token, [])


async def set_sinks(
    http: httpx.AsyncClient, api: ApiServer, token: str, sinks: list[dict[str, Any]]
) -> None:
    """Through the API, so its configuration cache is refreshed at once."""
    saved = (await gql(http, api.graphql_url, CONFIG, {"v": sinks}, token=token)).ok()
    assert saved["updateSystemConfig"]["ok"] is True, saved


def _sinks(receiver: Receiver, only: str) -> list[dict[str, Any]]:
    # `rules` names no real rule: the API's own delivery leader sends these sinks nothing.
    return [
        {"name": "hook", "kind": "webhook", "url": f"{receiver.url}/hook?token=qs-secret-1",
         "secret": HMAC_KEY, "headers": {"Authorization": "Bearer header-secret"}, "rules": [only]},
        {"name": "chat", "kind": "slack", "url": f"{receiver.url}/services/{SLACK_TOKEN}",
         "rules": [only]},
        {"name": "am", "kind": "alertmanager", "url": receiver.url, "rules": [only],
         "basic_auth": {"username": "celery", "password": PASSWORD}},
    ]  # fmt: skip


SECRETS = ("qs-secret-1", HMAC_KEY, "header-secret", SLACK_TOKEN, PASSWORD)


async def test_sinks_are_masked_in_answers_and_audit_and_kept_when_sent_back(
    api: ApiServer,
    http: httpx.AsyncClient,
    super_admin_token: str,
    receiver: Receiver,
    runtime: Runtime,
    sinks_restored: None,
) -> None:
    only = f"only-{uuid.uuid4().hex[:6]}"
    sent = _sinks(receiver, only)
    saved = (await gql(http, api.graphql_url, CONFIG, {"v": sent}, token=super_admin_token)).ok()[
        "updateSystemConfig"
    ]
    assert saved["ok"] is True, saved
    shown = saved["entry"]["value"]
    assert not any(secret in str(shown) for secret in SECRETS)
    hook, chat, am = shown
    assert hook["url"] == f"{receiver.url}/********" and hook["secret"] == "********"
    assert hook["headers"] == {"Authorization": "********"}
    assert chat["url"] == f"{receiver.url}/********"
    assert am["url"] == receiver.url  # nothing secret in it: shown whole
    assert am["basic_auth"] == {"username": "celery", "password": "********"}

    row = await audit_row(http, api.graphql_url, super_admin_token, saved["auditId"])
    assert row["action"] == "updateSystemConfig" and row["target"] == "alerts.sinks"
    assert not any(secret in str(row) for secret in SECRETS)
    assert row["request"]["value"][1]["url"] == f"{receiver.url}/********"
    assert row["stateAfter"]["value"][1] == shown[1]

    listed = (await gql(http, api.graphql_url, ENTRIES, token=super_admin_token)).ok()
    entry = next(e for e in listed["systemConfiguration"]["entries"] if e["key"] == "alerts.sinks")
    assert entry["value"] == shown

    # What the API showed goes back with one change: the secrets stay as they were.
    shown[1]["min_severity"] = "critical"
    again = (
        await gql(
            http,
            api.graphql_url,
            CONFIG,
            {"v": shown, "e": saved["entry"]["version"]},
            token=super_admin_token,
        )
    ).ok()["updateSystemConfig"]
    assert again["ok"] is True, again
    stored = await runtime.config.get(ALERT_SINKS.name)
    assert stored[1]["url"] == sent[1]["url"] and stored[1]["min_severity"] == "critical"
    assert stored[0]["secret"] == HMAC_KEY and stored[0]["headers"] == sent[0]["headers"]
    assert stored[2]["basic_auth"]["password"] == PASSWORD

    # A masked secret with nothing stored behind it is refused, not stored as asterisks.
    new = {"name": "new", "kind": "slack", "url": f"{receiver.url}/********"}
    refused = (
        await gql(http, api.graphql_url, CONFIG, {"v": [*shown, new]}, token=super_admin_token)
    ).ok()["updateSystemConfig"]
    assert refused["ok"] is False
    assert (refused["errors"][0]["code"], refused["errors"][0]["field"]) == ("BAD_INPUT", "value")


@pytest.mark.parametrize(
    ("sink", "where"),
    [
        ({"name": "x", "kind": "slack"}, "url"),
        ({"name": "x", "kind": "webhook", "url": "ftp://example.com/x"}, "url"),
        ({"name": "x", "kind": "webhook", "url": "http://example.com", "secret": "short"}, "secret"),
        ({"name": "x", "kind": "alertmanager", "url": "http://am", "labels": {"bad-name": "v"}},
         "labels"),
        ({"name": "x", "kind": "pager", "url": "http://example.com"}, "kind"),
        ({"name": "x", "kind": "webhook", "url": "http://e.com", "headers": {"X-Celery-Admin-Event": "y"}},
         "headers"),
        ({"name": "bad name", "kind": "slack", "url": "http://example.com"}, "name"),
    ],
)  # fmt: skip
async def test_each_kind_of_sink_is_validated(
    api: ApiServer, http: httpx.AsyncClient, super_admin_token: str, sink: Any, where: str
) -> None:
    refused = (
        await gql(http, api.graphql_url, CONFIG, {"v": [sink]}, token=super_admin_token)
    ).ok()["updateSystemConfig"]
    assert refused["ok"] is False
    error = refused["errors"][0]
    assert error["code"] == "BAD_INPUT" and where in error["message"], error


async def test_duplicate_sink_names_are_refused(
    api: ApiServer, http: httpx.AsyncClient, super_admin_token: str
) -> None:
    sink = {"name": "twice", "kind": "slack", "url": "http://example.com/x"}
    refused = (
        await gql(http, api.graphql_url, CONFIG, {"v": [sink, sink]}, token=super_admin_token)
    ).ok()["updateSystemConfig"]
    assert (
        refused["ok"] is False and "duplicate sink names: twice" in refused["errors"][0]["message"]
    )


async def test_test_alert_sink_sends_records_and_lists(
    api: ApiServer,
    http: httpx.AsyncClient,
    admin_token: str,
    super_admin_token: str,
    receiver: Receiver,
    sinks_restored: None,
) -> None:
    sinks = _sinks(receiver, f"only-{uuid.uuid4().hex[:6]}")
    await set_sinks(http, api, super_admin_token, sinks)
    for name, path in (("hook", "/hook?token=qs-secret-1"), ("chat", f"/services/{SLACK_TOKEN}"),
                       ("am", "/api/v2/alerts")):  # fmt: skip
        tested = (
            await gql(http, api.graphql_url, TEST_SINK, {"name": name}, token=admin_token)
        ).ok()["testAlertSink"]
        assert tested["ok"] is True, tested
        assert tested["receiverStatus"] == 200
        delivery = tested["delivery"]
        assert (delivery["sink"], delivery["event"], delivery["status"], delivery["attempts"]) == (
            name,
            "test",
            "DELIVERED",
            1,
        )
        [request] = [r for r in receiver.received() if r.notification == delivery["notificationId"]]
        assert request.path == path and request.headers["x-celery-admin-event"] == "test"
        row = await audit_row(http, api.graphql_url, admin_token, tested["auditId"])
        assert row["outcome"] == "SUCCESS" and row["target"] == "alerts.sinks"
        assert row["request"] == {"name": name}
        assert not any(secret in str(row) for secret in SECRETS)

    listed = (
        await gql(
            http,
            api.graphql_url,
            DELIVERIES,
            {"f": {"sinks": ["hook", "chat", "am"], "events": ["test"]}, "first": 2},
            token=admin_token,
        )
    ).ok()["alertDeliveries"]
    assert [e["node"]["sink"] for e in listed["edges"]] == ["am", "chat"]  # newest first
    assert listed["pageInfo"]["hasNextPage"] is True
    rest = (
        await gql(
            http,
            api.graphql_url,
            DELIVERIES,
            {
                "f": {"sinks": ["hook", "chat", "am"], "events": ["test"]},
                "first": 200,
                "after": listed["pageInfo"]["endCursor"],
            },
            token=admin_token,
        )
    ).ok()["alertDeliveries"]
    assert rest["edges"][0]["node"]["sink"] == "hook"
    assert all(e["node"]["status"] == "DELIVERED" for e in rest["edges"])


async def test_a_failing_or_unknown_sink_is_a_typed_error(
    api: ApiServer,
    http: httpx.AsyncClient,
    admin_token: str,
    super_admin_token: str,
    sinks_restored: None,
) -> None:
    with Receiver(status=500) as failing:
        broken = {"name": "broken", "kind": "webhook", "url": failing.url, "enabled": False}
        await set_sinks(http, api, super_admin_token, [broken])
        tested = (
            await gql(http, api.graphql_url, TEST_SINK, {"name": "broken"}, token=admin_token)
        ).ok()["testAlertSink"]
    assert tested["ok"] is False and tested["receiverStatus"] == 500
    assert tested["errors"][0]["code"] == "DELIVERY_FAILED"
    assert tested["delivery"]["status"] == "FAILED"
    assert tested["delivery"]["lastError"].startswith("HTTP 500")
    row = await audit_row(http, api.graphql_url, admin_token, tested["auditId"])
    assert row["outcome"] == "FAILURE" and row["errorCode"] == "DELIVERY_FAILED"

    unknown = (
        await gql(http, api.graphql_url, TEST_SINK, {"name": "nope"}, token=admin_token)
    ).ok()["testAlertSink"]
    assert unknown["ok"] is False and unknown["delivery"] is None
    assert (unknown["errors"][0]["code"], unknown["errors"][0]["field"]) == ("NOT_FOUND", "name")
