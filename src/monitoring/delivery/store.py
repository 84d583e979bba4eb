"""`celery_alert_deliveries`: enqueueing, claiming and completing deliveries, and reading them.

Every write is a short transaction through the one door (src/db/session.py). Claims and
completions are compare-and-set updates, so two processes that both think they deliver (a leader
that lost its lease a moment before noticing) never both send the same row: the one whose claim
matched sends, the other's update touches nothing. A claim lasts the sink's timeout plus a margin;
a row whose claimant vanished mid-send is taken again once its claim has expired.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql import ColumnElement

from src.db.models import AlertDelivery
from src.db.models.base import utcnow
from src.db.session import Database
from src.errors import BadInput
from src.monitoring.delivery.notification import FIRING, RESOLVED, Notification
from src.monitoring.delivery.sinks import Sink

D = AlertDelivery
MAX_PAGE = 200
CURSOR_PREFIX = "delivery:"
CLAIM_MARGIN = 5.0
MAX_ERROR_CHARS = 2000
INSERT_ROWS = 500  # rows per statement: 19 columns each, well under the drivers' 32,767 parameters


class Status(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


OPEN = (Status.PENDING, Status.SENDING, Status.RETRYING)
FINAL = (Status.DELIVERED, Status.FAILED, Status.CANCELLED)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt ended."""

    status: Status  # DELIVERED, RETRYING or FAILED
    response_status: int | None = None
    error: str | None = None
    retry_in: float = 0.0


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    sinks: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    rule_ids: tuple[str, ...] = ()
    alert_key: str | None = None
    after: datetime | None = None  # inclusive, on created_at
    before: datetime | None = None  # exclusive

    def clauses(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.sinks:
            where.append(D.sink.in_(self.sinks))
        if self.statuses:
            where.append(D.status.in_(self.statuses))
        if self.events:
            where.append(D.event.in_(self.events))
        if self.rule_ids:
            where.append(D.rule_id.in_(self.rule_ids))
        if self.alert_key:
            where.append(D.alert_key == self.alert_key)
        if self.after is not None:
            where.append(D.created_at >= self.after)
        if self.before is not None:
            where.append(D.created_at < self.before)
        return where


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    rows: list[AlertDelivery]
    has_next: bool
    cursors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Backlog:
    sink: str
    undelivered: int
    oldest: datetime | None


def encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{row_id}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if not text.startswith(CURSOR_PREFIX):
            raise ValueError(text)
        return int(text.removeprefix(CURSOR_PREFIX))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadInput("after: not a cursor of alertDeliveries", field="after") from None


def _row(notification: Notification, sink: Sink, **values: Any) -> dict[str, Any]:
    alert = notification.alert
    now = utcnow()
    return {
        "notification_id": notification.id,
        "sink": sink.name,
        "sink_kind": sink.kind,
        "event": notification.event,
        "alert_key": alert.key[:512],
        "rule_id": alert.rule_id[:128],
        "severity": alert.severity.value,
        "subject": alert.subject[:255] if alert.subject else None,
        "alert": notification.model_dump(mode="json"),
        "status": Status.PENDING.value,
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
        **values,
    }


class DeliveryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _insert(self) -> Any:
        return pg_insert(D) if self.db.dialect == "postgresql" else sqlite_insert(D)

    async def enqueue(self, notifications: list[Notification], sinks: list[Sink]) -> int:
        """A pending row per notification and sink that wants it; existing rows are kept as they
        are (the same notification enqueued twice is one delivery). Returns rows added."""
        rows = [
            _row(n, s)
            for n in notifications
            for s in sinks
            if s.wants(n.alert.rule_id, n.alert.severity, n.event)
        ]
        added = 0
        async with self.db.session("alert deliveries") as session:
            for start in range(0, len(rows), INSERT_ROWS):
                statement = (
                    self._insert()
                    .values(rows[start : start + INSERT_ROWS])
                    .on_conflict_do_nothing(index_elements=["notification_id", "sink"])
                )
                result: Any = await session.execute(statement)
                added += int(result.rowcount or 0)
        return added

    async def due(self, *, now: datetime, limit: int) -> list[AlertDelivery]:
        """Rows to attempt now: pending or retrying and due, or sending with an expired claim;
        a resolved notification waits for its firing one (same occurrence and sink) to end."""
        statement = (
            select(D)
            .where(
                or_(
                    and_(
                        D.status.in_([Status.PENDING.value, Status.RETRYING.value]),
                        D.next_attempt_at <= now,
                    ),
                    and_(D.status == Status.SENDING.value, D.claim_until < now),
                )
            )
            .order_by(D.id)
            .limit(limit)
        )
        async with self.db.session("alert deliveries") as session:
            rows = list((await session.scalars(statement)).all())
            resolved = [r for r in rows if r.event == RESOLVED]
            if not resolved:
                return rows
            firing_ids = [r.notification_id.rsplit(":", 1)[0] + f":{FIRING}" for r in resolved]
            open_firing = {
                (n, s)
                for n, s in (
                    await session.execute(
                        select(D.notification_id, D.sink).where(
                            D.notification_id.in_(firing_ids),
                            D.status.in_([s.value for s in OPEN]),
                        )
                    )
                ).all()
            }
        return [
            r
            for r in rows
            if r.event != RESOLVED
            or (r.notification_id.rsplit(":", 1)[0] + f":{FIRING}", r.sink) not in open_firing
        ]

    async def claim(
        self, row: AlertDelivery, *, owner: str, seconds: float, now: datetime
    ) -> int | None:
        """Take `row` for one attempt (compare-and-set on its status and attempts); returns the
        attempt's number, or None when someone else changed it first."""
        attempt = row.attempts + 1
        statement = (
            update(D)
            .where(D.id == row.id, D.status == row.status, D.attempts == row.attempts)
            .values(
                status=Status.SENDING.value,
                attempts=attempt,
                claimed_by=owner,
                claim_until=now + timedelta(seconds=seconds + CLAIM_MARGIN),
                last_attempt_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        async with self.db.session("alert deliveries") as session:
            result: Any = await session.execute(statement)
        return attempt if result.rowcount == 1 else None

    async def complete(
        self, row_id: int, *, owner: str, attempt: int, outcome: Outcome, now: datetime
    ) -> bool:
        """Record the attempt's outcome, if the claim is still ours; False when it is not."""
        values: dict[str, Any] = {
            "status": outcome.status.value,
            "response_status": outcome.response_status,
            "last_error": outcome.error[:MAX_ERROR_CHARS] if outcome.error else None,
            "claim_until": None,
        }
        if outcome.status is Status.DELIVERED:
            values["delivered_at"] = now
        if outcome.status is Status.RETRYING:
            values["next_attempt_at"] = now + timedelta(seconds=outcome.retry_in)
        statement = (
            update(D)
            .where(
                D.id == row_id,
                D.claimed_by == owner,
                D.attempts == attempt,
                D.status == Status.SENDING.value,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        async with self.db.session("alert deliveries") as session:
            result: Any = await session.execute(statement)
        return bool(result.rowcount == 1)

    async def cancel(self, row: AlertDelivery, reason: str) -> None:
        statement = (
            update(D)
            .where(D.id == row.id, D.status == row.status, D.attempts == row.attempts)
            .values(status=Status.CANCELLED.value, last_error=reason, claim_until=None)
            .execution_options(synchronize_session=False)
        )
        async with self.db.session("alert deliveries") as session:
            await session.execute(statement)

    async def record(self, notification: Notification, sink: Sink, **values: Any) -> int:
        """Insert one row as given (a test notification, sent at once); returns its id."""
        row = D(**_row(notification, sink, **values))
        async with self.db.session("alert deliveries") as session:
            session.add(row)
            await session.flush()
            return int(row.id)

    async def get(self, row_id: int) -> AlertDelivery | None:
        async with self.db.session("alert deliveries") as session:
            return await session.get(D, row_id)

    async def page(
        self, delivery_filter: DeliveryFilter, *, first: int = 50, after: str | None = None
    ) -> DeliveryPage:
        """Rows matching the filter, newest first; keyset cursors on the id."""
        if first < 1 or first > MAX_PAGE:
            raise BadInput(f"first: between 1 and {MAX_PAGE}", field="first")
        where = delivery_filter.clauses()
        if after:
            where.append(D.id < decode_cursor(after))
        statement = select(D).where(*where).order_by(D.id.desc()).limit(first + 1)
        async with self.db.session("alert deliveries", seconds=5.0) as session:
            rows = list((await session.scalars(statement)).all())
        page = rows[:first]
        return DeliveryPage(page, len(rows) > first, [encode_cursor(r.id) for r in page])

    async def backlog(self) -> list[Backlog]:
        """Undelivered rows per sink, with the oldest one's creation time."""
        statement = (
            select(D.sink, func.count(), func.min(D.created_at))
            .where(D.status.in_([s.value for s in OPEN]))
            .group_by(D.sink)
        )
        async with self.db.session("alert deliveries") as session:
            rows = (await session.execute(statement)).all()
        return [Backlog(sink, int(n), oldest) for sink, n, oldest in rows]

    async def prune(self, *, before: datetime) -> int:
        """Delete finished rows created before `before`."""
        statement = delete(D).where(D.created_at < before, D.status.in_([s.value for s in FINAL]))
        async with self.db.session("alert deliveries") as session:
            result: Any = await session.execute(statement)
        return int(result.rowcount or 0)


__all__ = [
    "FINAL",
    "INSERT_ROWS",
    "OPEN",
    "Backlog",
    "DeliveryFilter",
    "DeliveryPage",
    "DeliveryStore",
    "Outcome",
    "Status",
    "decode_cursor",
    "encode_cursor",
]
