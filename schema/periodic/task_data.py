"""The one door through which periodic entries show task data (their args and kwargs).

Task arguments are secrets like any task data (README "Task history"): whatever rule decides who
may see task data (a permission a viewer lacks unless granted, key-pattern redaction) is applied
here, for `PeriodicTask.args` and `PeriodicTask.kwargs` alike. Runs of an entry show their task
through the task-history `Task` type, which has its own door.
"""

from __future__ import annotations

from typing import Any, cast

from strawberry.scalars import JSON

from schema.core.context import Info
from schema.core.task_data import visible_task_data
from src.audit.service import jsonable


def task_data(info: Info, value: Any) -> JSON | None:
    """`value` (an entry's args or kwargs) as the caller may see it: null for a role that may
    not see task data, else JSON-safe with secret keys masked (schema/core/task_data.py)."""
    return cast(JSON | None, visible_task_data(info, jsonable(value)))


__all__ = ["task_data"]
