"""The app's `beat_schedule` (from CELERY_APP, or the demo app): code, so read-only.

Entries are what beat builds from the same dict (numbers and timedeltas become interval schedules,
and every schedule gets the app, for its time zone), so run times agree with beat's. Beat keeps
the last run of these entries in its own schedule file (or in RedBeat / django-celery-beat when it
uses those schedulers), which is not readable from here: their last run comes from task history.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.schedules import maybe_schedule

from src.control.errors import Unsupported
from src.periodic.model import Entry, Source
from src.periodic.schedules import describe
from src.periodic.sources.base import MAX_ENTRIES, Heartbeat


class StaticSource:
    source = Source.STATIC

    def __init__(self, app: Celery) -> None:
        self.app = app

    def where(self) -> str:
        return f"beat_schedule of the app {self.app.main or '(unnamed)'}"

    def _zone(self) -> str:
        return str(self.app.timezone)

    async def entries(self) -> list[Entry]:
        found: list[Entry] = []
        schedule: dict[str, Any] = dict(self.app.conf.beat_schedule or {})
        for name in sorted(schedule)[:MAX_ENTRIES]:
            spec = schedule[name] or {}
            value = maybe_schedule(spec.get("schedule"), spec.get("relative", False), app=self.app)
            found.append(
                Entry(
                    name=str(name),
                    task=str(spec.get("task", "")),
                    source=self.source,
                    schedule=describe(value, timezone=self._zone()),
                    args=list(spec.get("args") or ()),
                    kwargs=dict(spec.get("kwargs") or {}),
                    options=dict(spec.get("options") or {}),
                    enabled=True,
                )
            )
        return found

    async def set_enabled(self, name: str, enabled: bool) -> bool | None:
        raise Unsupported(
            f"{name!r} is in the app's beat_schedule (code): it cannot be switched on or off "
            "from here; change the code, or run beat with RedBeat or django-celery-beat",
            field="name",
        )

    async def heartbeat(self) -> Heartbeat | None:
        return None

    async def close(self) -> None:
        return None


__all__ = ["StaticSource"]
