"""`testAlertSink(name)`: send a test notification to one configured sink, now."""

from __future__ import annotations

from schema.core.context import Info
from schema.core.fields import mutation
from schema.monitoring.delivery import AlertDelivery, TestAlertSinkPayload
from src.auth.roles import Role
from src.control.result import CommandResult
from src.monitoring.delivery.deliverer import DeliveryFailed
from src.monitoring.delivery.sinks import ALERT_SINKS
from src.monitoring.delivery.store import Status


@mutation(Role.ADMIN, target=ALERT_SINKS.name)
async def test_alert_sink(info: Info, name: str) -> TestAlertSinkPayload:
    """Send a test notification to the sink called `name` (enabled or not), once, without
    retrying; `receiverStatus` is the receiver's answer, and a receiver that refused or could not
    be reached is a DELIVERY_FAILED error. The attempt is recorded in alertDeliveries."""
    actor = info.context.caller().subject
    tested = await info.context.monitoring.delivery.test_sink(name, actor=actor)
    row, outcome = tested.delivery, tested.outcome
    summary = {
        "delivery": row.id,
        "sink": row.sink,
        "kind": row.sink_kind,
        "status": row.status,
        "receiverStatus": outcome.response_status,
        "error": outcome.error,
    }
    failed = outcome.status is not Status.DELIVERED
    return TestAlertSinkPayload.of(
        CommandResult(
            errors=[DeliveryFailed(f"{name}: {outcome.error}", field="name")] if failed else [],
            observed=summary,
            data=summary,
        ),
        delivery=AlertDelivery.from_row(row),
        receiver_status=outcome.response_status,
    )


__all__ = ["test_alert_sink"]
