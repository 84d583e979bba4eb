"""Alert rules, kept in celery_system_config under `alerts.rules` (a validated JSON list).

Each rule has an id, a severity and hysteresis: the condition must hold `for_seconds` before the
alert is raised, and be clear `clear_for_seconds` before it is resolved; threshold rules also clear
only below a lower `clear_below` level (default 80% of the threshold), so a value hovering around
the threshold does not flap.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter

from src.system.config import ConfigStore, declare
from src.task_filter import TaskFilter

DEFAULT_CLEAR_RATIO = 0.8


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class TaskScope(BaseModel):
    """Which tasks a rule looks at: a subset of THE task filter (src/task_filter.py)."""

    model_config = ConfigDict(extra="forbid")
    names: list[str] = Field(default_factory=list, max_length=100)
    queues: list[str] = Field(default_factory=list, max_length=100)
    workers: list[str] = Field(default_factory=list, max_length=100)

    def to_filter(self) -> TaskFilter:
        return TaskFilter(
            names=tuple(self.names), queues=tuple(self.queues), workers=tuple(self.workers)
        )


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    severity: Severity = Severity.WARNING
    enabled: bool = True
    for_seconds: float = Field(0.0, ge=0, le=86400)
    clear_for_seconds: float = Field(0.0, ge=0, le=86400)


class QueueBacklogRule(_Rule):
    """A queue holds more than `threshold` waiting messages (one alert per queue)."""

    kind: Literal["queue_backlog"] = "queue_backlog"
    queues: list[str] = Field(default_factory=list, max_length=100)  # empty: every queue
    threshold: int = Field(ge=0)
    clear_below: int | None = Field(None, ge=0)

    def clear_level(self) -> float:
        return (
            self.clear_below
            if self.clear_below is not None
            else self.threshold * DEFAULT_CLEAR_RATIO
        )


class FailureRateRule(_Rule):
    """More than `threshold` (0..1) of the tasks finished in the window failed."""

    kind: Literal["failure_rate"] = "failure_rate"
    window_seconds: float = Field(300.0, ge=10, le=86400)
    threshold: float = Field(gt=0, le=1)
    clear_below: float | None = Field(None, ge=0, le=1)
    min_tasks: int = Field(10, ge=1)
    scope: TaskScope = Field(default_factory=TaskScope)

    def clear_level(self) -> float:
        return (
            self.clear_below
            if self.clear_below is not None
            else self.threshold * DEFAULT_CLEAR_RATIO
        )


class WorkerOfflineRule(_Rule):
    """A worker that was online no longer answers (one alert per worker)."""

    kind: Literal["worker_offline"] = "worker_offline"
    # One missed inspect reply (a busy worker, a slow broker) is not an outage.
    for_seconds: float = Field(30.0, ge=0, le=86400)
    workers: list[str] = Field(default_factory=list, max_length=500)  # empty: every worker seen
    forget_after_seconds: float = Field(86400.0, ge=60, le=7 * 86400)


class TaskStuckRule(_Rule):
    """Tasks have been STARTED for longer than `seconds` (one alert per rule, with the count)."""

    kind: Literal["task_stuck"] = "task_stuck"
    seconds: float = Field(ge=1)
    scope: TaskScope = Field(default_factory=TaskScope)


class PeriodicMissedRule(_Rule):
    """A periodic entry's due run was not sent within the grace (one alert per entry; see
    src/periodic/missed.py). The grace is per entry (`grace_by_entry`), else `grace_seconds`,
    else the configured `periodic.entry_grace_seconds` / `periodic.grace_seconds`."""

    kind: Literal["periodic_missed"] = "periodic_missed"
    entries: list[str] = Field(default_factory=list, max_length=1000)  # empty: every entry
    grace_seconds: float | None = Field(None, ge=0, le=7 * 86400)
    grace_by_entry: dict[str, float] = Field(default_factory=dict, max_length=1000)


class CollectorDroppingRule(_Rule):
    """The collector is dropping events (its intake, merge buffer, parser or live bus): history
    or live updates are incomplete while it lasts. One alert, with the counts by reason. Without
    a configured rule of this kind, `DEFAULT_COLLECTOR_DROPPING` applies."""

    kind: Literal["collector_dropping"] = "collector_dropping"
    severity: Severity = Severity.CRITICAL
    clear_for_seconds: float = Field(30.0, ge=0, le=86400)


DEFAULT_COLLECTOR_DROPPING = CollectorDroppingRule(id="collector-dropping")


class AuthFailuresRule(_Rule):
    """At least `threshold` failed authentications from one source IP, or for one claimed
    subject, within `window_seconds` (one alert per source; counted by src/auth/failures.py)."""

    kind: Literal["auth_failures"] = "auth_failures"
    threshold: int = Field(10, ge=1, le=1_000_000)
    window_seconds: float = Field(300.0, ge=10, le=86400)
    by: list[Literal["ip", "subject"]] = Field(
        default_factory=lambda: ["ip", "subject"],  # type: ignore[arg-type]
        min_length=1,
    )


AnyRule = (
    QueueBacklogRule
    | FailureRateRule
    | WorkerOfflineRule
    | TaskStuckRule
    | PeriodicMissedRule
    | CollectorDroppingRule
    | AuthFailuresRule
)
AlertRule = Annotated[AnyRule, Field(discriminator="kind")]
MAX_RULES = 200
_RULES = TypeAdapter(list[AlertRule])


def _normalise(value: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rules = _RULES.validate_python(value)
    if len(rules) > MAX_RULES:
        raise ValueError(f"at most {MAX_RULES} rules")
    ids = [r.id for r in rules]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate rule ids: {', '.join(duplicates)}")
    return [r.model_dump(mode="json") for r in rules]


ALERT_RULES = declare(
    "alerts.rules",
    Annotated[list[dict[str, Any]], AfterValidator(_normalise)],
    [],
    "Alert rules: a list of {kind: queue_backlog|failure_rate|worker_offline|task_stuck|"
    "periodic_missed|auth_failures|collector_dropping, id, ...}.",
)


def parse_rules(value: Any) -> list[AnyRule]:
    return list(_RULES.validate_python(value or []))


async def load_rules(config: ConfigStore) -> list[AnyRule]:
    """The enabled rules, plus the default collector_dropping rule unless one is configured."""
    rules = parse_rules(await config.get(ALERT_RULES.name))
    if not any(isinstance(r, CollectorDroppingRule) for r in rules):
        rules.append(DEFAULT_COLLECTOR_DROPPING)
    return [r for r in rules if r.enabled]


__all__ = [
    "ALERT_RULES",
    "DEFAULT_COLLECTOR_DROPPING",
    "AlertRule",
    "AnyRule",
    "AuthFailuresRule",
    "CollectorDroppingRule",
    "FailureRateRule",
    "PeriodicMissedRule",
    "QueueBacklogRule",
    "Severity",
    "TaskScope",
    "TaskStuckRule",
    "WorkerOfflineRule",
    "load_rules",
    "parse_rules",
]
