"""Task history types: one task with its family, a keyset connection of tasks, and statistics.

`TaskConnection` is written here rather than taken from `strawberry.relay.ListConnection`, which
slices by offset: its cursors are keyset positions (stable under inserts) and `totalCount` is only
counted when a query selects it. `PageInfo` is Strawberry's Relay type, shared by every connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any
from weakref import WeakKeyDictionary

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.relay import PageInfo
from strawberry.scalars import JSON

from schema.core.context import Info
from schema.core.mapping import build
from schema.core.task_data import task_data_field
from src.db.models.tasks import TaskRecord
from src.errors import BadInput
from src.task_filter import TaskFilter
from src.task_store.ordering import TaskOrder as DomainOrder
from src.task_store.ordering import TaskOrderKey
from src.task_store.query import MAX_CHILDREN, TaskPage, TaskStore
from src.task_store.stats import TaskStats as DomainStats


@strawberry.enum(description="How tasks are listed; ties are broken by task id.")
class TaskOrder(Enum):
    SEEN_DESC = "seen_desc"
    SEEN_ASC = "seen_asc"
    RECEIVED_DESC = "received_desc"
    RECEIVED_ASC = "received_asc"
    STARTED_DESC = "started_desc"
    STARTED_ASC = "started_asc"
    FINISHED_DESC = "finished_desc"
    FINISHED_ASC = "finished_asc"
    RUNTIME_DESC = "runtime_desc"
    RUNTIME_ASC = "runtime_asc"

    def to_domain(self) -> DomainOrder:
        key, direction = self.value.rsplit("_", 1)
        return DomainOrder(TaskOrderKey(key), descending=direction == "desc")


class _FamilyLoaders:
    """Batches the parent and children lookups of one request's tasks (a page of 200 tasks
    asking for parents and children costs two queries, not 400). No cache: a WebSocket
    context lives long and must not serve stale rows."""

    def __init__(self, source: TaskStore) -> None:
        self.parents = DataLoader(self._parents, cache=False, max_batch_size=MAX_CHILDREN)
        self.children = DataLoader(self._children, cache=False, max_batch_size=MAX_CHILDREN)
        self.store = source

    async def _parents(self, ids: list[str]) -> list[TaskRecord | None]:
        found = await self.store.get_many(list(set(ids)))
        return [found.get(i) for i in ids]

    async def _children(self, keys: list[tuple[str, int]]) -> list[list[TaskRecord]]:
        by_limit: dict[int, dict[str, list[TaskRecord]]] = {}
        for limit in {limit for _, limit in keys}:
            ids = [i for i, lim in keys if lim == limit]
            by_limit[limit] = await self.store.children_of(ids, limit=limit)
        return [by_limit[limit].get(i, []) for i, limit in keys]


_loaders: WeakKeyDictionary[Any, _FamilyLoaders] = WeakKeyDictionary()


def family(info: Info) -> _FamilyLoaders:
    loaders = _loaders.get(info.context)
    if loaders is None:
        loaders = _loaders[info.context] = _FamilyLoaders(info.context.tasks)
    return loaders


@strawberry.type(description="One task as recorded from its events and result.")
class Task:
    id: str
    name: str | None
    state: str = strawberry.field(description="A TaskState value.")
    queue: str | None
    exchange: str | None
    routing_key: str | None
    worker: str | None
    args: str | None = task_data_field("Positional arguments (repr, may be cut).")
    kwargs: str | None = task_data_field("Keyword arguments (repr, may be cut).")
    args_json: JSON | None = task_data_field("Exact arguments, when known.")
    kwargs_json: JSON | None = task_data_field("Exact keyword arguments, when known.")
    result: str | None = task_data_field("The result (repr).")
    exception: str | None = task_data_field("The exception (repr).")
    traceback: str | None = task_data_field("The traceback.")
    retries: int
    eta: datetime | None
    expires: datetime | None
    sent_at: datetime | None
    received_at: datetime | None
    started_at: datetime | None
    succeeded_at: datetime | None
    failed_at: datetime | None
    retried_at: datetime | None
    revoked_at: datetime | None
    finished_at: datetime | None
    runtime: float | None = strawberry.field(description="Seconds the task ran.")
    parent_id: str | None
    root_id: str | None
    group_id: str | None
    last_event_at: datetime | None
    seen_at: datetime = strawberry.field(description="When the task was first seen.")

    @classmethod
    def from_record(cls, r: TaskRecord) -> Task:
        return build(cls, r, id=r.task_id, retries=r.retries or 0)

    @strawberry.field(description="The task that sent this one; null when none or not recorded.")
    async def parent(self, info: Info) -> Task | None:
        if not self.parent_id:
            return None
        found = await family(info).parents.load(self.parent_id)
        return Task.from_record(found) if found and _in_scope(info, found) else None

    @strawberry.field(description=f"Tasks this one sent, oldest first (at most {MAX_CHILDREN}).")
    async def children(self, info: Info, first: int = 50) -> list[Task]:
        if first < 0 or first > MAX_CHILDREN:
            raise BadInput(f"first: between 0 and {MAX_CHILDREN}", field="first")
        found = await family(info).children.load((self.id, first))
        return [Task.from_record(r) for r in found if _in_scope(info, r)]


def _in_scope(info: Info, record: Any) -> bool:
    """A scoped caller reaches no out-of-scope task through its relatives either."""
    scope = info.context.task_scope
    return scope is None or scope.allows_task({"queue": record.queue, "name": record.name})


@strawberry.type(name="TaskEdge", description="A task and its position in the listing.")
class TaskEdge:
    cursor: str
    node: Task


@dataclass
class _CountQuery:
    store: TaskStore
    filter: TaskFilter


@strawberry.type(description="A page of tasks (Relay connection with keyset cursors).")
class TaskConnection:
    edges: list[TaskEdge]
    page_info: PageInfo
    _count: strawberry.Private[_CountQuery]

    @strawberry.field(
        description="Tasks matching the filter, all pages together; counted only when asked "
        "for, and a TIMEOUT error (null) when counting takes over 2 seconds."
    )
    async def total_count(self) -> int | None:
        return await self._count.store.count(self._count.filter)

    @classmethod
    def from_page(cls, page: TaskPage, store: TaskStore, f: TaskFilter) -> TaskConnection:
        return cls(
            edges=[TaskEdge(cursor=e.cursor, node=Task.from_record(e.record)) for e in page.edges],
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=page.start_cursor,
                end_cursor=page.end_cursor,
            ),
            _count=_CountQuery(store, f),
        )


@strawberry.type(description="How many tasks share one value (state, name or exception type).")
class TaskCount:
    key: str | None
    count: int


@strawberry.type(description="Tasks finished in one minute.")
class ThroughputPoint:
    minute: datetime
    finished: int


@strawberry.type(description="Runtime percentiles in seconds (null without finished tasks).")
class TaskRuntimePercentiles:
    samples: int = strawberry.field(description="Runtimes the percentiles were computed from.")
    p50: float | None
    p90: float | None
    p99: float | None


@strawberry.type(description="Statistics of the tasks matching a filter, first seen in a window.")
class TaskStats:
    since: datetime
    until: datetime
    total: int
    by_state: list[TaskCount]
    by_name: list[TaskCount] = strawberry.field(description="The 50 most frequent names.")
    by_exception: list[TaskCount] = strawberry.field(
        description="The 50 most frequent exception types."
    )
    finished: int = strawberry.field(description="Tasks that finished inside the window.")
    throughput_per_minute: float = strawberry.field(
        description="Finished tasks per minute, averaged over the window."
    )
    throughput: list[ThroughputPoint] = strawberry.field(
        description="Finished tasks per minute (minutes with none are left out; last 1440)."
    )
    runtime: TaskRuntimePercentiles

    @classmethod
    def from_domain(cls, s: DomainStats) -> TaskStats:
        runtime = TaskRuntimePercentiles(
            samples=s.runtime_samples, p50=s.runtime_p50, p90=s.runtime_p90, p99=s.runtime_p99
        )
        return build(cls, s, runtime=runtime)


__all__ = [
    "Task",
    "TaskConnection",
    "TaskCount",
    "TaskEdge",
    "TaskOrder",
    "TaskRuntimePercentiles",
    "TaskStats",
    "ThroughputPoint",
]
