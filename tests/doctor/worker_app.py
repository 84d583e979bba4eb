"""A Celery app for the doctor's test workers, configured from the environment so each worker can
be set up to trigger one check: `DOCTOR_WORKER_CONF` (JSON) is applied over plain defaults."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from celery import Celery

app = Celery("doctor_tests", set_as_current=False)
_base = f"redis://127.0.0.1:{os.environ.get('REDIS_PORT', '6379')}"
app.conf.update(
    broker_url=f"{_base}/0",
    result_backend=f"{_base}/1",
    broker_transport_options={"polling_interval": 0.05},
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)
app.conf.update(json.loads(os.environ.get("DOCTOR_WORKER_CONF", "{}")))

_kept: list[bytes] = []  # what `grow` allocates stays, as a leak would


@app.task(name="doctor.sleep")
def sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@app.task(name="doctor.noop")
def noop() -> str:
    return "ok"


@app.task(name="doctor.unsent")
def unsent() -> str:
    return "ok"


@app.task(name="doctor.grow")
def grow(megabytes: int) -> int:
    block = bytearray(megabytes << 20)
    for i in range(0, len(block), 4096):  # touched, so resident
        block[i] = 1
    _kept.append(bytes(block))
    return sum(len(b) for b in _kept)


def client(port: int, **conf: Any) -> Celery:
    """A sending app on the test Redis, with `conf` over the workers' defaults."""
    sender = Celery("doctor_client", set_as_current=False)
    sender.conf.update(
        broker_url=f"redis://127.0.0.1:{port}/0",
        result_backend=f"redis://127.0.0.1:{port}/1",
        broker_transport_options={"polling_interval": 0.05},
        task_send_sent_event=True,
    )
    sender.conf.update(conf)
    return sender


__all__ = ["app", "client"]
