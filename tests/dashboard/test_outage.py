"""Killing Redis (this test's own redis-server) shows the interruption banner, and it clears by
itself when Redis is back, without a reload."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from src.auth.roles import Role
from src.embedded_redis import EmbeddedRedis, free_port
from tests.dashboard.browser import DEADLINE_MS
from tests.dashboard.conftest import Shots
from tests.dashboard.support import sign_in
from tests.support.graphql import mint
from tests.support.servers import make_settings, redis_binary, running_api


def test_a_redis_outage_shows_the_interruption_banner_until_redis_is_back(
    database_url: str, page: Page, shots: Shots
) -> None:
    redis = EmbeddedRedis(port=free_port(), binary=redis_binary())
    redis.start()
    settings = make_settings(redis, database_url, bus_canary_interval=0.5)
    try:
        with running_api(settings) as api:
            sign_in(page, api.url, mint(settings, Role.VIEWER))
            expect(page.get_by_test_id("socket-state")).to_have_text("live", timeout=DEADLINE_MS)
            page.evaluate("window.__notReloaded = true")
            banner = page.get_by_test_id("banner-bus")
            expect(banner).to_have_count(0)

            redis.stop()
            expect(banner).to_be_visible(timeout=DEADLINE_MS)
            expect(banner).to_contain_text("Live updates interrupted")
            shots.take("redis-down", full_page=False)

            redis.start()
            expect(banner).to_have_count(0, timeout=DEADLINE_MS)
            assert page.evaluate("window.__notReloaded") is True
            expect(page.get_by_test_id("socket-state")).to_have_text("live")
            page.goto("about:blank")  # before the API stops: its reconnect attempts would be errors
    finally:
        redis.stop()
