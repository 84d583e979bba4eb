"""Signing in to the dashboard at the identity provider (authorization code with PKCE), in Chromium,
against the local issuer of tests/support/oidc.py and the real API, workers and Redis.

The page finds the provider in the public `systemInfo { oidc }`, goes to its authorization
endpoint and back, exchanges the code with its PKCE verifier and shows who the API says it is
(`me`); controls follow what the API states: none for a viewer, only in scope for a scoped admin.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from src.auth.roles import Role
from src.config import Settings
from src.embedded_redis import EmbeddedRedis
from tests.dashboard.browser import DEADLINE_MS, dashboard_url
from tests.dashboard.conftest import Shots
from tests.dashboard.prefixed import prefixed_api
from tests.dashboard.support import go
from tests.support.graphql import mint
from tests.support.oidc import CLIENT_ID, LocalIssuer, local_issuer, s256
from tests.support.servers import ApiServer, WorkerProcess, make_settings, running_api

SCOPED = "oidc-scoped-admin"
SET_BINDINGS = """mutation($v: JSON!) { updateSystemConfig(key: "access.bindings", value: $v) {
  ok errors { code message } } }"""


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    with local_issuer() as running:
        yield running


@pytest.fixture(scope="module")
def sso_settings(redis_server: EmbeddedRedis, database_url: str, issuer: LocalIssuer) -> Settings:
    return make_settings(
        redis_server,
        database_url,
        oidc_issuer=issuer.url,
        oidc_client_id=CLIENT_ID,
        oidc_audience="celery-admin",
        celery_admin_role_map="ops-admins=admin,readers=viewer",
        jwt_leeway_seconds=0,
    )


@pytest.fixture(scope="module")
def sso_api(sso_settings: Settings) -> Iterator[ApiServer]:
    with running_api(sso_settings) as server:
        yield server


def _bindings(api: ApiServer, settings: Settings, value: list[dict[str, Any]]) -> None:
    response = httpx.post(
        api.graphql_url,
        json={"query": SET_BINDINGS, "variables": {"v": value}},
        headers={"Authorization": f"Bearer {mint(settings, Role.SUPER_ADMIN)}"},
        timeout=30,
    )
    assert response.json()["data"]["updateSystemConfig"]["ok"], response.text


@pytest.fixture
def scoped_binding(
    sso_api: ApiServer, sso_settings: Settings, workers: list[WorkerProcess]
) -> Iterator[str]:
    """SCOPED may touch the queue ai_analysis, tasks named src.tasks.demo.*, and the first
    worker; yields that worker's hostname."""
    inside = workers[0].hostname
    binding = {
        "id": "dashboard-sso",
        "subjects": [SCOPED],
        "queues": ["ai_analysis"],
        "task_names": ["src.tasks.demo.*"],
        "workers": [inside],
    }
    _bindings(sso_api, sso_settings, [binding])
    try:
        yield inside
    finally:
        _bindings(sso_api, sso_settings, [])


def _sign_in_at_the_provider(page: Page, api: ApiServer) -> None:
    page.goto(dashboard_url(api.url))
    page.get_by_role("button", name="Sign in with 127.0.0.1").click()
    expect(page.get_by_test_id("subject")).to_be_visible(timeout=DEADLINE_MS)


def test_signing_in_at_the_provider_lands_signed_in_with_subject_role_and_controls(
    sso_api: ApiServer,
    issuer: LocalIssuer,
    workers: list[WorkerProcess],
    page: Page,
    shots: Shots,
) -> None:
    issuer.sign_in_as("oidc-admin", roles=["ops-admins"])
    page.goto(dashboard_url(sso_api.url, route="/workers"))
    button = page.get_by_role("button", name="Sign in with 127.0.0.1")
    expect(button).to_have_text(f"Sign in with {issuer.url.removeprefix('http://')}")
    expect(page.get_by_label("Access token")).to_be_visible(
        timeout=DEADLINE_MS
    )  # the paste stays offered
    shots.take("sign-in")
    button.click()

    expect(page.get_by_test_id("subject")).to_have_text("oidc-admin", timeout=DEADLINE_MS)
    # from the API's `me`: the provider's token carries groups, not a role
    expect(page.get_by_test_id("role")).to_have_text("admin", timeout=DEADLINE_MS)
    expect(page.locator('main[data-can-manage="yes"]')).to_have_count(1, timeout=DEADLINE_MS)
    # Back where the user was, with code and state gone from the address bar.
    expect(page.get_by_role("heading", name="Workers")).to_be_visible(timeout=DEADLINE_MS)
    address = page.evaluate("window.location.href")
    assert "code=" not in address and "state=" not in address, address
    assert address == f"{sso_api.url}/celery-admin/dashboard/#/workers"
    row = page.locator(f'tr[data-worker="{workers[0].hostname}"]')
    expect(row.get_by_role("button", name="Pool +1")).to_be_visible(timeout=DEADLINE_MS)
    shots.take("signed-in")

    # The request was the code flow with PKCE, state and nonce; the exchange proved the verifier.
    asked = issuer.authorizations[-1]
    assert asked["response_type"] == "code" and asked["client_id"] == CLIENT_ID
    assert asked["code_challenge_method"] == "S256"
    assert asked["redirect_uri"] == f"{sso_api.url}/celery-admin/dashboard/"
    assert asked["audience"] == "celery-admin"
    assert asked["scope"] == "openid profile"
    assert len(asked["state"]) >= 32 and len(asked["nonce"]) >= 32
    exchange = issuer.exchanges[-1]
    assert s256(exchange["code_verifier"]) == asked["code_challenge"]
    assert "client_secret" not in exchange
    stored = page.evaluate("sessionStorage.getItem('celery-admin.token')")
    assert stored and stored.count(".") == 2
    assert page.evaluate("sessionStorage.getItem('celery-admin.oidc')") is None  # used once

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in with 127.0.0.1")).to_be_visible(
        timeout=DEADLINE_MS
    )
    assert page.evaluate("sessionStorage.getItem('celery-admin.token')") is None


def test_signing_in_at_the_provider_works_under_a_url_prefix(
    sso_settings: Settings, issuer: LocalIssuer, page: Page
) -> None:
    """The redirect URI is the page's own URL, so a proxy path the app was not told about is in it."""
    issuer.sign_in_as("oidc-admin", roles=["ops-admins"])
    with prefixed_api(sso_settings) as base:
        page.goto(dashboard_url(base, route="/queues"))
        page.get_by_role("button", name="Sign in with 127.0.0.1").click()
        expect(page.get_by_test_id("role")).to_have_text("admin", timeout=DEADLINE_MS)
        assert issuer.authorizations[-1]["redirect_uri"] == f"{base}/celery-admin/dashboard/"
        assert page.evaluate("window.location.href") == f"{base}/celery-admin/dashboard/#/queues"
        page.goto("about:blank")


def test_a_viewer_signed_in_at_the_provider_sees_no_controls(
    sso_api: ApiServer, issuer: LocalIssuer, workers: list[WorkerProcess], page: Page
) -> None:
    issuer.sign_in_as("oidc-viewer", roles=["readers"])
    _sign_in_at_the_provider(page, sso_api)
    expect(page.get_by_test_id("subject")).to_have_text("oidc-viewer", timeout=DEADLINE_MS)
    expect(page.get_by_test_id("role")).to_have_text("viewer", timeout=DEADLINE_MS)
    expect(page.locator('main[data-can-manage="no"]')).to_have_count(1, timeout=DEADLINE_MS)
    for route, ready in [
        ("#/workers", page.locator("tr[data-worker]").first),
        ("#/queues", page.locator("tr[data-queue]").first),
        ("#/tasks", page.get_by_test_id("tasks-table")),
    ]:
        go(page, route)
        expect(ready).to_be_visible(timeout=DEADLINE_MS)
        expect(page.locator("[data-control]")).to_have_count(0)


def test_a_scoped_admin_sees_controls_only_in_its_scope(
    sso_api: ApiServer,
    issuer: LocalIssuer,
    workers: list[WorkerProcess],
    scoped_binding: str,
    page: Page,
    shots: Shots,
) -> None:
    issuer.sign_in_as(SCOPED, roles=["ops-admins"])
    _sign_in_at_the_provider(page, sso_api)
    expect(page.get_by_test_id("role")).to_have_text("admin", timeout=DEADLINE_MS)
    expect(page.get_by_test_id("scoped")).to_contain_text("dashboard-sso", timeout=DEADLINE_MS)
    expect(page.locator('main[data-can-manage="yes"]')).to_have_count(1, timeout=DEADLINE_MS)

    go(page, "#/workers")
    inside = page.locator(f'tr[data-worker="{scoped_binding}"]')
    expect(inside).to_have_attribute("data-online", "true", timeout=DEADLINE_MS)
    expect(inside.get_by_role("button", name="Pool +1")).to_be_visible(timeout=DEADLINE_MS)
    expect(inside.locator("[data-out-of-scope]")).to_have_count(0)
    # The API lists a scoped caller's workers only; a live row of another has no controls.
    for worker in workers[1:]:
        outside = page.locator(f'tr[data-worker="{worker.hostname}"]')
        expect(outside.locator("[data-control]")).to_have_count(0)
    # Every worker at once is outside any scope.
    expect(page.get_by_role("button", name="Drain and shut down all…")).to_have_count(0)
    shots.take("scoped-workers")

    go(page, "#/queues")
    expect(page.locator('tr[data-queue="ai_analysis"]')).to_be_visible(timeout=DEADLINE_MS)
    expect(
        page.locator('tr[data-queue="ai_analysis"]').get_by_role("button", name="Purge…")
    ).to_be_visible(timeout=DEADLINE_MS)
    # The API lists a scoped caller's queues only: another queue is not on the page at all.
    expect(page.locator('tr[data-queue="health"]')).to_have_count(0)

    # Bulk actions by filter are limited to the scope by the API: offered; settings are not.
    go(page, "#/tasks?q=state:FAILURE")
    expect(page.get_by_role("button", name="Retry matching…")).to_be_visible(timeout=DEADLINE_MS)
    expect(page.get_by_role("button", name="Alert me on this…")).to_have_count(0)


def test_an_answer_with_a_missing_state_is_refused_with_a_message(
    sso_api: ApiServer, issuer: LocalIssuer, page: Page
) -> None:
    exchanges = len(issuer.exchanges)
    page.goto(f"{sso_api.url}/celery-admin/dashboard/?code=made-up")
    expect(page.get_by_role("alert")).to_contain_text("state", timeout=DEADLINE_MS)
    expect(page.get_by_role("button", name="Sign in with 127.0.0.1")).to_be_visible(
        timeout=DEADLINE_MS
    )
    assert "code=" not in page.evaluate("window.location.href")
    assert len(issuer.exchanges) == exchanges  # nothing was exchanged
    assert page.evaluate("sessionStorage.getItem('celery-admin.token')") is None


def test_an_answer_with_a_wrong_state_is_refused_with_a_message(
    sso_api: ApiServer, issuer: LocalIssuer, page: Page
) -> None:
    """The provider's redirect is rewritten to carry another state (as a forged link would)."""
    issuer.sign_in_as("oidc-admin", roles=["ops-admins"])

    def forge(route: Route) -> None:
        response = route.fetch(max_redirects=0)
        location = response.headers["location"]
        forged = location.split("state=")[0] + "state=forged"
        route.fulfill(status=302, headers={"Location": forged})

    page.route("**/protocol/openid-connect/auth*", forge)
    exchanges = len(issuer.exchanges)
    page.goto(dashboard_url(sso_api.url))
    page.get_by_role("button", name="Sign in with 127.0.0.1").click()
    expect(page.get_by_role("alert")).to_contain_text("state", timeout=DEADLINE_MS)
    assert "code=" not in page.evaluate("window.location.href")
    assert len(issuer.exchanges) == exchanges
    assert page.evaluate("sessionStorage.getItem('celery-admin.token')") is None
    # The refused answer used up the pending sign-in: replaying it cannot succeed either.
    assert page.evaluate("sessionStorage.getItem('celery-admin.oidc')") is None


def test_an_expired_sign_in_returns_to_sign_in_saying_so(
    sso_api: ApiServer, issuer: LocalIssuer, page: Page
) -> None:
    issuer.sign_in_as("oidc-admin", roles=["ops-admins"])
    issuer.access_ttl = 5
    try:
        page.goto(dashboard_url(sso_api.url))
        page.get_by_role("button", name="Sign in with 127.0.0.1").click()
        # Signed in, until the token expires (or already expired on a slow machine): either way
        # the API refuses it as expired and the page says so.
        expect(page.get_by_role("alert")).to_contain_text(
            "Your sign-in has expired", timeout=DEADLINE_MS
        )
    finally:
        issuer.access_ttl = 300
    expect(page.get_by_role("button", name="Sign in with 127.0.0.1")).to_be_visible(
        timeout=DEADLINE_MS
    )
    assert page.evaluate("sessionStorage.getItem('celery-admin.token')") is None
    assert len(issuer.exchanges) >= 1
