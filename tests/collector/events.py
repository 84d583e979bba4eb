"""Builders for realistic Celery task and worker events (the shapes workers and clients send)."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any


def task_event(kind: str, task_id: str, ts: float, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": f"task-{kind}",
        "uuid": task_id,
        "timestamp": ts,
        "hostname": fields.pop("hostname", "w1@host"),
        "utcoffset": 0,
        "pid": 1,
        "clock": 1,
        "local_received": ts,
    }
    event.update(fields)
    return event


def lifecycle(
    task_id: str, t0: float, *, fail: bool = False, worker: str = "w1@host"
) -> list[dict[str, Any]]:
    """sent, received, started, succeeded/failed at t0, t0+1, t0+2, t0+3."""
    end = (
        task_event(
            "failed", task_id, t0 + 3, hostname=worker, exception="ValueError('x')", traceback="tb"
        )
        if fail
        else task_event("succeeded", task_id, t0 + 3, hostname=worker, result="42", runtime=0.9)
    )
    return [
        task_event(
            "sent",
            task_id,
            t0,
            hostname="client@host",
            name="proj.add",
            args="(1, 2)",
            kwargs="{}",
            queue="ai_analysis",
            exchange="",
            routing_key="ai_analysis",
            retries=0,
            eta=None,
            expires=None,
            root_id=task_id,
            parent_id=None,
        ),
        task_event(
            "received",
            task_id,
            t0 + 1,
            hostname=worker,
            name="proj.add",
            args="(1, 2)",
            kwargs="{}",
            retries=0,
            root_id=task_id,
            parent_id=None,
        ),
        task_event("started", task_id, t0 + 2, hostname=worker),
        end,
    ]


def kombu_payload(body: Any, routing_key: str = "task.multi") -> bytes:
    """What kombu's Redis transport publishes for an event message."""
    encoded = base64.b64encode(json.dumps(body).encode()).decode()
    envelope = {
        "body": encoded,
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {"hostname": "w1@host"},
        "properties": {
            "delivery_mode": 1,
            "delivery_info": {"exchange": "celeryev", "routing_key": routing_key},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
    return json.dumps(envelope).encode()


__all__ = ["kombu_payload", "lifecycle", "task_event"]
