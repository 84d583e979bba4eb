"""The README's screenshot, taken with demo-like data: the demo's mix of quick, slow, failing and
retrying tasks on the two workers, an operator action (a chart marker). Kept as a test artefact;
with CELERY_ADMIN_UPDATE_DOCS_SCREENSHOT=1 it also replaces docs/dashboard.png."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from celery import Celery
from playwright.sync_api import Page, expect

from tests.dashboard.browser import DEADLINE_MS
from tests.dashboard.conftest import Shots
from tests.dashboard.support import api_query, send, sign_in, wait_for_task
from tests.support.servers import ApiServer, WorkerProcess

DOCS = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"
RATE_LIMIT = """
mutation { setRateLimit(taskName: "src.tasks.demo.cleanup_storage", rate: "100/m") { ok auditId } }
"""


def test_overview_with_demo_like_data(
    api: ApiServer,
    workers: list[WorkerProcess],
    celery_client: Celery,
    page: Page,
    super_admin_token: str,
    shots: Shots,
) -> None:
    sent = []
    for i in range(24):
        sent.append(send(celery_client, "src.tasks.demo.analyze_audio", 1000 + i, 0.05 * (i % 7)))
    for i in range(6):
        sent.append(
            send(celery_client, "src.tasks.demo.cleanup_storage", 30 + i, queue="maintenance")
        )
        sent.append(send(celery_client, "src.tasks.demo.health_ping", queue="health"))
    sent.append(send(celery_client, "src.tasks.demo.analyze_flaky", 1))
    sent.append(send(celery_client, "src.tasks.demo.analyze_broken", "model file missing"))
    send(celery_client, "src.tasks.demo.analyze_slow", 20)
    assert api_query(api, super_admin_token, RATE_LIMIT)["setRateLimit"]["ok"]
    wait_for_task(api, super_admin_token, sent[-1], {"FAILURE"})

    sign_in(page, api.url, super_admin_token, manage=True)
    expect(page.get_by_test_id("workers-online")).to_have_text(
        str(len(workers)), timeout=DEADLINE_MS
    )
    # A few live samples (every 5 s) so the charts have lines, and the action marker drawn.
    throughput = page.locator("figure.chart").first
    at_least_three = re.compile(r"^([3-9]|\d{2,})$")
    expect(throughput).to_have_attribute("data-points", at_least_three, timeout=DEADLINE_MS)
    expect(page.locator("a.marker").first).to_be_attached(timeout=DEADLINE_MS)
    path = shots.take("overview-demo", full_page=False)
    if os.environ.get("CELERY_ADMIN_UPDATE_DOCS_SCREENSHOT"):
        DOCS.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS)
