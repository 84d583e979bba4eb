"""RedBeat: entries written by the real redbeat package into the tests' own Redis, run by a real
`celery beat -S redbeat.RedBeatScheduler`, read and switched through the API.

Given an entry saved with RedBeat and its beat running, then the entry is listed with RedBeat's
own last run and the next run after it, and beat's lock shows it alive; switching it off and on
round-trips (RedBeat itself reads the new value, and beat stops and resumes sending it); and a
beat stopped cleanly releases its lock, which the status reports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from celery.schedules import schedule

from tests.periodic.conftest import BeatProcess, PeriodicCluster, eventually
from tests.periodic.names import REDBEAT_PREFIX

pytestmark = pytest.mark.timeout(300)

APP = "tests.periodic.beat_app:redbeat_app"
NAME = "rb-add-every-2s"
LIST = """
{ periodicTasks(sources: [REDBEAT]) {
    name task source enabled writable args queue health lastRunAt nextRunAt
    schedule { kind words }
} }
"""
SET_ENABLED = """
mutation($name: String!, $enabled: Boolean!) {
  setPeriodicTaskEnabled(name: $name, enabled: $enabled) {
    ok enabled source auditId errors { code message }
  }
}
"""
BEAT = """{ systemStatus { beat { reasons heartbeats { source key held ttlSeconds stale } } } }"""


def _redbeat() -> Any:
    from redbeat import RedBeatSchedulerEntry

    from tests.periodic.beat_app import redbeat_app

    return RedBeatSchedulerEntry, redbeat_app


def _saved() -> Any:
    entry_cls, app = _redbeat()
    return entry_cls.from_key(REDBEAT_PREFIX + NAME, app=app)


async def _entry(cluster: PeriodicCluster) -> dict[str, Any]:
    found = (await cluster.query(LIST))["periodicTasks"]
    return next(t for t in found if t["name"] == NAME)


@pytest.fixture(scope="module")
def redbeat(periodic_cluster: PeriodicCluster) -> Iterator[BeatProcess]:
    entry_cls, app = _redbeat()
    entry_cls(
        NAME, "src.tasks.demo.add", schedule(timedelta(seconds=2)), args=[6, 7],
        options={"queue": "health"}, app=app,
    ).save()  # fmt: skip
    process = BeatProcess(APP, periodic_cluster.logs / "redbeat", "-S", "redbeat.RedBeatScheduler")
    yield process
    process.stop()
    _saved().delete()


async def test_entries_come_with_redbeat_last_run_and_the_next_run_after_it(
    periodic_cluster: PeriodicCluster, redbeat: BeatProcess
) -> None:
    await eventually(
        lambda: asyncio.to_thread(lambda: _saved().total_run_count),
        lambda runs: runs >= 2,
        f"beat running the entry ({redbeat.log})",
    )
    entry = await _entry(periodic_cluster)
    assert entry["health"] == "ON_TIME", entry
    assert (entry["task"], entry["source"], entry["args"]) == (
        "src.tasks.demo.add",
        "REDBEAT",
        [6, 7],
    )
    assert (entry["queue"], entry["enabled"], entry["writable"]) == ("health", True, True)
    assert entry["schedule"] == {"kind": "INTERVAL", "words": "every 2 seconds"}
    last, following = (datetime.fromisoformat(entry[k]) for k in ("lastRunAt", "nextRunAt"))
    assert following - last == timedelta(seconds=2)
    # The last run is RedBeat's own record (its meta), not a guess from the history.
    recorded = _saved().last_run_at
    assert recorded is not None and recorded.astimezone(UTC) <= last

    status = await periodic_cluster.query(BEAT)
    locks = [h for h in status["systemStatus"]["beat"]["heartbeats"] if h["source"] == "REDBEAT"]
    assert locks == [
        {
            "source": "REDBEAT",
            "key": f"{REDBEAT_PREFIX}:lock",
            "held": True,
            "ttlSeconds": locks[0]["ttlSeconds"],
            "stale": False,
        }
    ]
    assert 0 < locks[0]["ttlSeconds"] <= 5


async def test_switching_an_entry_off_and_on_round_trips(
    periodic_cluster: PeriodicCluster, redbeat: BeatProcess
) -> None:
    off = await periodic_cluster.query(SET_ENABLED, {"name": NAME, "enabled": False})
    payload = off["setPeriodicTaskEnabled"]
    assert payload["ok"], payload
    assert (payload["enabled"], payload["source"]) == (False, "REDBEAT")
    assert _saved().enabled is False  # RedBeat itself reads it
    row = await periodic_cluster.audit(payload["auditId"])
    assert (row["stateBefore"]["enabled"], row["stateAfter"]["enabled"]) == (True, False)
    listed = await _entry(periodic_cluster)
    assert (listed["enabled"], listed["health"]) == (False, "DISABLED")

    # beat stops sending it: its run count holds still over several intervals.
    await asyncio.sleep(2.5)  # a run in flight when it was switched off lands first
    count = _saved().total_run_count
    await asyncio.sleep(5)
    assert _saved().total_run_count == count

    on = await periodic_cluster.query(SET_ENABLED, {"name": NAME, "enabled": True})
    assert on["setPeriodicTaskEnabled"]["enabled"] is True
    assert _saved().enabled is True
    await eventually(
        lambda: asyncio.to_thread(lambda: _saved().total_run_count),
        lambda runs: runs > count,
        "beat sending the entry again",
    )


async def test_a_beat_that_stops_releases_its_lock_and_the_status_says_so(
    periodic_cluster: PeriodicCluster, redbeat: BeatProcess
) -> None:
    redbeat.stop()  # SIGTERM: RedBeat releases its lock on the way out

    async def lock() -> dict[str, Any]:
        beat = (await periodic_cluster.query(BEAT))["systemStatus"]["beat"]
        held = [h for h in beat["heartbeats"] if h["source"] == "REDBEAT"]
        return {"held": held[0]["held"] if held else None, "reasons": beat["reasons"]}

    found = await eventually(lock, lambda f: f["held"] is False, "the lock released")
    assert any("is not held" in reason for reason in found["reasons"]), found
