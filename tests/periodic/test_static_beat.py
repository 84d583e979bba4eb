"""The app's beat_schedule under a real `celery beat`, a real worker and the real collector.

Given the test app as CELERY_APP and beat running it, when the API is asked, then the entries are
listed with their schedules and correct next runs, the 2-second entry runs ON_TIME, running it now
sends its task with its exact arguments (seen in the task history), switching a static entry off
is UNSUPPORTED, and once beat is killed the entry becomes MISSED and the `periodic_missed` alert
is raised by the sampler (and resolved when beat is back).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from src.auth.roles import Role
from tests.periodic.conftest import BeatProcess, PeriodicCluster, eventually
from tests.periodic.names import ENTRY, ENTRY_ARGS

pytestmark = pytest.mark.timeout(300)

APP = "tests.periodic.beat_app:app"
LIST = """
query($sources: [PeriodicSource!]) {
  periodicTasks(sources: $sources) {
    name task source enabled writable queue args kwargs health lastRunAt nextRunAt
    overdueSeconds schedule { kind words form }
    recentRuns(first: 5) { taskId state argsMatched }
  }
}
"""
RUN_NOW = """
mutation($name: String!) {
  runPeriodicTaskNow(name: $name) { ok auditId taskId task queue errors { code message } }
}
"""
SET_ENABLED = """
mutation($name: String!, $enabled: Boolean!) {
  setPeriodicTaskEnabled(name: $name, enabled: $enabled) {
    ok auditId enabled errors { code message field }
  }
}
"""
TASK = """query($id: String!) { task(id: $id) { id name state args argsJson queue result } }"""
ALERTS = """{ alerts { kind subject ruleId message value threshold } }"""
BEAT = """{ systemStatus { beat { state reasons missed } } realtimeMetrics { beat { missed } } }"""
SET_CONFIG = """
mutation($key: String!, $value: JSON!) {
  updateSystemConfig(key: $key, value: $value) { ok errors { message } }
}
"""


def _at(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


async def _static(cluster: PeriodicCluster) -> dict[str, dict[str, Any]]:
    data = await cluster.query(LIST, {"sources": ["STATIC"]})
    return {t["name"]: t for t in data["periodicTasks"]}


@pytest.fixture(scope="module")
def beat(periodic_cluster: PeriodicCluster) -> Iterator[BeatProcess]:
    process = BeatProcess(APP, periodic_cluster.logs / "static-beat")
    yield process
    process.stop()


async def test_entries_are_listed_with_their_schedules_and_correct_next_runs(
    periodic_cluster: PeriodicCluster, beat: BeatProcess
) -> None:
    def ran_on_time(found: dict[str, dict[str, Any]]) -> bool:
        entry = found[ENTRY]
        return entry["health"] == "ON_TIME" and bool(entry["recentRuns"])

    before = datetime.now(UTC)
    found = await eventually(
        lambda: _static(periodic_cluster), ran_on_time, f"{ENTRY} running on time"
    )
    after = datetime.now(UTC)
    entry = found[ENTRY]
    assert entry["task"] == "src.tasks.demo.add" and entry["source"] == "STATIC"
    assert (entry["args"], entry["kwargs"], entry["queue"]) == (ENTRY_ARGS, {}, "health")
    assert (entry["enabled"], entry["writable"]) == (True, False)
    assert entry["schedule"] == {
        "kind": "INTERVAL",
        "words": "every 2 seconds",
        "form": {"type": "interval", "every_seconds": 2.0, "relative": False},
    }
    # An interval entry is next due one interval after its last run.
    assert _at(entry["nextRunAt"]) - _at(entry["lastRunAt"]) == timedelta(seconds=2)
    assert all(r["argsMatched"] for r in entry["recentRuns"])

    cron = found["cleanup-every-minute"]
    assert cron["schedule"]["words"] == "every minute (cron * * * * *) UTC"
    assert cron["kwargs"] == {"days": 7}
    due = _at(cron["nextRunAt"])
    assert (due.second, due.microsecond) == (0, 0)  # on a whole minute ...
    if cron["lastRunAt"]:  # ... the first after its last run
        assert timedelta(0) < due - _at(cron["lastRunAt"]) <= timedelta(minutes=1)
    else:  # ... the first after the moment it was asked, somewhere between `before` and `after`
        assert before < due and due - after <= timedelta(minutes=1)

    noon = found["ping-at-noon-in-paris"]
    assert noon["schedule"]["kind"] == "SOLAR"
    assert noon["schedule"]["form"]["event"] == "solar_noon"
    next_noon = _at(noon["nextRunAt"])
    # Solar noon in Paris (2.35 E) falls between 11:30 and 12:00 UTC all year round.
    assert 11 * 60 + 30 <= next_noon.hour * 60 + next_noon.minute < 12 * 60
    assert timedelta(0) < next_noon - before <= timedelta(hours=25)


async def test_run_now_sends_the_entry_task_with_its_exact_arguments(
    periodic_cluster: PeriodicCluster, beat: BeatProcess
) -> None:
    data = await periodic_cluster.query(RUN_NOW, {"name": ENTRY})
    payload = data["runPeriodicTaskNow"]
    assert payload["ok"], payload
    assert (payload["task"], payload["queue"]) == ("src.tasks.demo.add", "health")

    async def recorded() -> dict[str, Any] | None:
        found = await periodic_cluster.query(TASK, {"id": payload["taskId"]})
        return found["task"]

    # Celery publishes the task-sent event (which names the queue) after the message itself, so
    # the worker's events may be stored first: wait for both.
    task = await eventually(
        recorded,
        lambda t: t is not None and t["state"] == "SUCCESS" and t["queue"] is not None,
        "the task in history, with its sent event",
    )
    assert task is not None
    assert task["name"] == "src.tasks.demo.add" and task["queue"] == "health"
    assert json.loads(task["args"].replace("(", "[").replace(")", "]")) == ENTRY_ARGS
    assert task["result"] == "5"

    row = await periodic_cluster.audit(payload["auditId"])
    assert (row["outcome"], row["target"]) == ("SUCCESS", ENTRY)
    assert row["observed"] == {"task_id": payload["taskId"]}


async def test_a_static_entry_cannot_be_switched_off(
    periodic_cluster: PeriodicCluster, beat: BeatProcess
) -> None:
    data = await periodic_cluster.query(SET_ENABLED, {"name": ENTRY, "enabled": False})
    payload = data["setPeriodicTaskEnabled"]
    assert payload["ok"] is False and payload["enabled"] is None
    [error] = payload["errors"]
    assert error["code"] == "UNSUPPORTED" and "beat_schedule" in error["message"]
    row = await periodic_cluster.audit(payload["auditId"])
    assert (row["outcome"], row["errorCode"], row["target"]) == ("FAILURE", "UNSUPPORTED", ENTRY)
    assert (await _static(periodic_cluster))[ENTRY]["enabled"] is True


async def test_killing_beat_makes_the_entry_missed_and_raises_the_alert(
    periodic_cluster: PeriodicCluster, beat: BeatProcess
) -> None:
    grace = 3
    rule = {
        "kind": "periodic_missed",
        "id": "beat-down",
        "entries": [ENTRY],
        "grace_by_entry": {ENTRY: grace},
        "severity": "critical",
    }
    for key, value in (
        ("alerts.rules", [rule]),
        ("periodic.entry_grace_seconds", {ENTRY: grace}),
    ):
        done = await periodic_cluster.query(
            SET_CONFIG, {"key": key, "value": value}, role=Role.SUPER_ADMIN
        )
        assert done["updateSystemConfig"]["ok"], done

    await eventually(
        lambda: _static(periodic_cluster),
        lambda found: found[ENTRY]["health"] == "ON_TIME",
        "the entry on time while beat runs",
    )
    alerts = (await periodic_cluster.query(ALERTS))["alerts"]
    assert not [a for a in alerts if a["ruleId"] == "beat-down"], alerts

    beat.kill()
    missed = await eventually(
        lambda: _static(periodic_cluster),
        lambda found: found[ENTRY]["health"] == "MISSED",
        "the entry MISSED after beat was killed",
    )
    assert missed[ENTRY]["overdueSeconds"] > grace

    async def raised() -> list[dict[str, Any]]:
        found = (await periodic_cluster.query(ALERTS))["alerts"]
        return [a for a in found if a["ruleId"] == "beat-down"]

    # Raised by the sampler within grace + one interval: a generous deadline on a loaded machine.
    [alert] = await eventually(raised, bool, "the periodic_missed alert")
    assert (alert["kind"], alert["subject"]) == ("periodic_missed", ENTRY)
    assert alert["threshold"] == grace and alert["value"] > grace
    assert "was not sent" in alert["message"]
    status = await periodic_cluster.query(BEAT)
    assert status["systemStatus"]["beat"]["state"] == "DOWN"
    assert status["systemStatus"]["beat"]["missed"] >= 1

    revived = BeatProcess(APP, periodic_cluster.logs / "static-beat")
    try:
        await eventually(raised, lambda found: not found, "the alert resolved with beat back")
    finally:
        revived.stop()
