"""Alert delivery types: one record per notification and sink, paged by keyset cursor, and the
payload of a test send."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.relay import PageInfo

from schema.core.mapping import build
from schema.core.payloads import MutationPayload
from schema.monitoring.types import AlertSeverityEnum  # noqa: F401  (registers Severity)
from src.db.models import AlertDelivery as DeliveryRow
from src.errors import BadInput
from src.monitoring.alert_rules import Severity
from src.monitoring.delivery.store import DeliveryFilter, DeliveryPage, Status

AlertDeliveryStatusEnum = strawberry.enum(
    Status,
    name="AlertDeliveryStatus",
    description="Where a delivery stands: PENDING and RETRYING wait for their next attempt, "
    "SENDING is under way, DELIVERED, FAILED (gave up, or the receiver refused for good) and "
    "CANCELLED (the sink was removed or disabled) are final.",
)

MAX_LIST = 50


@strawberry.type(description="One notification (firing, resolved or test) to one sink.")
class AlertDelivery:
    id: strawberry.ID
    notification_id: str = strawberry.field(
        description="Sent with every attempt (X-Celery-Admin-Notification): receivers drop "
        "repeats by it."
    )
    sink: str
    sink_kind: str = strawberry.field(description="webhook, slack or alertmanager.")
    event: str = strawberry.field(description="firing, resolved or test.")
    alert_key: str
    rule_id: str
    severity: Severity
    subject: str | None
    status: Status
    attempts: int
    response_status: int | None = strawberry.field(
        description="The receiver's HTTP status at the last attempt (null: no answer)."
    )
    last_error: str | None = strawberry.field(description="Why the last attempt failed.")
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None = strawberry.field(
        description="When it is tried again (while PENDING or RETRYING)."
    )
    delivered_at: datetime | None

    @classmethod
    def from_row(cls, row: DeliveryRow) -> AlertDelivery:
        waiting = row.status in (Status.PENDING.value, Status.RETRYING.value)
        return build(
            cls,
            row,
            id=strawberry.ID(str(row.id)),
            next_attempt_at=row.next_attempt_at if waiting else None,
        )


@strawberry.type
class AlertDeliveryEdge:
    cursor: str
    node: AlertDelivery


@strawberry.type(description="Alert deliveries, newest first.")
class AlertDeliveryConnection:
    edges: list[AlertDeliveryEdge]
    page_info: PageInfo

    @classmethod
    def from_page(cls, page: DeliveryPage) -> AlertDeliveryConnection:
        edges = [
            AlertDeliveryEdge(cursor=c, node=AlertDelivery.from_row(r))
            for r, c in zip(page.rows, page.cursors, strict=True)
        ]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next,
                has_previous_page=False,
                start_cursor=page.cursors[0] if page.cursors else None,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
        )


@strawberry.input(description="Which alert deliveries: every given field must match.")
class AlertDeliveryFilter:
    sinks: list[str] | None = None
    statuses: list[Status] | None = None
    events: list[str] | None = strawberry.field(default=None, description="firing, resolved, test.")
    rule_ids: list[str] | None = None
    alert_key: str | None = None
    after: datetime | None = strawberry.field(default=None, description="Created at or after.")
    before: datetime | None = strawberry.field(default=None, description="Created before.")

    def to_domain(self) -> DeliveryFilter:
        for name in ("sinks", "statuses", "events", "rule_ids"):
            if len(getattr(self, name) or []) > MAX_LIST:
                raise BadInput(f"{name}: at most {MAX_LIST} values", field=name)
        if self.after and self.before and self.after >= self.before:
            raise BadInput("'after' must be earlier than 'before'", field="after")
        return DeliveryFilter(
            sinks=tuple(self.sinks or ()),
            statuses=tuple(s.value for s in self.statuses or ()),
            events=tuple(self.events or ()),
            rule_ids=tuple(self.rule_ids or ()),
            alert_key=self.alert_key,
            after=self.after,
            before=self.before,
        )


@strawberry.type(description="A test notification sent to one sink.")
class TestAlertSinkPayload(MutationPayload):
    delivery: AlertDelivery | None = strawberry.field(
        default=None, description="The recorded attempt."
    )
    receiver_status: int | None = strawberry.field(
        default=None, description="The receiver's HTTP status (null: it did not answer)."
    )


__all__ = [
    "AlertDelivery",
    "AlertDeliveryConnection",
    "AlertDeliveryEdge",
    "AlertDeliveryFilter",
    "AlertDeliveryStatusEnum",
    "TestAlertSinkPayload",
]
