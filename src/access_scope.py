"""What a scoped caller may touch: plain data shared by the task filter (src/task_filter.py, which
applies it to tasks in memory and, through src/task_store/filters.py, in SQL) and the access
policy (src/auth/scopes.py, which applies it to the queues, workers and task names a field acts on).

A scope is a union of rules (one per matching role binding). A task is in a rule when its queue is
one of the rule's queues (none listed: any queue) and its name matches one of the rule's name
patterns (none listed: any name). Queues and workers as targets of an action need naming: a queue
only when a rule lists it, a worker only when its hostname matches a rule's worker pattern.
Patterns know `*` and `?` only, so the same pattern means the same in memory and in SQL LIKE.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

PATTERN = re.compile(r"^[^\[\]]{1,200}$")  # no [] classes: they have no LIKE counterpart


@dataclass(frozen=True, slots=True)
class ScopeRule:
    binding: str
    queues: tuple[str, ...] = ()
    task_names: tuple[str, ...] = ()
    workers: tuple[str, ...] = ()

    def allows_task(self, queue: Any, name: Any) -> bool:
        if self.queues and queue not in self.queues:
            return False
        return not self.task_names or (
            isinstance(name, str) and any(fnmatchcase(name, p) for p in self.task_names)
        )


@dataclass(frozen=True, slots=True)
class AccessScope:
    rules: tuple[ScopeRule, ...]

    def allows_task(self, task: Mapping[str, Any]) -> bool:
        return any(r.allows_task(task.get("queue"), task.get("name")) for r in self.rules)

    def allows_queue(self, queue: str) -> bool:
        return any(queue in r.queues for r in self.rules)

    def allows_worker(self, hostname: str) -> bool:
        return any(fnmatchcase(hostname, p) for r in self.rules for p in r.workers)

    def allows_task_name(self, name: str) -> bool:
        return any(
            r.task_names and any(fnmatchcase(name, p) for p in r.task_names) for r in self.rules
        )

    def covers(self, queues: tuple[str, ...], names: tuple[str, ...]) -> bool:
        """Is every task of a selection by exact queues and names (none listed: any) in one rule?
        For figures computed over such a selection (an alert rule's): shown only when the
        whole selection is in scope, since a count cannot be split by task afterwards."""
        return any(
            (not r.queues or (queues and set(queues) <= set(r.queues)))
            and (
                not r.task_names
                or (names and all(any(fnmatchcase(n, p) for p in r.task_names) for n in names))
            )
            for r in self.rules
        )


def like_of(pattern: str) -> str:
    """The LIKE pattern (escape character: backslash) matching what `pattern` matches."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


__all__ = ["PATTERN", "AccessScope", "ScopeRule", "like_of"]
