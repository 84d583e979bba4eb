"""The Celery app the periodic tests run a real `celery beat` for, and give the API as CELERY_APP.

Its broker is the tests' own Redis (PERIODIC_TEST_REDIS, set by the fixtures before the first
import, in this process and the beat processes alike). `add-every-2s` is the short entry the tests
watch; the crontab and solar entries are there to be listed with correct next runs.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab, solar

from tests.periodic.names import ENTRY, ENTRY_ARGS, REDBEAT_PREFIX

BASE = os.environ.get("PERIODIC_TEST_REDIS", "redis://127.0.0.1:1")

app = Celery("periodic_tests", set_as_current=False)
app.conf.update(
    broker_url=f"{BASE}/0",
    result_backend=f"{BASE}/1",
    broker_transport_options={"polling_interval": 0.05},
    task_send_sent_event=True,
    accept_content=["json"],
    timezone="UTC",
    beat_max_loop_interval=1,
    beat_schedule={
        ENTRY: {
            "task": "src.tasks.demo.add",
            "schedule": 2.0,
            "args": tuple(ENTRY_ARGS),
            "options": {"queue": "health"},
        },
        "cleanup-every-minute": {
            "task": "src.tasks.demo.cleanup_storage",
            "schedule": crontab(minute="*"),
            "kwargs": {"days": 7},
            "options": {"queue": "maintenance"},
        },
        "ping-at-noon-in-paris": {
            "task": "src.tasks.demo.health_ping",
            "schedule": solar("solar_noon", 48.85, 2.35),
        },
    },
)

# RedBeat's own settings, for the RedBeat beat process (`-S redbeat.RedBeatScheduler`) and the
# tests that write entries with the real redbeat package.
redbeat_app = Celery("periodic_redbeat_tests", set_as_current=False)
redbeat_app.conf.update(
    broker_url=f"{BASE}/0",
    result_backend=f"{BASE}/1",
    broker_transport_options={"polling_interval": 0.05},
    task_send_sent_event=True,
    accept_content=["json"],
    timezone="UTC",
    beat_max_loop_interval=1,
    redbeat_redis_url=f"{BASE}/2",
    redbeat_key_prefix=REDBEAT_PREFIX,
    redbeat_lock_timeout=5,
    redbeat_redis_options={},
)

__all__ = ["app", "redbeat_app"]
