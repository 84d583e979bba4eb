"""Schedules in words and in their own form, and their run times, from Celery's schedule objects.

Run times come from Celery itself (`remaining_estimate`, what beat uses), evaluated against a
fixed `now` on a copy of the schedule, so the user's objects are never changed and one listing
uses one clock. Crontab fields are read through `__reduce__` (Celery's pickling protocol), not its
private attributes.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from celery import Celery
from celery.schedules import BaseSchedule, crontab, schedule, solar

from src.periodic.model import Schedule, ScheduleKind

_UNITS = ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))
_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def aware(value: datetime | None) -> datetime | None:
    """A datetime in UTC; a naive one is taken as UTC (what Celery and the stores mean by it)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def every_words(seconds: float) -> str:
    """'every 10 seconds', 'every 5 minutes', 'every hour', 'every 1.5 seconds'."""
    for size, unit in _UNITS:
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"every {unit}" if count == 1 else f"every {count} {unit}s"
    return f"every {seconds:g} seconds"


def _cron_part(value: Any) -> str:
    if isinstance(value, set | frozenset | list | tuple):
        return ",".join(str(v) for v in sorted(value))
    return str(value)


def crontab_fields(cron: crontab) -> dict[str, str]:
    """The five fields as written (minute, hour, day_of_week, day_of_month, month_of_year)."""
    _cls, args = cron.__reduce__()[:2]
    minute, hour, day_of_week, day_of_month, month_of_year = (_cron_part(a) for a in args)
    return {
        "minute": minute,
        "hour": hour,
        "day_of_month": day_of_month,
        "month_of_year": month_of_year,
        "day_of_week": day_of_week,
    }


def _days(day_of_week: str) -> str:
    parts = day_of_week.split(",")
    if all(p.isdigit() and int(p) <= 7 for p in parts):
        return ", ".join(_DAYS[int(p) % 7] for p in parts)
    return f"day-of-week {day_of_week}"


def cron_words(fields: dict[str, str], timezone: str | None = None) -> str:
    """Plain words for the common shapes, always followed by the expression itself."""
    minute, hour = fields["minute"], fields["hour"]
    dom, moy, dow = fields["day_of_month"], fields["month_of_year"], fields["day_of_week"]
    expression = f"{minute} {hour} {dom} {moy} {dow}"
    words: str | None = None
    if hour == "*" and minute == "*":
        words = "every minute"
    elif hour == "*" and minute.startswith("*/") and minute[2:].isdigit():
        words = every_words(int(minute[2:]) * 60)
    elif hour == "*" and minute.isdigit():
        words = f"every hour at minute {int(minute)}"
    elif minute.isdigit() and hour.isdigit():
        words = f"every day at {int(hour):02d}:{int(minute):02d}"
    if words is not None:
        if dow != "*":
            words += f" on {_days(dow)}"
        if dom != "*":
            words += f" on day {dom} of the month"
        if moy != "*":
            words += f" in month {moy}"
        text = f"{words} (cron {expression})"
    else:
        text = f"cron {expression}"
    return f"{text} {timezone}" if timezone else text


def describe(value: Any, *, timezone: str | None = None) -> Schedule:
    """A `Schedule` for what a beat entry holds in `schedule`: a number of seconds, a timedelta,
    or a Celery schedule object (crontab, solar, schedule, or a custom class)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = schedule(timedelta(seconds=value))
    elif isinstance(value, timedelta):
        value = schedule(value)
    if isinstance(value, crontab):
        fields = crontab_fields(value)
        form: dict[str, Any] = {"type": "crontab", **fields}
        if timezone:
            form["timezone"] = timezone
        return Schedule(ScheduleKind.CRONTAB, cron_words(fields, timezone), form, value)
    if isinstance(value, solar):
        form = {
            "type": "solar",
            "event": value.event,
            "latitude": value.lat,
            "longitude": value.lon,
        }
        words = f"at {value.event.replace('_', ' ')} (latitude {value.lat}, longitude {value.lon})"
        return Schedule(ScheduleKind.SOLAR, words, form, value)
    if isinstance(value, schedule):  # crontab and solar are not subclasses of it
        seconds = value.run_every.total_seconds()
        form = {"type": "interval", "every_seconds": seconds, "relative": bool(value.relative)}
        return Schedule(ScheduleKind.INTERVAL, every_words(seconds), form, value)
    if isinstance(value, BaseSchedule):
        return Schedule(ScheduleKind.OTHER, repr(value), {"type": type(value).__name__}, value)
    return Schedule(ScheduleKind.OTHER, repr(value), {"type": type(value).__name__}, None)


class ZonedCrontab(crontab):
    """A crontab evaluated in a time zone of its own (django-celery-beat keeps one per crontab)
    rather than the app's."""

    def __init__(self, *args: Any, zone: str = "UTC", **kwargs: Any) -> None:
        self.zone = zone
        super().__init__(*args, **kwargs)

    @property
    def tz(self) -> tzinfo:
        return ZoneInfo(self.zone)

    def __reduce__(self) -> Any:
        cls, args, state = super().__reduce__()
        return cls, args, {**(state or {}), "zone": self.zone}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        rest = dict(state)
        self.zone = str(rest.pop("zone", "UTC"))
        super().__setstate__(rest)


def _probe(sched: BaseSchedule, now: datetime, app: Celery | None) -> BaseSchedule:
    """A copy of `sched` (through Celery's pickling protocol, so nothing cached comes along)
    whose clock is `now` and whose app is the cluster's (its time zone)."""
    probe = copy.copy(sched)
    if app is not None:
        probe.app = app
    probe.nowfun = lambda: now
    return probe


def next_after(
    sched: BaseSchedule | None, last_run_at: datetime, now: datetime, app: Celery | None = None
) -> datetime | None:
    """When an entry that last ran at `last_run_at` is due next (beat's own arithmetic); None when
    the schedule cannot say (a custom class that fails, a solar event without ephem)."""
    if sched is None:
        return None
    try:
        remaining = _probe(sched, now, app).remaining_estimate(last_run_at)
    except Exception:
        return None
    if remaining is None:
        return None
    return aware(now + remaining)


__all__ = [
    "ZonedCrontab",
    "aware",
    "cron_words",
    "crontab_fields",
    "describe",
    "every_words",
    "next_after",
]
