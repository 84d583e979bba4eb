"""How long the oldest message of each queue has been waiting, read without consuming anything.

The broker backend peeks the oldest message of each priority list (on Redis without consuming
anything, see src/brokers/redis_queues.py). What a Celery message can tell:
- Celery (protocol 2) does not stamp the publish time into the message. If the publisher added one
  (a `timestamp` property or header, as AMQP publishers may), it is used: source "header".
- Otherwise the task id (`headers.id`) finds the task-sent time the collector stored in
  celery_task_results_ext (only when clients send task-sent events): source "sent_event".
- Otherwise the sampler remembers since when it has seen that same message at the tail (kept in the
  shared state, so it survives a leader change): a lower bound, source "observed". It restarts at
  zero whenever the message at the tail changes, so on a moving queue it under-estimates; on a
  stuck queue, the case alerts care about, it grows as it should.
Other brokers (AMQP) cannot peek without consuming: age is unknown (None).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from src.brokers.base import QueueBackend, QueueDepth
from src.db.models import TaskRecord
from src.db.session import Database
from src.monitoring.state import StateStore

OBSERVED_KEY = "queue_heads"  # hash: queue -> json {id, since}


@dataclass(frozen=True, slots=True)
class QueueAge:
    age_seconds: float | None
    source: str | None
    task_id: str | None


@dataclass(frozen=True, slots=True)
class _Head:
    task_id: str | None
    stamped_at: float | None  # epoch seconds from the message itself, when present


def parse_head(raw: bytes | str) -> _Head:
    """The task id and, if the publisher put one, the publish time of a kombu message."""
    try:
        message = json.loads(raw)
    except (ValueError, TypeError):
        return _Head(None, None)
    if not isinstance(message, dict):
        return _Head(None, None)
    headers = message.get("headers") or {}
    properties = message.get("properties") or {}
    task_id = headers.get("id") if isinstance(headers, dict) else None
    if task_id is None:  # protocol 1 keeps the id in the body
        task_id = _protocol1_id(message)
    stamped: float | None = None
    for source in (properties, headers):
        if isinstance(source, dict):
            value = source.get("timestamp") or source.get("sent_at")
            stamped = _epoch(value)
            if stamped is not None:
                break
    return _Head(str(task_id) if task_id else None, stamped)


def _protocol1_id(message: Mapping[str, Any]) -> str | None:
    body = message.get("body")
    if not isinstance(body, str):
        return None
    try:
        decoded = json.loads(base64.b64decode(body))
    except (ValueError, TypeError):
        return None
    return str(decoded["id"]) if isinstance(decoded, dict) and decoded.get("id") else None


def _epoch(value: Any) -> float | None:
    if isinstance(value, int | float) and value > 0:
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return None


def _oldest_head(raws: list[bytes]) -> _Head:
    """With several priority lists, prefer a stamped head, else the first (highest priority)."""
    heads = [parse_head(raw) for raw in raws]
    stamped = [h for h in heads if h.stamped_at is not None]
    return min(stamped, key=lambda h: h.stamped_at or 0) if stamped else heads[0]


async def _sent_times(db: Database, task_ids: list[str]) -> dict[str, datetime]:
    if not task_ids:
        return {}
    async with db.session("task sent times") as session:
        rows = await session.execute(
            select(TaskRecord.task_id, TaskRecord.sent_at).where(TaskRecord.task_id.in_(task_ids))
        )
        return {task_id: sent for task_id, sent in rows if sent is not None}


async def oldest_ages(
    backend: QueueBackend,
    depths: Mapping[str, QueueDepth],
    db: Database,
    state: StateStore,
    *,
    now: float | None = None,
) -> dict[str, QueueAge]:
    """Age of the oldest waiting message of each queue in `depths` (empty queues: None)."""
    peeked = await backend.peek_oldest(depths)
    if peeked is None:  # a broker that cannot peek (AMQP): unknown
        return {}
    now = time.time() if now is None else now
    heads = {name: _oldest_head(raws) for name, raws in peeked.items() if raws}
    needs_db = [h.task_id for h in heads.values() if h.stamped_at is None and h.task_id]
    try:
        sent = await _sent_times(db, needs_db)
    except Exception:  # the database being away must not stop sampling
        sent = {}
    observed = {q: json.loads(v) for q, v in (await state.hgetall(OBSERVED_KEY)).items()}
    ages: dict[str, QueueAge] = {}
    changed: dict[str, str] = {}
    for name, head in heads.items():
        previous = observed.get(name) or {}
        since = (
            float(previous.get("since", now))
            if previous.get("id") == head.task_id and head.task_id is not None
            else now
        )
        if previous.get("id") != head.task_id or not previous:
            changed[name] = json.dumps({"id": head.task_id, "since": now})
        if head.stamped_at is not None:
            ages[name] = QueueAge(max(0.0, now - head.stamped_at), "header", head.task_id)
        elif head.task_id in sent:
            age = now - sent[head.task_id].timestamp()
            ages[name] = QueueAge(max(0.0, age), "sent_event", head.task_id)
        else:
            ages[name] = QueueAge(max(0.0, now - since), "observed", head.task_id)
    await state.hset_many(OBSERVED_KEY, changed)
    gone = [q for q in observed if q not in heads]
    await state.hdel(OBSERVED_KEY, *gone)
    return ages


__all__ = ["QueueAge", "oldest_ages", "parse_head"]
