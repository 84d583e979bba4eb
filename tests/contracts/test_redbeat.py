"""Contract: RedBeat's key layout and encoding, as src/periodic/sources/redbeat.py reads them.

The real redbeat package (the pinned release) writes entries, records runs and takes its lock in a
real Redis; our adapter, which never imports redbeat, must read exactly what RedBeat itself reads
back, and what our adapter writes (an entry switched off) must be what RedBeat reads. Fails
loudly when a new RedBeat release changes its layout: then revisit the adapter and the pin.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from celery import Celery
from celery.schedules import crontab, schedule
from redbeat import RedBeatSchedulerEntry
from redbeat.decoder import RedBeatJSONDecoder, RedBeatJSONEncoder
from redbeat.schedulers import RedBeatConfig, get_redis
from redbeat.schedules import rrule

from src.embedded_redis import EmbeddedRedis
from src.periodic.model import ScheduleKind, Source
from src.periodic.sources.redbeat import RedBeatSource, decode_datetime

TESTED = "2.4."


@pytest.fixture
def app(redis_server: EmbeddedRedis) -> Iterator[Celery]:
    prefix = f"contract-{uuid.uuid4().hex[:8]}:"
    celery = Celery("redbeat-contract", set_as_current=False)
    celery.conf.update(
        broker_url=f"{redis_server.url}/0",
        redbeat_redis_url=f"{redis_server.url}/3",
        redbeat_key_prefix=prefix,
        redbeat_redis_options={},
        timezone="UTC",
    )
    yield celery
    client = get_redis(celery)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


@pytest.fixture
async def source(app: Celery) -> AsyncIterator[RedBeatSource]:
    conf = RedBeatConfig(app)
    found = RedBeatSource(
        str(app.conf.redbeat_redis_url), prefix=conf.key_prefix, lock_key=conf.lock_key, app=app
    )
    yield found
    await found.close()


def _save(app: Celery, name: str, sched: Any, **fields: Any) -> RedBeatSchedulerEntry:
    entry = RedBeatSchedulerEntry(name, "proj.tasks.work", sched, app=app, **fields)
    return entry.save()


def test_the_tested_release_is_installed() -> None:
    assert version("celery-redbeat").startswith(TESTED), version("celery-redbeat")


def test_the_key_layout_is_what_the_adapter_assumes(app: Celery) -> None:
    conf = RedBeatConfig(app)
    prefix = app.conf.redbeat_key_prefix
    assert conf.schedule_key == f"{prefix}:schedule"
    assert conf.lock_key == f"{prefix}:lock"
    entry = _save(app, "layout", schedule(timedelta(seconds=5)))
    assert entry.key == f"{prefix}layout"
    client = get_redis(app)
    assert set(client.hkeys(entry.key)) == {"definition", "meta"}
    assert client.zscore(conf.schedule_key, entry.key) == entry.score


async def test_entries_read_as_redbeat_reads_them(app: Celery, source: RedBeatSource) -> None:
    _save(
        app,
        "every-5s",
        schedule(timedelta(seconds=5)),
        args=[1, "two"],
        kwargs={"three": 3},
        options={"queue": "q1", "priority": 4},
    )
    _save(app, "cron", crontab(minute="*/15", hour="9-17", day_of_week="mon-fri"), enabled=False)
    _save(app, "rule", rrule("MINUTELY", interval=5, dtstart=datetime(2026, 1, 1, tzinfo=UTC)))

    found = {e.name: e for e in await source.entries()}
    assert set(found) == {"every-5s", "cron", "rule"}
    for name, ours in found.items():
        theirs = RedBeatSchedulerEntry.from_key(f"{app.conf.redbeat_key_prefix}{name}", app=app)
        assert ours.source is Source.REDBEAT
        # RedBeat keeps args null when none were given; beat sends [] then, as we list them.
        expected = (theirs.task, list(theirs.args or []), dict(theirs.kwargs or {}))
        assert (ours.task, ours.args, ours.kwargs) == expected
        assert (ours.options, ours.enabled) == (theirs.options, theirs.enabled)
        assert ours.last_run_at == theirs.last_run_at.astimezone(UTC)
        stored = get_redis(app).zscore(RedBeatConfig(app).schedule_key, theirs.key)
        assert ours.due_at == datetime.fromtimestamp(stored, UTC)

    assert found["every-5s"].schedule.kind is ScheduleKind.INTERVAL
    assert found["every-5s"].schedule.form["every_seconds"] == 5.0
    cron = found["cron"].schedule
    assert cron.kind is ScheduleKind.CRONTAB
    assert (cron.form["minute"], cron.form["hour"], cron.form["day_of_week"]) == (
        "*/15",
        "9-17",
        "mon-fri",
    )
    assert cron.celery == crontab(minute="*/15", hour="9-17", day_of_week="mon-fri")
    rule = found["rule"].schedule
    assert rule.kind is ScheduleKind.RRULE and rule.form["interval"] == 5


async def test_a_recorded_run_is_read_back(app: Celery, source: RedBeatSource) -> None:
    entry = _save(app, "runs", schedule(timedelta(seconds=30)))
    ran = next(entry)  # what RedBeat's scheduler does when it sends the task
    theirs = RedBeatSchedulerEntry.from_key(entry.key, app=app)
    [ours] = await source.entries()
    assert theirs.total_run_count == ran.total_run_count == 1
    assert ours.total_run_count == 1
    assert ours.last_run_at == theirs.last_run_at.astimezone(UTC)
    due = ran.last_run_at + timedelta(seconds=30)  # RedBeat scores in whole seconds
    assert ours.due_at == datetime.fromtimestamp(int(due.timestamp()), UTC)


async def test_switching_off_is_what_redbeat_reads(app: Celery, source: RedBeatSource) -> None:
    entry = _save(app, "toggle", schedule(timedelta(seconds=30)), args=[1], options={"queue": "q"})
    client = get_redis(app)
    before = client.hget(entry.key, "definition")

    assert await source.set_enabled("toggle", False) is True
    theirs = RedBeatSchedulerEntry.from_key(entry.key, app=app)
    assert theirs.enabled is False
    assert theirs.is_due()[0] is False  # RedBeat skips it
    after = client.hget(entry.key, "definition")
    decoded = [RedBeatJSONDecoder().decode(d) for d in (before, after)]
    assert {**decoded[0], "enabled": False} == decoded[1]  # nothing else changed

    assert await source.set_enabled("toggle", True) is False
    assert RedBeatSchedulerEntry.from_key(entry.key, app=app).enabled is True
    assert await source.set_enabled("no-such-entry", True) is None


async def test_the_lock_redbeat_takes_is_the_heartbeat(app: Celery, source: RedBeatSource) -> None:
    assert (await source.heartbeat()).held is False  # type: ignore[union-attr]
    lock = get_redis(app).lock(RedBeatConfig(app).lock_key, timeout=30)
    assert lock.acquire(blocking=False)
    try:
        beat = await source.heartbeat()
        assert beat is not None and beat.held and beat.ttl_seconds is not None
        assert 0 < beat.ttl_seconds <= 30
    finally:
        lock.release()
    assert (await source.heartbeat()).held is False  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=UTC),
        datetime(2026, 3, 29, 3, 30, tzinfo=ZoneInfo("Europe/Paris")),
        datetime(2026, 7, 1, 12, 0, tzinfo=ZoneInfo("America/New_York")).astimezone(
            ZoneInfo("America/New_York")
        ),
        datetime(2026, 1, 1, 12, 0).astimezone(),  # a fixed offset
        datetime(2026, 1, 1, 12, 0),  # naive: RedBeat writes it as UTC
    ],
)
def test_datetimes_decode_as_redbeat_decodes_them(value: datetime) -> None:
    encoded = RedBeatJSONEncoder().encode(value)
    theirs = RedBeatJSONDecoder().decode(encoded)
    ours = decode_datetime(json.loads(encoded))
    assert ours == theirs and ours is not None and ours.tzinfo is UTC
