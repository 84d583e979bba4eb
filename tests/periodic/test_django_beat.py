"""django-celery-beat's tables, created with DDL equal to its migrations (no Django here), read
and written through SQLAlchemy: in the tests' database through the API, and in SQLite directly.

Given three rows (an interval entry that last ran long ago, a weekday-morning crontab in
Europe/Paris that never ran, a disabled solar entry), then they are listed with their schedules,
options and the right next runs and health; switching one off and on round-trips, clears its last
run as Django's save() does, and bumps `periodictasks.last_update` so a running beat reloads.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from src.db.session import Database
from src.periodic.model import ScheduleKind
from src.periodic.sources.django_beat import (
    DjangoBeatSource,
    periodic_task,
    periodic_tasks_changed,
)
from tests.periodic.conftest import PeriodicCluster
from tests.periodic.django_ddl import SQLITE, statements

pytestmark = pytest.mark.timeout(120)

LIST = """
{ periodicTasks(sources: [DJANGO]) {
    name task enabled writable args kwargs queue options description health lastRunAt nextRunAt
    schedule { kind words form }
} }
"""
SET_ENABLED = """
mutation($name: String!, $enabled: Boolean!) {
  setPeriodicTaskEnabled(name: $name, enabled: $enabled) { ok enabled source errors { code } }
}
"""


def _next_paris_weekday_morning(after: datetime) -> datetime:
    """The oracle: the next Monday or Wednesday, 09:00 in Paris, after `after`."""
    paris = after.astimezone(ZoneInfo("Europe/Paris"))
    day = paris.replace(hour=9, minute=0, second=0, microsecond=0)
    while day <= paris or day.isoweekday() not in (1, 3):
        day = (day + timedelta(days=1)).replace(hour=9)
    return day.astimezone(UTC)


async def _rows(url: str) -> dict[str, Any]:
    db = Database.from_url(url)
    try:
        async with db.session("read back") as session:
            rows = (await session.execute(select(periodic_task))).all()
            changed = await session.scalar(select(periodic_tasks_changed.c.last_update))
    finally:
        await db.dispose()
    return {"tasks": {r.name: r for r in rows}, "changed": changed}


async def test_entries_are_listed_with_schedules_options_and_next_runs(
    periodic_cluster: PeriodicCluster,
) -> None:
    before = datetime.now(UTC)
    found = {t["name"]: t for t in (await periodic_cluster.query(LIST))["periodicTasks"]}
    after = datetime.now(UTC)
    assert set(found) == {"django-every-30s", "django-weekday-mornings", "django-sunset"}

    every = found["django-every-30s"]
    assert (every["task"], every["args"], every["kwargs"]) == ("src.tasks.demo.add", [4, 5], {})
    assert (every["queue"], every["options"]) == ("health", {"priority": 5})
    assert (every["writable"], every["description"]) == (True, "adds")
    assert every["schedule"]["words"] == "every 30 seconds"
    assert every["lastRunAt"] == "2026-01-05T12:00:00+00:00"
    assert every["nextRunAt"] == "2026-01-05T12:00:30+00:00"
    assert every["health"] == "MISSED"  # due long ago, never run since

    mornings = found["django-weekday-mornings"]
    assert mornings["kwargs"] == {"days": 3}
    assert mornings["schedule"]["kind"] == "CRONTAB"
    assert mornings["schedule"]["words"] == (
        "every day at 09:00 on Monday, Wednesday (cron 0 9 * * 1,3) Europe/Paris"
    )
    assert mornings["schedule"]["form"]["timezone"] == "Europe/Paris"
    assert mornings["health"] == "NEVER_RAN"
    due = datetime.fromisoformat(mornings["nextRunAt"])
    assert due in {_next_paris_weekday_morning(before), _next_paris_weekday_morning(after)}

    sunset = found["django-sunset"]
    assert sunset["schedule"]["kind"] == "SOLAR"
    assert sunset["schedule"]["form"] == {
        "type": "solar",
        "event": "sunset",
        "latitude": 51.5,
        "longitude": -0.12,
    }
    assert (sunset["enabled"], sunset["health"], sunset["nextRunAt"]) == (False, "DISABLED", None)


async def test_switching_off_and_on_round_trips_and_tells_beat(
    periodic_cluster: PeriodicCluster,
) -> None:
    before = await _rows(periodic_cluster.database_url)
    name = "django-every-30s"
    off = (await periodic_cluster.query(SET_ENABLED, {"name": name, "enabled": False}))[
        "setPeriodicTaskEnabled"
    ]
    assert (off["ok"], off["enabled"], off["source"]) == (True, False, "DJANGO")
    after_off = await _rows(periodic_cluster.database_url)
    row = after_off["tasks"][name]
    assert (row.enabled, row.last_run_at) == (False, None)  # as PeriodicTask.save() does
    assert after_off["changed"] > before["changed"]  # beat's DatabaseScheduler reloads

    on = (await periodic_cluster.query(SET_ENABLED, {"name": name, "enabled": True}))[
        "setPeriodicTaskEnabled"
    ]
    assert (on["ok"], on["enabled"]) == (True, True)
    after_on = await _rows(periodic_cluster.database_url)
    assert after_on["tasks"][name].enabled is True
    assert after_on["changed"] >= after_off["changed"]
    listed = {t["name"]: t for t in (await periodic_cluster.query(LIST))["periodicTasks"]}
    assert listed[name]["enabled"] is True


async def test_the_same_tables_in_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'django.db'}"
    db = Database.from_url(url)
    try:
        async with db.session("django tables") as session:
            for statement in statements(SQLITE, sqlite=True):
                await session.execute(text(statement))
    finally:
        await db.dispose()

    source = DjangoBeatSource(url)
    try:
        found = {e.name: e for e in await source.entries()}
        every = found["django-every-30s"]
        assert every.last_run_at == datetime(2026, 1, 5, 12, tzinfo=UTC)  # naive text: UTC
        assert (every.args, every.options["priority"], every.options["queue"]) == (
            [4, 5],
            5,
            "health",
        )
        assert every.options["headers"] == {
            "tenant": "t1",
            "periodic_task_name": "django-every-30s",
        }
        assert found["django-weekday-mornings"].schedule.kind is ScheduleKind.CRONTAB
        assert found["django-sunset"].enabled is False

        assert await source.set_enabled("django-sunset", True) is False
        assert await source.set_enabled("django-every-30s", False) is True
        assert await source.set_enabled("no-such-entry", True) is None
        again = {e.name: e for e in await source.entries()}
        assert again["django-sunset"].enabled is True
        assert (again["django-every-30s"].enabled, again["django-every-30s"].last_run_at) == (
            False,
            None,
        )
    finally:
        await source.close()
