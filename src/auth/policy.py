"""The access policy: may this caller do what a field requires, on what it acts on?

Pure (no I/O): `Policy.decide(principal, requirement, resource)` is the single decision point, and
the GraphQL guard (schema/core/guard.py) is its only caller, on every root field. A requirement is
stated once, on the field; today it is a minimum role on the ladder viewer < admin < super_admin.

Where later work plugs in, without another place deciding:
- scoped bindings (an admin limited to some queues, task names or worker hostnames) decide on the
  `Resource` the guard builds from the field's declared arguments; task ids in it are resolved
  to their task (name, queue, worker) by whoever supplies the bindings;
- task data (arguments, results, tracebacks) is for the roles in `task_data_roles` only: a
  call that searches it says so in its `Resource` (`task_data`), and the fields that carry it
  ask `may_see_task_data` (schema/core/task_data.py);
- rate limits for denied attempts count the `Decision`s that are refusals.
"""

from __future__ import annotations

from dataclasses import dataclass

from src.auth.roles import Principal, Role
from src.errors import AppError, Forbidden, Unauthenticated

NO_TOKEN = "authentication required: send 'Authorization: Bearer <token>'"


@dataclass(frozen=True, slots=True)
class Requirement:
    """What a field asks of its caller."""

    role: Role

    def describe(self) -> str:
        return self.role.claim


@dataclass(frozen=True, slots=True)
class Resource:
    """What a call acts on, from its arguments. `None` for a kind means every one of that kind
    (e.g. `workers: null`, every live worker); an empty tuple means the call names none."""

    tasks: tuple[str, ...] | None = ()
    task_names: tuple[str, ...] | None = ()
    queues: tuple[str, ...] | None = ()
    workers: tuple[str, ...] | None = ()
    settings: tuple[str, ...] | None = ()
    # Periodic entries by name; bindings resolve an entry to its task name and queue, as they
    # resolve task ids.
    periodic_tasks: tuple[str, ...] | None = ()
    # The call reads task data (e.g. a `text` search through arguments and results).
    task_data: bool = False
    # The call answers figures over the whole cluster that cannot be limited to a scope
    # (e.g. metrics history): a scoped caller is refused.
    cluster_wide: bool = False


ANYTHING = Resource()


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    error: AppError | None = None  # why not: UNAUTHENTICATED or FORBIDDEN


ALLOW = Decision(True)


class Policy:
    """Role-ladder decisions; see the module docstring for what plugs in here later."""

    def __init__(self, task_data_roles: frozenset[Role] | None = None) -> None:
        self.task_data_roles = (
            frozenset({Role.ADMIN, Role.SUPER_ADMIN})
            if task_data_roles is None
            else task_data_roles
        )

    def may_see_task_data(self, principal: Principal | None) -> bool:
        """Task data (args, kwargs, results, exceptions, tracebacks) is for these roles only."""
        return principal is not None and principal.role in self.task_data_roles

    def decide(
        self,
        principal: Principal | None,
        requirement: Requirement,
        resource: Resource = ANYTHING,
    ) -> Decision:
        if principal is None:
            return Decision(False, Unauthenticated(NO_TOKEN))
        if not principal.has(requirement.role):
            return Decision(
                False,
                Forbidden(
                    f"requires role {requirement.role.claim}; you have {principal.role.claim}"
                ),
            )
        if resource.task_data and not self.may_see_task_data(principal):
            return Decision(
                False,
                Forbidden(
                    "searching task data (filter.text) needs a role that may see task data "
                    f"(TASK_DATA_ROLES); you have {principal.role.claim}"
                ),
            )
        return ALLOW


__all__ = ["ALLOW", "ANYTHING", "NO_TOKEN", "Decision", "Policy", "Requirement", "Resource"]
