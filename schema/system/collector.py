"""The event collector's state, as the leading collector last reported it (any replica reads it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry

from src.collector.drops import DROP_REASONS


@strawberry.type(
    description="A time the collector heard nothing because the broker was unreachable."
)
class BrokerGap:  # also a stretch of the stream the reader had to skip (see `error`)
    started_at: datetime
    ended_at: datetime
    duration_seconds: float
    error: str


@strawberry.type(description="Events the collector lost since it started, by where.")
class CollectorDrops:
    intake: int = strawberry.field(
        description="Over the reader's hand-off budget (the event loop was too far behind)."
    )
    frames: int = strawberry.field(description="In cut or malformed broker frames (skipped).")
    overflow: int = strawberry.field(
        description="New tasks over the merge buffer's cap (the database was too slow or down)."
    )
    bus: int = strawberry.field(
        description="Live updates not sent to subscribers (history is not affected)."
    )
    stream_gap: int = strawberry.field(
        description="Durable mode: events never seen (gaps in the producers' numbers: fell off "
        "a stream's cap or dropped by a worker that could not write)."
    )


@strawberry.type(
    description="The durable event source (EVENT_SOURCE=stream): workers' Redis Streams read "
    "through a consumer group, acknowledged after the rows are written."
)
class EventStreamStatus:
    connected: bool
    entries: int = strawberry.field(description="Entries read since the collector started.")
    acked: int = strawberry.field(description="Entries acknowledged after their rows were written.")
    unacked: int = strawberry.field(description="Entries read, waiting for the next write.")
    claimed: int = strawberry.field(description="Entries taken over from a consumer that died.")
    lost: int = strawberry.field(
        description="Events never seen (gaps in the producers' numbers): fell off a stream's cap "
        "or were dropped by a worker that could not write."
    )
    source_dropped: int = strawberry.field(description="Events workers report they dropped.")
    last_error: str | None

    @classmethod
    def from_report(cls, report: Any) -> EventStreamStatus | None:
        if not isinstance(report, dict):
            return None
        return cls(
            connected=bool(report.get("connected")),
            entries=int(report.get("entries") or 0),
            acked=int(report.get("acked") or 0),
            unacked=int(report.get("unacked") or 0),
            claimed=int(report.get("claimed") or 0),
            lost=int(report.get("lost") or 0),
            source_dropped=int(report.get("source_dropped") or 0),
            last_error=report.get("last_error"),
        )


@strawberry.type(description="The leading collector's latest report (every few seconds).")
class CollectorStatus:
    connected: bool = strawberry.field(description="Its event reader is subscribed to the broker.")
    degraded: bool = strawberry.field(
        description="Writes to the database are failing (it retries), or it is dropping events."
    )
    dropping: bool = strawberry.field(
        description="It dropped events in the last few seconds (an alert is raised meanwhile)."
    )
    last_error: str | None
    events: int = strawberry.field(description="Events handled since it started.")
    pending_tasks: int = strawberry.field(description="Task updates waiting for the next flush.")
    dropped: int = strawberry.field(description="Events dropped because a bound was reached.")
    dropped_by_reason: CollectorDrops
    rows_written: int
    last_flush_at: datetime | None
    reported_at: datetime
    recent_gaps: list[BrokerGap]
    event_stream: EventStreamStatus | None = strawberry.field(
        description="The durable event source; null with EVENT_SOURCE=pubsub."
    )
    tasks_marked_unknown: int = strawberry.field(
        description="Tasks no live worker held and whose end was never seen, marked UNKNOWN."
    )
    tasks_settled_from_results: int = strawberry.field(
        description="Tasks left STARTED/RECEIVED by a gap, settled from the result backend."
    )

    @classmethod
    def from_report(cls, report: dict[str, Any], gaps: list[dict[str, Any]]) -> CollectorStatus:
        drops = {k: int(report.get(f"dropped_{k}") or 0) for k in DROP_REASONS}
        return cls(
            connected=bool(report.get("connected")),
            degraded=bool(report.get("degraded")),
            last_error=report.get("last_error"),
            events=int(report.get("events") or 0),
            pending_tasks=int(report.get("pending_tasks") or 0),
            dropping=bool(report.get("dropping")),
            dropped=sum(drops.values()),
            dropped_by_reason=CollectorDrops(**drops),
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
            event_stream=EventStreamStatus.from_report(report.get("stream")),
            tasks_marked_unknown=int((report.get("settle") or {}).get("unknown") or 0),
            tasks_settled_from_results=int((report.get("settle") or {}).get("from_backend") or 0),
        )


def _at(epoch: Any) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if isinstance(epoch, int | float) else None


__all__ = ["BrokerGap", "CollectorDrops", "CollectorStatus", "EventStreamStatus"]
