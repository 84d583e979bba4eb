"""Catching up on start: tasks the workers hold now and results the backend still has.

Events published while no collector listened are gone (pub/sub keeps nothing), but the tasks are
often still findable: workers answer `inspect active/reserved/scheduled`, and a Redis result
backend with `result_extended` keeps `celery-task-meta-<id>` with name, args, worker and outcome.
Both are turned into synthetic events (marked `_reconciled`) and go through the normal merge, so
they never overwrite anything better already stored.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from typing import Any

from redis import asyncio as aioredis

from src.control.inspector import InspectKind, Inspector

log = logging.getLogger(__name__)

META_PATTERN = "celery-task-meta-*"
_STATE_EVENT = {
    "SUCCESS": "task-succeeded",
    "FAILURE": "task-failed",
    "REVOKED": "task-revoked",
    "STARTED": "task-started",
    "RETRY": "task-retried",
    "RECEIVED": "task-received",
}


def _request_event(kind: str, raw: dict[str, Any], hostname: str, ts: float) -> dict[str, Any]:
    delivery = raw.get("delivery_info") or {}
    return {
        "type": kind,
        "uuid": raw.get("id"),
        "hostname": hostname,
        "timestamp": ts,
        "name": raw.get("name") or raw.get("type"),
        "args": raw.get("args"),
        "kwargs": raw.get("kwargs"),
        "routing_key": delivery.get("routing_key"),
        "exchange": delivery.get("exchange"),
        "_reconciled": True,
    }


async def from_workers(inspector: Inspector) -> list[dict[str, Any]]:
    """Synthetic task-started / task-received events for what the workers hold right now."""
    events: list[dict[str, Any]] = []
    now = time.time()
    for kind in (InspectKind.ACTIVE, InspectKind.RESERVED, InspectKind.SCHEDULED):
        try:
            reply = await inspector.get(kind, max_age=0)
        except Exception as exc:
            log.info("reconcile: inspect %s failed: %s", kind, exc)
            continue
        for hostname, tasks in (reply.replies or {}).items():
            for raw in tasks or []:
                if kind is InspectKind.SCHEDULED:
                    raw = raw.get("request") or {}
                if not raw.get("id"):
                    continue
                if kind is InspectKind.ACTIVE:
                    ts = raw.get("time_start") or now
                    events.append(_request_event("task-started", raw, hostname, ts))
                else:
                    events.append(_request_event("task-received", raw, hostname, now))
    return events


def _epoch(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def meta_event(meta: dict[str, Any], now: float) -> dict[str, Any] | None:
    kind = _STATE_EVENT.get(str(meta.get("status")))
    task_id = meta.get("task_id")
    if kind is None or not task_id:
        return None
    ts = _epoch(meta.get("date_done")) or now
    event: dict[str, Any] = {
        "type": kind,
        "uuid": task_id,
        "timestamp": ts,
        "hostname": meta.get("worker"),
        "name": meta.get("name"),
        "args": meta.get("args"),
        "kwargs": meta.get("kwargs"),
        "routing_key": meta.get("queue"),
        "retries": meta.get("retries"),
        "_reconciled": True,
    }
    if kind == "task-succeeded":
        event["result"] = meta.get("result")
    elif kind in ("task-failed", "task-retried"):
        result = meta.get("result")
        if isinstance(result, dict) and "exc_type" in result:
            event["exception"] = f"{result.get('exc_type')}({result.get('exc_message')!r})"
        else:
            event["exception"] = result
        event["traceback"] = meta.get("traceback")
    return event


async def from_result_backend(
    redis: aioredis.Redis, *, max_keys: int = 20_000, page: int = 1000
) -> list[dict[str, Any]]:
    """Synthetic events from `celery-task-meta-*` (bounded SCAN, pipelined GETs)."""
    events: list[dict[str, Any]] = []
    now = time.time()
    seen = 0
    cursor = 0
    while True:
        cursor, keys = await redis.scan(cursor=cursor, match=META_PATTERN, count=page)
        if keys:
            keys = keys[: max_keys - seen]
            seen += len(keys)
            values = await redis.mget(keys)
            for value in values:
                if not value:
                    continue
                try:
                    meta = json.loads(value)
                except (TypeError, ValueError):
                    continue
                if isinstance(meta, dict) and (event := meta_event(meta, now)) is not None:
                    events.append(event)
        if cursor == 0 or seen >= max_keys:
            break
    return events


__all__ = ["META_PATTERN", "from_result_backend", "from_workers", "meta_event"]
