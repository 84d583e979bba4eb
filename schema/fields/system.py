"""System queries."""

from __future__ import annotations

import strawberry

from resolvers import system as resolve
from schema.permissions import IsViewer
from schema.types.system import SystemInfo, SystemStatus


@strawberry.type
class SystemQueries:
    system_status: SystemStatus = strawberry.field(
        resolver=resolve.system_status,
        permission_classes=[IsViewer],
        description="Broker, result backend, database and workers: is the cluster healthy?",
    )
    system_info: SystemInfo = strawberry.field(
        resolver=resolve.system_info, description="Name, version and uptime; needs no token."
    )


__all__ = ["SystemQueries"]
