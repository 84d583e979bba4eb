"""Debian's Chromium driven by Playwright for Python (Playwright cannot download its own browsers
here). Every page records console errors and uncaught exceptions; a test fails on any of them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generous: the machine has 2 shared cores and other test runs on them.
DEADLINE_MS = 45_000


def chromium_path() -> str | None:
    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")


@contextmanager
def launched() -> Iterator[tuple[Playwright, Browser]]:
    path = chromium_path()
    if path is None:
        raise RuntimeError("no chromium: apt-get install -y chromium (.ci/run does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield playwright, browser
        finally:
            browser.close()


@dataclass
class Console:
    errors: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    def on_message(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not any(a in message.text for a in self.allowed):
            self.errors.append(f"console.error: {message.text} ({message.location})")

    def on_page_error(self, error: Exception) -> None:
        self.errors.append(f"uncaught: {error}")


def watch(page: Page, console: Console) -> None:
    page.on("console", console.on_message)
    page.on("pageerror", console.on_page_error)
    page.set_default_timeout(DEADLINE_MS)


def dashboard_url(base: str, token: str | None = None, route: str = "/") -> str:
    url = f"{base}/celery-admin/dashboard/"
    if token is not None:
        return f"{url}#token={token}"
    return f"{url}#{route}"


__all__ = [
    "CHROMIUM_ARGS",
    "DEADLINE_MS",
    "Console",
    "chromium_path",
    "dashboard_url",
    "launched",
    "watch",
]
