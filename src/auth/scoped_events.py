"""Deciding a scoped subscriber's task events when the event does not say enough.

A task's events do not all carry its name and queue: `task-started`, `task-succeeded` and the
collector's `task-lost` often carry only the id (once the collector has written the task, its
later messages hold only what changed). Filtered on the message alone, a scoped subscriber
(src/auth/access.py) would never see its own tasks start or finish. So an event that cannot be
decided from its own fields is decided from the task as the store holds it, looked up by id:
- bounded: one lookup at a time per subscriber (the bus's per-subscriber queue then reports what
  a slow subscriber missed), each at most LOOKUP_SECONDS, and verdicts of the last MAX_REMEMBERED
  task ids remembered, including those learnt from events that did carry name and queue;
- closed on failure: a task the store does not hold (yet), or a lookup that fails, is not shown.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from src.access_scope import AccessScope
from src.task_store.query import TaskStore

log = logging.getLogger(__name__)

MAX_REMEMBERED = 4096
LOOKUP_SECONDS = 5.0


class ScopedEvents:
    def __init__(self, scope: AccessScope, tasks: TaskStore) -> None:
        self._scope = scope
        self._tasks = tasks
        self._known: OrderedDict[str, bool] = OrderedDict()

    def _remember(self, task_id: str, allowed: bool) -> None:
        self._known[task_id] = allowed
        self._known.move_to_end(task_id)
        while len(self._known) > MAX_REMEMBERED:
            self._known.popitem(last=False)

    def verdict(self, fields: Mapping[str, Any]) -> bool | None:
        """In scope (True), not (False), or not decidable from the event (None: look it up)."""
        task_id = fields.get("task_id")
        if self._scope.allows_task(fields):
            if isinstance(task_id, str):
                self._remember(task_id, True)
            return True
        if fields.get("queue") is not None and fields.get("name") is not None:
            if isinstance(task_id, str):
                self._remember(task_id, False)
            return False
        return self._known.get(task_id) if isinstance(task_id, str) else False

    async def lookup(self, task_id: str) -> bool:
        """Whether the task the store holds under `task_id` is in scope (False when it holds none
        or cannot answer)."""
        known = self._known.get(task_id)
        if known is not None:
            return known
        try:
            async with asyncio.timeout(LOOKUP_SECONDS):
                record = (await self._tasks.get_many([task_id])).get(task_id)
        except Exception as exc:  # the store away: not shown, not remembered
            log.debug("scope lookup of task %s failed: %s", task_id, exc)
            return False
        if record is None:
            return False  # not written yet: a later event may find it
        allowed = self._scope.allows_task({"queue": record.queue, "name": record.name})
        self._remember(task_id, allowed)
        return allowed


__all__ = ["LOOKUP_SECONDS", "MAX_REMEMBERED", "ScopedEvents"]
