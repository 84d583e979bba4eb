"""django-celery-beat's tables, read and written through SQLAlchemy without importing Django.

The tables (django-celery-beat 2.x, migrations up to 0019): `django_celery_beat_periodictask`
(one row per entry: name, task, args and kwargs as JSON text, queue/exchange/routing_key/priority/
headers/expires options, enabled, last_run_at, total_run_count, one_off, start_time, and a foreign
key to exactly one of the four schedule tables), `..._intervalschedule` (every, period),
`..._crontabschedule` (the five fields and a time zone), `..._solarschedule` (event, latitude,
longitude), `..._clockedschedule` (clocked_time), and `..._periodictasks`, one row (ident 1) whose
`last_update` beat's DatabaseScheduler polls to notice changes.

Switching an entry on or off does what the model's `save()` does: `enabled`, `date_changed`, and
`last_run_at` cleared when disabling, then `periodictasks.last_update` bumped in the same
transaction so a running beat reloads its schedule. Naive datetimes (a project with USE_TZ off)
are taken as UTC.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import Celery
from celery.schedules import schedule, solar
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    select,
    update,
)
from sqlalchemy.engine import make_url

from src.db.session import Database
from src.periodic.model import Entry, Schedule, ScheduleKind, Source
from src.periodic.schedules import ZonedCrontab, aware, describe
from src.periodic.sources.base import MAX_ENTRIES, Heartbeat
from src.security.masking import mask_url

metadata = MetaData()
Stamp = DateTime(timezone=True)

periodic_task = Table(
    "django_celery_beat_periodictask",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("task", String(200), nullable=False),
    Column("args", Text, nullable=False),
    Column("kwargs", Text, nullable=False),
    Column("queue", String(200)),
    Column("exchange", String(200)),
    Column("routing_key", String(200)),
    Column("headers", Text, nullable=False),
    Column("priority", Integer),
    Column("expires", Stamp),
    Column("expire_seconds", Integer),
    Column("one_off", Boolean, nullable=False),
    Column("start_time", Stamp),
    Column("enabled", Boolean, nullable=False),
    Column("last_run_at", Stamp),
    Column("total_run_count", Integer, nullable=False),
    Column("date_changed", Stamp, nullable=False),
    Column("description", Text, nullable=False),
    Column("interval_id", Integer),
    Column("crontab_id", Integer),
    Column("solar_id", Integer),
    Column("clocked_id", Integer),
)
interval_schedule = Table(
    "django_celery_beat_intervalschedule",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("every", Integer, nullable=False),
    Column("period", String(24), nullable=False),
)
crontab_schedule = Table(
    "django_celery_beat_crontabschedule",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("minute", String(240), nullable=False),
    Column("hour", String(96), nullable=False),
    Column("day_of_week", String(64), nullable=False),
    Column("day_of_month", String(124), nullable=False),
    Column("month_of_year", String(64), nullable=False),
    Column("timezone", String(63), nullable=False),
)
solar_schedule = Table(
    "django_celery_beat_solarschedule",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event", String(24), nullable=False),
    Column("latitude", Numeric(9, 6), nullable=False),
    Column("longitude", Numeric(9, 6), nullable=False),
)
clocked_schedule = Table(
    "django_celery_beat_clockedschedule",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("clocked_time", Stamp, nullable=False),
)
periodic_tasks_changed = Table(
    "django_celery_beat_periodictasks",
    metadata,
    Column("ident", SmallInteger, primary_key=True),
    Column("last_update", Stamp, nullable=False),
)

PERIODS = ("days", "hours", "minutes", "seconds", "microseconds")


def _loads(text: str | None, default: Any) -> Any:
    try:
        value = json.loads(text) if text else default
    except ValueError:
        return default
    return value if isinstance(value, type(default)) else default


def row_schedule(row: Any, *, app: Celery | None) -> Schedule:
    """The schedule of a joined row (interval, crontab, solar or clocked)."""
    if row.interval_id is not None and row.every is not None:
        period = row.period if row.period in PERIODS else "seconds"
        return describe(schedule(timedelta(**{period: row.every}), app=app))
    if row.crontab_id is not None and row.minute is not None:
        zone = row.cron_timezone or "UTC"
        cron = ZonedCrontab(
            minute=row.minute,
            hour=row.hour,
            day_of_week=row.day_of_week,
            day_of_month=row.day_of_month,
            month_of_year=row.month_of_year,
            zone=zone,
            app=app,
        )
        return describe(cron, timezone=zone)
    if row.solar_id is not None and row.event is not None:
        lat, lon = float(row.latitude), float(row.longitude)
        try:
            return describe(solar(row.event, lat, lon, app=app))
        except Exception:  # ephem missing or an event Celery does not know
            form = {"type": "solar", "event": row.event, "latitude": lat, "longitude": lon}
            return Schedule(ScheduleKind.SOLAR, f"at {row.event} ({lat}, {lon})", form, None)
    if row.clocked_id is not None and row.clocked_time is not None:
        at = aware(row.clocked_time)
        assert at is not None
        form = {"type": "clocked", "at": at.isoformat()}
        return Schedule(ScheduleKind.CLOCKED, f"once, at {at.isoformat()}", form, None)
    return Schedule(ScheduleKind.OTHER, "no schedule", {"type": "none"}, None)


def row_options(row: Any) -> dict[str, Any]:
    """The options beat's ModelEntry sends the task with (its headers name the entry)."""
    options: dict[str, Any] = {
        k: getattr(row, k)
        for k in ("queue", "exchange", "routing_key", "priority")
        if getattr(row, k) is not None
    }
    if row.expires is not None:
        options["expires"] = aware(row.expires)
    elif row.expire_seconds is not None:
        options["expires"] = row.expire_seconds
    options["headers"] = {**_loads(row.headers, {}), "periodic_task_name": row.name}
    return options


def row_entry(row: Any, *, app: Celery | None) -> Entry:
    sched = row_schedule(row, app=app)
    due_at = None
    if sched.kind is ScheduleKind.CLOCKED and row.enabled and not row.total_run_count:
        due_at = aware(row.clocked_time)  # a clocked entry runs once, at its time
    return Entry(
        name=row.name,
        task=row.task,
        source=Source.DJANGO,
        schedule=sched,
        args=_loads(row.args, []),
        kwargs=_loads(row.kwargs, {}),
        options=row_options(row),
        enabled=bool(row.enabled),
        last_run_at=aware(row.last_run_at),
        total_run_count=row.total_run_count,
        due_at=due_at,
        description=row.description or None,
    )


class DjangoBeatSource:
    source = Source.DJANGO

    def __init__(self, url: str, *, app: Celery | None = None) -> None:
        self.url = url
        self.db = Database.from_url(url)
        self.app = app

    def where(self) -> str:
        return f"django-celery-beat tables at {mask_url(make_url(self.url).render_as_string())}"

    async def entries(self) -> list[Entry]:
        t = periodic_task
        query = (
            select(
                t,
                interval_schedule.c.every,
                interval_schedule.c.period,
                crontab_schedule.c.minute,
                crontab_schedule.c.hour,
                crontab_schedule.c.day_of_week,
                crontab_schedule.c.day_of_month,
                crontab_schedule.c.month_of_year,
                crontab_schedule.c.timezone.label("cron_timezone"),
                solar_schedule.c.event,
                solar_schedule.c.latitude,
                solar_schedule.c.longitude,
                clocked_schedule.c.clocked_time,
            )
            .select_from(
                t.outerjoin(interval_schedule, t.c.interval_id == interval_schedule.c.id)
                .outerjoin(crontab_schedule, t.c.crontab_id == crontab_schedule.c.id)
                .outerjoin(solar_schedule, t.c.solar_id == solar_schedule.c.id)
                .outerjoin(clocked_schedule, t.c.clocked_id == clocked_schedule.c.id)
            )
            .order_by(t.c.name)
            .limit(MAX_ENTRIES)
        )
        async with self.db.session("django-celery-beat entries") as session:
            rows = (await session.execute(query)).all()
        return [row_entry(row, app=self.app) for row in rows]

    async def set_enabled(self, name: str, enabled: bool) -> bool | None:
        t = periodic_task
        now = datetime.now(UTC)
        async with self.db.session("django-celery-beat enable") as session:
            before = await session.scalar(
                select(t.c.enabled).where(t.c.name == name).with_for_update()
            )
            if before is None:
                return None
            values: dict[str, Any] = {"enabled": enabled, "date_changed": now}
            if not enabled:
                values["last_run_at"] = None  # what PeriodicTask.save() does
            await session.execute(update(t).where(t.c.name == name).values(**values))
            changed = await session.execute(
                update(periodic_tasks_changed)
                .where(periodic_tasks_changed.c.ident == 1)
                .values(last_update=now)
            )
            if not changed.rowcount:  # type: ignore[attr-defined]
                await session.execute(
                    periodic_tasks_changed.insert().values(ident=1, last_update=now)
                )
        return bool(before)

    async def heartbeat(self) -> Heartbeat | None:
        return None  # the DatabaseScheduler writes nothing while idle

    async def close(self) -> None:
        await self.db.dispose()


__all__ = [
    "DjangoBeatSource",
    "clocked_schedule",
    "crontab_schedule",
    "interval_schedule",
    "metadata",
    "periodic_task",
    "periodic_tasks_changed",
    "row_entry",
    "solar_schedule",
]
