"""The event collector's state, as the leading collector last reported it (any replica reads it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry


@strawberry.type(
    description="A time the collector heard nothing because the broker was unreachable."
)
class BrokerGap:
    started_at: datetime
    ended_at: datetime
    duration_seconds: float
    error: str


@strawberry.type(description="The leading collector's latest report (every few seconds).")
class CollectorStatus:
    connected: bool = strawberry.field(description="Its event reader is subscribed to the broker.")
    degraded: bool = strawberry.field(
        description="Writes to the database are failing (it retries)."
    )
    last_error: str | None
    events: int = strawberry.field(description="Events handled since it started.")
    pending_tasks: int = strawberry.field(description="Task updates waiting for the next flush.")
    dropped: int = strawberry.field(description="Events dropped because a bound was reached.")
    rows_written: int
    last_flush_at: datetime | None
    reported_at: datetime
    recent_gaps: list[BrokerGap]

    @classmethod
    def from_report(cls, report: dict[str, Any], gaps: list[dict[str, Any]]) -> CollectorStatus:
        return cls(
            connected=bool(report.get("connected")),
            degraded=bool(report.get("degraded")),
            last_error=report.get("last_error"),
            events=int(report.get("events") or 0),
            pending_tasks=int(report.get("pending_tasks") or 0),
            dropped=int(report.get("dropped_overflow") or 0)
            + int(report.get("dropped_intake") or 0),
            rows_written=int(report.get("rows_written") or 0),
            last_flush_at=_at(report.get("last_flush_at")),
            reported_at=_at(report.get("updated_at")) or datetime.now(UTC),
            recent_gaps=[
                BrokerGap(
                    started_at=_at(g["start"]) or datetime.now(UTC),
                    ended_at=_at(g["end"]) or datetime.now(UTC),
                    duration_seconds=float(g.get("duration") or 0.0),
                    error=str(g.get("error") or ""),
                )
                for g in gaps
            ],
        )


def _at(epoch: Any) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if isinstance(epoch, int | float) else None


__all__ = ["BrokerGap", "CollectorStatus"]
