"""Abnormal sign-in activity: failed authentications counted per subject and IP in Redis raise an
`auth_failures` alert (alerts query, alerts subscription, /metrics), and a super_admin acting
from a subject or address not seen recently is flagged in its audit row."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt

from src.auth.roles import Role
from src.config import Settings
from tests.support.graphql import gql, mint
from tests.support.servers import ApiServer
from tests.support.ws import subscribed

SET = """mutation($k: String!, $v: JSON!) { updateSystemConfig(key: $k, value: $v) {
  ok auditId errors { code message } } }"""
ALERTS = """subscription { alerts { __typename
  ... on AlertEvent { kind alert { ruleId kind subject value active } } } }"""


async def test_a_burst_of_failures_raises_an_alert(
    api: ApiServer, http: httpx.AsyncClient, settings: Settings
) -> None:
    root = mint(settings, Role.SUPER_ADMIN)
    subject = f"mallory-{uuid.uuid4().hex[:8]}"
    rule = {"kind": "auth_failures", "id": "auth-burst", "threshold": 5, "window_seconds": 120,
            "by": ["subject"], "severity": "critical"}  # fmt: skip
    done = await gql(http, api.graphql_url, SET, {"k": "alerts.rules", "v": [rule]}, token=root)
    assert done.ok()["updateSystemConfig"]["ok"], done
    forged = jwt.encode(
        {"sub": subject, "role": "super_admin", "exp": int(time.time()) + 600},
        "not-the-server-key-" * 3,
    )
    try:
        async with subscribed(api.graphql_url, mint(settings, Role.VIEWER), ALERTS) as client:
            for _ in range(5):
                bad = await gql(http, api.graphql_url, "{ me { role } }", token=forged)
                assert bad.codes == ["UNAUTHENTICATED"]
            while True:  # the sampler (every 5 s) evaluates the rule
                event = (await client.next(within=60))["alerts"]
                if event["alert"]["subject"] == f"subject:{subject}":
                    break
        assert event["kind"] in ("alert.raised", "alert.current")
        assert event["alert"]["kind"] == "auth_failures"
        assert event["alert"]["value"] >= 5
        listed = await gql(
            http, api.graphql_url, "{ alerts { ruleId kind subject message value } }", token=root
        )
        mine = [a for a in listed.ok()["alerts"] if a["subject"] == f"subject:{subject}"]
        print("auth-failure alert:", mine)
        assert mine and mine[0]["kind"] == "auth_failures"
        metrics = (await http.get(f"{api.url}/metrics")).text
        assert 'celery_admin_auth_failures_total{reason="bad_signature"}' in metrics
    finally:
        await gql(http, api.graphql_url, SET, {"k": "alerts.rules", "v": []}, token=root)


async def test_a_super_admin_from_a_new_subject_is_flagged(
    api: ApiServer, http: httpx.AsyncClient, settings: Settings
) -> None:
    subject = f"root-{uuid.uuid4().hex[:8]}"
    newcomer = mint(settings, Role.SUPER_ADMIN, subject=subject)
    audit = """query($s: [String!]) { auditLogs(filter: {actors: $s}, first: 2) {
      edges { node { id flags } } } }"""
    ids = []
    for _ in range(2):
        done = await gql(
            http, api.graphql_url, SET, {"k": "monitoring.enabled", "v": True}, token=newcomer
        )
        ids.append(done.ok()["updateSystemConfig"]["auditId"])
    rows = await gql(http, api.graphql_url, audit, {"s": [subject]}, token=newcomer)
    flags = {e["node"]["id"]: e["node"]["flags"] for e in rows.ok()["auditLogs"]["edges"]}
    assert "new_subject" in flags[ids[0]]  # (and new_ip when 127.0.0.1 never acted before)
    assert flags[ids[1]] is None  # both seen now
