"""`alertDeliveries(filter, first, after)`: every delivery attempt's record, newest first."""

from __future__ import annotations

from schema.core.context import Info
from schema.core.fields import query
from schema.monitoring.delivery import AlertDeliveryConnection, AlertDeliveryFilter
from src.auth.roles import Role


@query(Role.ADMIN, cluster_wide=True)
async def alert_deliveries(
    info: Info,
    filter: AlertDeliveryFilter | None = None,
    first: int = 50,
    after: str | None = None,
) -> AlertDeliveryConnection:
    """Alert notifications per sink (firing, resolved, test): status, attempts, last error."""
    store = info.context.monitoring.delivery.store
    page = await store.page((filter or AlertDeliveryFilter()).to_domain(), first=first, after=after)
    return AlertDeliveryConnection.from_page(page)


__all__ = ["alert_deliveries"]
