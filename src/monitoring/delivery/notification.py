"""A notification: one event ("firing", "resolved", or "test") of one alert occurrence.

Its id is derived from what it is, not from who noticed it: the alert's key, the time it was
raised (an occurrence) and the event. So the same notification handed over twice (a leader that
died after storing but before acknowledging it) is one notification, and receivers can use the id
(sent with every delivery) to drop a repeat.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from src.monitoring.alert_rules import Severity
from src.monitoring.alerts import Alert, AlertChange

Event = Literal["firing", "resolved", "test"]
FIRING: Event = "firing"
RESOLVED: Event = "resolved"
TEST: Event = "test"
TEST_RULE = "celery-admin-test"


def occurrence_of(alert: Alert) -> str:
    """One raise of one alert (a key raised again later is another occurrence)."""
    text = f"{alert.key}\n{alert.raised_at.astimezone(UTC).isoformat()}"
    return hashlib.sha256(text.encode()).hexdigest()[:40]


class Notification(BaseModel):
    id: str = Field(max_length=64)
    occurrence: str
    event: Event
    alert: Alert
    created_at: datetime

    @classmethod
    def of(cls, change: AlertChange) -> Notification:
        event: Event = FIRING if change.kind == "raised" else RESOLVED
        occurrence = occurrence_of(change.alert)
        return cls(
            id=f"{occurrence}:{event}",
            occurrence=occurrence,
            event=event,
            alert=change.alert,
            created_at=datetime.now(UTC),
        )

    @classmethod
    def test(cls, sink: str, actor: str | None) -> Notification:
        now = datetime.now(UTC)
        occurrence = uuid.uuid4().hex
        by = f" by {actor}" if actor else ""
        alert = Alert(
            key=f"{TEST_RULE}|{sink}",
            rule_id=TEST_RULE,
            kind="test",
            severity=Severity.INFO,
            subject=sink,
            message=f"Test notification from celery-admin to sink {sink!r} (requested{by}).",
            raised_at=now,
        )
        return cls(
            id=f"{occurrence}:{TEST}",
            occurrence=occurrence,
            event=TEST,
            alert=alert,
            created_at=now,
        )


__all__ = ["FIRING", "RESOLVED", "TEST", "TEST_RULE", "Event", "Notification", "occurrence_of"]
