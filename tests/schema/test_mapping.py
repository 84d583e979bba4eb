"""The one mapper from domain objects to GraphQL types (schema/core/mapping.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import strawberry
from strawberry.types.base import get_object_definition

from schema.core.mapping import build
from schema.monitoring.types import Alert, MetricsSample
from schema.tasks.types import Task
from src.db.models.tasks import TaskRecord
from src.monitoring.alert_rules import Severity
from src.monitoring.alerts import Alert as AlertModel
from src.monitoring.sample import MetricsSample as SampleModel

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_a_task_shows_every_column_of_its_record_by_name() -> None:
    columns = {c.key for c in TaskRecord.__table__.columns}
    record = TaskRecord(
        **{
            key: NOW if key.endswith("_at") or key in ("eta", "expires") else None
            for key in columns
        }
    )
    record.task_id, record.state, record.retries, record.name = "t1", "SUCCESS", 2, "demo.add"
    task = Task.from_record(record)
    assert task.id == "t1" and task.retries == 2 and task.name == "demo.add"
    for field in get_object_definition(Task, strict=True).fields:
        if field.base_resolver is None and field.python_name != "id":
            assert field.python_name in columns, f"Task.{field.python_name} is not a column"
            assert getattr(task, field.python_name) == getattr(record, field.python_name)


def test_nested_types_lists_and_enums_are_converted() -> None:
    sample = SampleModel.model_validate(
        {
            "taken_at": NOW,
            "interval_seconds": 5,
            "sampler": {"host": "h", "pid": 1},
            "queues": [{"name": "q", "length": 3, "oldest_age_seconds": 2.5}],
            "workers": [{"hostname": "w@h", "active": 1, "pool_size": 4}],
            "throughput": {"window_seconds": 300, "by_state": {"SUCCESS": 2}},
        }
    )
    mapped = MetricsSample.from_model(sample)
    assert mapped.sampler.host == "h" and mapped.queues[0].length == 3
    assert mapped.workers[0].pool_size == 4 and mapped.max_wait_seconds == 2.5
    assert [(s.state, s.count) for s in mapped.throughput.by_state] == [("SUCCESS", 2)]
    alert = AlertModel(
        key="k", rule_id="r", kind="queue_backlog", severity=Severity.CRITICAL, message="m",
        raised_at=NOW,
    )  # fmt: skip
    shown = Alert.from_model(alert)
    assert shown.severity is Severity.CRITICAL and shown.active is True


@strawberry.type
class _Loose:
    text: str | None
    count: int | None
    ratio: float | None


def test_lenient_mode_for_loose_payloads() -> None:
    loose = build(_Loose, {"text": {"a": 1}, "count": True, "ratio": 2}, lenient=True)
    assert (loose.text, loose.count, loose.ratio) == ("{'a': 1}", None, 2.0)
    assert build(_Loose, {}, lenient=True) == _Loose(text=None, count=None, ratio=None)


@dataclass
class _Partial:
    text: str


def test_a_missing_field_is_an_error_unless_overridden() -> None:
    with pytest.raises(TypeError, match="count"):
        build(_Loose, _Partial("x"))
    assert build(_Loose, _Partial("x"), count=1, ratio=None).count == 1
