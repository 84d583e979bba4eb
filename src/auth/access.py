"""Scoped permissions and the super_admin sign-in requirement: the part of the access decision that
needs I/O (bindings from configuration, task ids resolved to their task).

Role bindings live in `celery_system_config` under `access.bindings` (edited by super_admin with
`updateSystemConfig`, so audited and versioned like every setting). A binding names who it binds
(subjects, or the identity provider's groups) and what they may touch (queues, task name patterns,
worker hostname patterns). A viewer or admin matched by one binding or more is *scoped*: it may
only touch what the union of its bindings allows (src/access_scope.py). A super_admin is never
scoped. Nobody is scoped while no binding names them.

The guard (schema/core/guard.py) asks `decide()` after the role check, for every guarded field;
the same scope is then added to the task filter of the field (tasks, taskStats, taskEvents, the
bulk previews), so a scoped caller's lists and selections only ever hold tasks in scope.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter

from src.access_scope import PATTERN, AccessScope, ScopeRule
from src.auth.oidc import OidcPrincipal, mfa_satisfied
from src.auth.policy import ALLOW, Decision, Requirement, Resource
from src.auth.roles import Principal, Role
from src.errors import Forbidden
from src.system.config import ConfigStore, declare
from src.task_store.query import TaskStore

MAX_BINDINGS = 500
MAX_TASK_IDS = 1000
_Pattern = Annotated[str, Field(pattern=PATTERN.pattern)]


class Binding(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    subjects: list[str] = Field(default_factory=list, max_length=1000)
    groups: list[str] = Field(default_factory=list, max_length=100)
    queues: list[str] = Field(default_factory=list, max_length=100)
    task_names: list[_Pattern] = Field(default_factory=list, max_length=100)
    workers: list[_Pattern] = Field(default_factory=list, max_length=100)

    def binds(self, principal: Principal) -> bool:
        groups = principal.groups if isinstance(principal, OidcPrincipal) else ()
        return principal.subject in self.subjects or bool(set(groups) & set(self.groups))

    def rule(self) -> ScopeRule:
        return ScopeRule(self.id, tuple(self.queues), tuple(self.task_names), tuple(self.workers))


_BINDINGS = TypeAdapter(list[Binding])
MAX_PERIODIC_ENTRIES = 20

# A periodic entry's task name and queue by entry name (None: no source has it); the periodic
# service's `target`.
PeriodicTargets = Callable[[str], Awaitable[tuple[str, str | None] | None]]


def _normalise(value: list[dict[str, Any]]) -> list[dict[str, Any]]:
    bindings = _BINDINGS.validate_python(value)
    if len(bindings) > MAX_BINDINGS:
        raise ValueError(f"at most {MAX_BINDINGS} bindings")
    ids = [b.id for b in bindings]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate binding ids")
    return [b.model_dump(mode="json") for b in bindings]


ACCESS_BINDINGS = declare(
    "access.bindings",
    Annotated[list[dict[str, Any]], AfterValidator(_normalise)],
    [],
    "Role bindings limiting viewers/admins to part of the cluster: a list of {id, subjects, "
    "groups, queues, task_names, workers} (patterns with * and ?).",
)


def _denied(message: str) -> Decision:
    return Decision(False, Forbidden(message))


class Access:
    def __init__(
        self,
        config: ConfigStore,
        tasks: TaskStore,
        *,
        amr: list[str],
        acr: list[str],
        periodic: PeriodicTargets | None = None,
    ) -> None:
        self._config = config
        self._tasks = tasks
        self._periodic = periodic
        self._amr = amr
        self._acr = acr

    async def scope_for(self, principal: Principal | None) -> AccessScope | None:
        """The caller's scope; None when it is not scoped."""
        if principal is None or principal.has(Role.SUPER_ADMIN):
            return None
        # describe(), not get(): with the database away and nothing cached it raises, where
        # get() would answer the default (no bindings) and so unscope everyone: fail closed.
        stored = (await self._config.describe(ACCESS_BINDINGS.name)).value
        bindings = _BINDINGS.validate_python(stored or [])
        rules = tuple(b.rule() for b in bindings if b.binds(principal))
        return AccessScope(rules) if rules else None

    async def decide(
        self,
        principal: Principal,
        requirement: Requirement,
        resource: Resource,
        *,
        scope: AccessScope | None,
        mutation: bool,
        filtered: bool,
    ) -> Decision:
        """After the role check: the sign-in requirement of super_admin fields, then the scope.
        `filtered`: the field's tasks come through a task filter, which the scope then limits."""
        if requirement.role is Role.SUPER_ADMIN and not mfa_satisfied(
            principal, amr=self._amr, acr=self._acr
        ):
            wanted = ", ".join([*(f"amr {a}" for a in self._amr), *(f"acr {a}" for a in self._acr)])
            return _denied(f"super_admin actions require a sign-in with {wanted}")
        if scope is None:
            return ALLOW
        return await self._within(scope, resource, mutation=mutation, filtered=filtered)

    async def _within(
        self, scope: AccessScope, resource: Resource, *, mutation: bool, filtered: bool
    ) -> Decision:
        if resource.settings != ():
            return _denied("outside your scope: settings")
        if resource.cluster_wide:
            return _denied("outside your scope: figures over the whole cluster")
        periodic = await self._periodic_within(scope, resource.periodic_tasks)
        if periodic is not None:
            return periodic
        named = bool(resource.periodic_tasks)
        for kind, allowed in (
            ("queue", scope.allows_queue),
            ("worker", scope.allows_worker),
            ("task name", scope.allows_task_name),
        ):
            values = {
                "queue": resource.queues,
                "worker": resource.workers,
                "task name": resource.task_names,
            }[kind]
            if values is None:
                return _denied(f"outside your scope: every {kind}")
            for value in values:
                named = True
                if not allowed(value):
                    return _denied(f"outside your scope: {kind} {value}")
        if resource.tasks is None:
            return _denied("outside your scope: every task")
        records = await self._tasks.get_many(list(resource.tasks[:MAX_TASK_IDS]))
        if len(resource.tasks) > MAX_TASK_IDS:
            return _denied(f"outside your scope: more than {MAX_TASK_IDS} task ids at once")
        for task_id in resource.tasks:
            named = True
            record = records.get(task_id)
            if record is None or not scope.allows_task(
                {"queue": record.queue, "name": record.name}
            ):
                return _denied(f"outside your scope: task {task_id}")
        if mutation and not named and not filtered:
            return _denied("outside your scope: this action is not limited to your scope")
        return ALLOW

    async def _periodic_within(
        self, scope: AccessScope, names: tuple[str, ...] | None
    ) -> Decision | None:
        """A periodic entry is in scope when its task name and queue are (as a task would be);
        an entry nobody has, or one whose queue cannot be told, is not. None: all in scope."""
        if names is None:
            return _denied("outside your scope: every periodic entry")
        if not names:
            return None
        if self._periodic is None or len(names) > MAX_PERIODIC_ENTRIES:
            return _denied("outside your scope: periodic entries")
        for name in names:
            target = await self._periodic(name)
            if target is None or not scope.allows_task({"name": target[0], "queue": target[1]}):
                return _denied(f"outside your scope: periodic entry {name}")
        return None


__all__ = ["ACCESS_BINDINGS", "Access", "Binding"]
