"""Helpers for the browser tests: signing in, sending demo tasks, reading the API directly."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
from celery import Celery
from playwright.sync_api import Page, expect

from tests.dashboard.browser import DEADLINE_MS, dashboard_url
from tests.support.audit import AUDIT_LOGS
from tests.support.servers import ApiServer


def sign_in(page: Page, base: str, token: str, *, manage: bool | None = None) -> None:
    """Open the dashboard with `#token=` and wait until the API has answered who this is."""
    page.goto(dashboard_url(base, token))
    expect(page.get_by_test_id("subject")).to_be_visible(timeout=DEADLINE_MS)
    expected = "yes" if manage else "no" if manage is False else None
    if expected:
        expect(page.locator(f'main[data-can-manage="{expected}"]')).to_have_count(
            1, timeout=DEADLINE_MS
        )


def go(page: Page, route: str) -> None:
    """Navigate inside the app (no reload): the hash changes."""
    page.evaluate("route => { window.location.hash = route }", route)


def send(app: Celery, name: str, *args: Any, queue: str = "ai_analysis") -> str:
    task_id = str(uuid.uuid4())
    app.send_task(name, args=list(args), queue=queue, task_id=task_id)
    return task_id


def api_query(
    api: ApiServer, token: str, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = httpx.post(
        api.graphql_url,
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    body = response.json()
    assert not body.get("errors"), body["errors"]
    return dict(body["data"])


TASK_STATE = "query ($id: String!) { task(id: $id) { id state } }"


def wait_for_task(
    api: ApiServer, token: str, task_id: str, states: set[str], within: float = 60
) -> str:
    """Until the history has the task in one of `states` (the collector writes ~1 s behind)."""
    deadline = time.monotonic() + within
    state = None
    while time.monotonic() < deadline:
        task = api_query(api, token, TASK_STATE, {"id": task_id})["task"]
        state = task and task["state"]
        if state in states:
            return str(state)
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} is {state}, not one of {states}")


def audit_rows(api: ApiServer, token: str, **audit_filter: Any) -> list[dict[str, Any]]:
    data = api_query(
        api, token, AUDIT_LOGS, {"f": audit_filter or None, "first": 50, "after": None}
    )
    return [edge["node"] for edge in data["auditLogs"]["edges"]]


__all__ = ["api_query", "audit_rows", "go", "send", "sign_in", "wait_for_task"]
