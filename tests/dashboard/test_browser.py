"""The dashboard in a real headless Chromium against the real API, real Celery workers and Redis.

Each test awaits what it expects on the page with a generous deadline (2 shared cores); none sleeps
to let something happen. A console error or uncaught exception in the page fails the test.
"""

from __future__ import annotations

import uuid

from celery import Celery
from playwright.sync_api import Page, expect

from tests.dashboard.browser import DEADLINE_MS
from tests.dashboard.conftest import Shots
from tests.dashboard.support import audit_rows, go, send, sign_in, wait_for_task
from tests.support.servers import ApiServer, WorkerProcess

SLOW = "src.tasks.demo.analyze_slow"
BROKEN = "src.tasks.demo.analyze_broken"
ADD = "src.tasks.demo.add"
CONTROLS = (
    "Revoke…", "Retry…", "Revoke matching…", "Retry matching…", "Alert me on this…", "Purge…",
    "Shut down…", "Pool +1", "Pool \u22121", "Rate limit…", "Restart pool", "Drain and shut down all…",
    "Revoke subtree (0)…", "Retry failed leaves (0)…", "Retry failed leaves (1)…",
)  # fmt: skip


def test_the_page_loads_with_a_token_from_the_link_and_drops_it_from_the_address_bar(
    api: ApiServer, page: Page, admin_token: str, shots: Shots
) -> None:
    sign_in(page, api.url, admin_token)
    assert admin_token not in page.url
    assert "token=" not in page.evaluate("window.location.href")
    expect(page.get_by_test_id("subject")).to_have_text("test-admin")
    expect(page.get_by_test_id("role")).to_have_text("admin")
    stored = page.evaluate("sessionStorage.getItem('celery-admin.token')")
    assert stored == admin_token
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    shots.take("overview")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Access token")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('celery-admin.token')") is None


def test_a_refused_token_returns_to_sign_in_with_the_reason(api: ApiServer, page: Page) -> None:
    page.goto(f"{api.url}/celery-admin/dashboard/#token=not.a.jwt")
    expect(page.get_by_role("alert")).to_be_visible(timeout=DEADLINE_MS)
    expect(page.get_by_label("Access token")).to_be_visible()


def test_live_workers_appear(
    api: ApiServer, workers: list[WorkerProcess], page: Page, viewer_token: str, shots: Shots
) -> None:
    sign_in(page, api.url, viewer_token)
    go(page, "#/workers")
    for worker in workers:
        row = page.locator(f'tr[data-worker="{worker.hostname}"]')
        expect(row).to_have_attribute("data-online", "true", timeout=DEADLINE_MS)
    shots.take("workers")


def test_a_task_finishing_updates_the_list_without_a_reload(
    api: ApiServer,
    workers: list[WorkerProcess],
    celery_client: Celery,
    page: Page,
    viewer_token: str,
) -> None:
    sign_in(page, api.url, viewer_token)
    task_id = str(uuid.uuid4())
    go(page, f"#/tasks?q=name:{ADD}%20id:{task_id}")
    expect(page.get_by_test_id("task-count")).to_contain_text("0 matching", timeout=DEADLINE_MS)
    expect(page.get_by_test_id("live-state")).to_have_text("● live")
    page.evaluate("window.__notReloaded = true")

    celery_client.send_task(ADD, args=[2, 3], queue="health", task_id=task_id)
    row = page.locator(f'tr[data-task-id="{task_id}"]')
    expect(row).to_have_attribute("data-state", "SUCCESS", timeout=DEADLINE_MS)
    assert page.evaluate("window.__notReloaded") is True


def test_a_viewer_sees_no_controls(
    api: ApiServer,
    workers: list[WorkerProcess],
    celery_client: Celery,
    page: Page,
    viewer_token: str,
) -> None:
    failed = send(celery_client, BROKEN, "viewer-sees-no-controls")
    wait_for_task(api, viewer_token, failed, {"FAILURE"})
    sign_in(page, api.url, viewer_token, manage=False)
    for route, ready in [
        ("#/tasks", page.locator("tr[data-task-id]").first),
        (f"#/tasks/{failed}", page.get_by_test_id("timeline")),
        ("#/workers", page.locator("tr[data-worker]").first),
        ("#/queues", page.locator("tr[data-queue]").first),
    ]:
        go(page, route)
        expect(ready).to_be_visible(timeout=DEADLINE_MS)
        expect(page.locator("[data-control]")).to_have_count(0)
        for label in CONTROLS:
            expect(page.get_by_role("button", name=label, exact=True)).to_have_count(0)
    go(page, "#/audit")
    expect(page.get_by_role("alert")).to_contain_text("for admins")


def test_an_admin_revokes_a_running_task_from_its_detail_page_and_the_audit_page_shows_the_row(
    api: ApiServer,
    workers: list[WorkerProcess],
    celery_client: Celery,
    page: Page,
    admin_token: str,
    shots: Shots,
) -> None:
    task_id = send(celery_client, SLOW, 120)
    sign_in(page, api.url, admin_token, manage=True)
    go(page, f"#/tasks/{task_id}")
    detail = page.get_by_test_id("task-detail")
    expect(detail).to_have_attribute("data-state", "STARTED", timeout=DEADLINE_MS)

    page.get_by_role("button", name="Revoke…").click()
    dialog = page.get_by_role("dialog", name="Revoke this task")
    expect(dialog.get_by_role("button", name="Copy as curl")).to_be_visible()
    shots.take("revoke-dialog", full_page=False)
    dialog.get_by_role("button", name="Revoke", exact=True).click()
    link = dialog.locator("a.audit-id")
    expect(link).to_be_visible(timeout=DEADLINE_MS)
    expect(dialog.locator(".outcome")).to_contain_text("Done")
    audit_id = link.get_attribute("data-audit-id")
    assert audit_id

    # The task stops: the live subscription recolours the page.
    dialog.get_by_role("button", name="Close").first.click()
    expect(detail).to_have_attribute("data-state", "REVOKED", timeout=DEADLINE_MS)

    go(page, f"#/audit?highlight={audit_id}")
    row = page.locator(f'tr[data-audit-row="{audit_id}"]')
    expect(row).to_be_visible(timeout=DEADLINE_MS)
    expect(row).to_contain_text("revokeTask")
    expect(row).to_contain_text("success")
    expect(row).to_have_class("highlight clickable")
    shots.take("audit")
    (recorded,) = [r for r in audit_rows(api, admin_token, target=task_id) if r["id"] == audit_id]
    assert recorded["action"] == "revokeTask" and recorded["outcome"] == "SUCCESS"


def test_a_bulk_retry_from_a_filter_retries_exactly_the_previewed_tasks(
    api: ApiServer,
    workers: list[WorkerProcess],
    celery_client: Celery,
    page: Page,
    admin_token: str,
    shots: Shots,
) -> None:
    marker = f"bulk-{uuid.uuid4().hex[:10]}"
    originals = {send(celery_client, BROKEN, marker) for _ in range(3)}
    for task_id in originals:
        wait_for_task(api, admin_token, task_id, {"FAILURE"})

    sign_in(page, api.url, admin_token, manage=True)
    go(page, f"#/tasks?q=name:{BROKEN}%20state:FAILURE%20{marker}")
    expect(page.get_by_test_id("task-count")).to_contain_text("3 matching", timeout=DEADLINE_MS)
    page.get_by_role("button", name="Retry matching…").click()
    dialog = page.get_by_role("dialog", name="Retry matching tasks")
    expect(dialog.get_by_test_id("bulk-count")).to_have_text("3", timeout=DEADLINE_MS)
    previewed = {
        dialog.locator("tr[data-sample-id]").nth(i).get_attribute("data-sample-id")
        for i in range(3)
    }
    assert previewed == originals
    shots.take("bulk-preview", full_page=False)

    # A fourth task matching the filter after the preview is not part of the selection.
    late = send(celery_client, BROKEN, marker)
    wait_for_task(api, admin_token, late, {"FAILURE"})

    dialog.get_by_role("button", name="Retry these 3").click()
    done = dialog.get_by_test_id("bulk-done")
    expect(done).to_contain_text("3 new task ids", timeout=DEADLINE_MS)
    audit_id = done.locator("a.audit-id").get_attribute("data-audit-id")
    (row,) = [
        r for r in audit_rows(api, admin_token, actions=["retryTasks"]) if r["id"] == audit_id
    ]
    retried = row["response"]["data"]["retried"]  # original id -> new id
    assert set(retried) == originals, row
    assert late not in retried
