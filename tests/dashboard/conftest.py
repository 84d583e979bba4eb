"""Browser fixtures: one Chromium per test module, a fresh context (own session storage) per test,
console errors failing the test, and screenshots kept as artefacts in build/dashboard-screenshots/
(ignored by git; $DASHBOARD_SCREENSHOTS chooses another folder). Not pytest's temporary folder:
that keeps only the last three runs of every test session on the machine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.dashboard.browser import Console, launched, watch


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Per module, not per session: Playwright's sync API keeps an event loop running in this
    thread while it is open, and the rest of the suite needs `asyncio.run` and pytest-asyncio's
    loop afterwards."""
    with launched() as (_, browser):
        yield browser


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def screenshots() -> Path:
    folder = Path(
        os.environ.get("DASHBOARD_SCREENSHOTS") or ROOT / "build" / "dashboard-screenshots"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Shots:
    def __init__(self, page: Page, folder: Path, test: str) -> None:
        self.page = page
        self.folder = folder
        self.test = test

    def take(self, name: str, *, full_page: bool = True) -> Path:
        path = self.folder / f"{self.test}-{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser: Browser, console: Console, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-GB")
    page = context.new_page()
    watch(page, console)
    try:
        yield page
    finally:
        context.close()
    failed = getattr(request.node, "rep_call", None)
    if console.errors and not (failed is not None and failed.failed):
        pytest.fail("console errors:\n" + "\n".join(console.errors))


@pytest.fixture
def shots(page: Page, screenshots: Path, request: pytest.FixtureRequest) -> Shots:
    return Shots(page, screenshots, request.node.name)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
