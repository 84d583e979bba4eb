"""The field-level guard on task data: one extension on every field that carries it.

`TASK_DATA` goes on `Task.args`, `Task.result`, `TaskEvent.traceback`, `WorkerTask.kwargs`, ...:
for a caller whose role may not see task data (src/security/task_data.py, TASK_DATA_ROLES) the
field is null, whatever the resolver had; for the others it is redacted by key (password, token,
secret, api_key, ...). The description of each such field says so. Shared subscription results
(schema/adapters/shared_results.py) are keyed by `task_data_class`, so callers who see different
fields never share one.
"""

from __future__ import annotations

import inspect
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.extensions.field_extension import AsyncExtensionResolver, SyncExtensionResolver

from schema.core.context import Info

NOTE = " Task data: null unless your role may see it (TASK_DATA_ROLES); secret keys masked."


def task_data_class(info: Info) -> str:
    """Which view of task data this caller gets ('hidden' or 'shown')."""
    return "shown" if info.context.may_see_task_data() else "hidden"


def visible_task_data(info: Info, value: Any) -> Any:
    """`value` as this caller may see it: None, or redacted by key."""
    if value is None or not info.context.may_see_task_data():
        return None
    return info.context.task_data.any(value)


class TaskData(FieldExtension):
    def resolve(  # type: ignore[override]
        self, next_: SyncExtensionResolver, source: Any, info: Info, /, **kwargs: Any
    ) -> Any:
        if not info.context.may_see_task_data():
            return None
        return visible_task_data(info, next_(source, info, **kwargs))

    async def resolve_async(  # type: ignore[override]
        self, next_: AsyncExtensionResolver, source: Any, info: Info, /, **kwargs: Any
    ) -> Any:
        if not info.context.may_see_task_data():
            return None
        value = next_(source, info, **kwargs)
        if inspect.isawaitable(value):
            value = await value
        return visible_task_data(info, value)


def task_data_field(description: str = "") -> Any:
    """A plain field that carries task data: `args: str | None = task_data_field("...")`."""
    import strawberry

    return strawberry.field(description=(description + NOTE).strip(), extensions=[TaskData()])


__all__ = ["NOTE", "TaskData", "task_data_class", "task_data_field", "visible_task_data"]
