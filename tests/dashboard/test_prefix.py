"""Behind a reverse proxy path: the dashboard (HTTP and its WebSocket) and GraphiQL (its vendored
files) work under a prefix they were not told about, because every URL they use is relative or
built from the request's root path."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from src.auth.roles import Role
from src.config import Settings
from tests.dashboard.browser import DEADLINE_MS
from tests.dashboard.prefixed import PREFIX, prefixed_api
from tests.dashboard.support import go, sign_in
from tests.support.graphql import mint
from tests.support.servers import WorkerProcess


def test_dashboard_and_graphiql_work_under_a_url_prefix(
    settings: Settings, workers: list[WorkerProcess], page: Page
) -> None:
    with prefixed_api(settings) as base:
        redirect = httpx.get(f"{base}/celery-admin/dashboard")
        assert redirect.status_code == 308
        assert redirect.headers["location"] == f"{PREFIX}/celery-admin/dashboard/"

        sign_in(page, base, mint(settings, Role.VIEWER))
        assert page.url.startswith(f"{base}/celery-admin/dashboard/")
        go(page, "#/workers")
        for worker in workers:
            row = page.locator(f'tr[data-worker="{worker.hostname}"]')
            expect(row).to_have_attribute("data-online", "true", timeout=DEADLINE_MS)
        expect(page.get_by_test_id("socket-state")).to_have_text("live", timeout=DEADLINE_MS)

        # GraphiQL renders from our own files (this machine has no route to a CDN anyway).
        page.goto(f"{base}/celery-admin/graphql")
        expect(page.locator(".graphiql-container .graphiql-editors")).to_be_visible(
            timeout=DEADLINE_MS
        )
        page.goto("about:blank")
