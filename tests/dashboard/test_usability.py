"""What makes the page usable by keyboard and screen reader, in the dark, and as a runbook source:
shortcuts, the help dialog, dark mode following the system, state kept in the URL, times in the
browser's zone with UTC on hover, and "copy as GraphQL / curl" giving a runnable request."""

from __future__ import annotations

import json
import re

import httpx
from celery import Celery
from playwright.sync_api import Page, expect

from tests.dashboard.browser import DEADLINE_MS
from tests.dashboard.support import go, send, sign_in, wait_for_task
from tests.support.servers import ApiServer, WorkerProcess


def test_shortcuts_help_dark_mode_and_state_in_the_url(
    api: ApiServer,
    workers: list[WorkerProcess],
    celery_client: Celery,
    page: Page,
    viewer_token: str,
) -> None:
    done = send(celery_client, "src.tasks.demo.add", 1, 2, queue="health")
    wait_for_task(api, viewer_token, done, {"SUCCESS"})
    sign_in(page, api.url, viewer_token)
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(help_dialog).to_have_count(0)

    page.keyboard.press("/")  # from any page: to the tasks filter, focused
    box = page.locator("[data-filter-input]")
    expect(box).to_be_focused(timeout=DEADLINE_MS)
    box.fill("state:SUCCESS queue:health")
    box.press("Enter")
    # The filtered page replaces the unfiltered one: only successes, on the health queue.
    expect(page.locator('tr[data-task-id]:not([data-state="SUCCESS"])')).to_have_count(
        0, timeout=DEADLINE_MS
    )
    expect(page.locator('tr[data-task-id][data-state="SUCCESS"]').first).to_be_visible()

    # The whole view is in the address: a reload (or a shared link) shows the same.
    assert "q=state%3ASUCCESS+queue%3Ahealth" in page.url
    page.reload()
    expect(page.locator("[data-filter-input]")).to_have_value("state:SUCCESS queue:health")
    expect(page.get_by_role("button", name="SUCCESS", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )

    time_cell = page.locator("tr[data-task-id] time").first
    assert (time_cell.get_attribute("title") or "").endswith(" UTC")

    page.emulate_media(color_scheme="dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(13, 17, 23)"
    page.emulate_media(color_scheme="light")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"


def test_copy_as_graphql_and_curl_give_the_views_request(
    api: ApiServer,
    workers: list[WorkerProcess],
    celery_client: Celery,
    page: Page,
    viewer_token: str,
) -> None:
    done = send(celery_client, "src.tasks.demo.add", 3, 4, queue="health")
    wait_for_task(api, viewer_token, done, {"SUCCESS"})
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=api.url)
    sign_in(page, api.url, viewer_token)
    go(page, "#/tasks?q=state:SUCCESS&first=25")
    expect(page.locator("tr[data-task-id]").first).to_be_visible(timeout=DEADLINE_MS)

    page.get_by_role("button", name="Copy as GraphQL").first.click()
    expect(page.get_by_text("GraphQL copied")).to_be_visible()
    graphql = page.evaluate("navigator.clipboard.readText()")
    assert graphql.lstrip().startswith("query Tasks(")
    assert "subscription TaskEvents(" in graphql  # the live part of the view too
    assert '"states": [' in graphql and '"first": 25' in graphql

    page.get_by_role("button", name="Copy as curl").first.click()
    expect(page.get_by_text("curl copied")).to_be_visible()
    curl = page.evaluate("navigator.clipboard.readText()")
    assert viewer_token not in curl and "$CELERY_ADMIN_TOKEN" in curl
    body = re.search(r"<<'GRAPHQL'\n(.*?)\nGRAPHQL", curl, re.S)
    assert body and f"'{api.graphql_url}'" in curl
    # The copied request runs as is and answers what the page shows.
    answer = httpx.post(
        api.graphql_url,
        content=body.group(1),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {viewer_token}"},
    ).json()
    assert not answer.get("errors"), answer
    request = json.loads(body.group(1))
    assert request["variables"]["first"] == 25
    assert all(e["node"]["state"] == "SUCCESS" for e in answer["data"]["tasks"]["edges"])
