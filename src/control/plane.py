"""The control plane of one process: broadcasts, task lookup, revoke registry, selections, audit.

Built once with the Services (`Services.control`); it registers the revoke replay as a
worker-online hook and closes its Redis client on shutdown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from redis import asyncio as aioredis

from src.audit.service import AuditService
from src.control.broadcast import Controller
from src.control.errors import Unsupported
from src.control.locate import TaskLocator
from src.control.revokes import RevokeRegistry
from src.control.selection import SelectionStore

if TYPE_CHECKING:
    from src.services import Services


class ControlPlane:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.controller = Controller(
            services.app, services.inspector, timeout=services.settings.inspect_timeout
        )
        self.locator = TaskLocator(
            services.app, services.inspector, self.controller, services.queues, services.sessions
        )
        self.audit = AuditService(services.sessions)
        url = services.settings.pubsub_redis_url
        self._redis = (
            aioredis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
            if url
            else None
        )

    @classmethod
    def attach(cls, services: Services) -> ControlPlane:
        plane = cls(services)
        services.on_worker_online(plane.on_worker_online)
        services.on_close(plane.close)
        return plane

    @property
    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            raise Unsupported(
                "bulk selections and revoke records need Redis: set PUBSUB_URL (or use a Redis broker)"
            )
        return self._redis

    @property
    def revokes(self) -> RevokeRegistry:
        return RevokeRegistry(self.redis, self.controller)

    @property
    def selections(self) -> SelectionStore:
        return SelectionStore(self.redis)

    async def on_worker_online(self, hostname: str) -> None:
        if self._redis is not None:
            await self.revokes.replay(hostname)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


__all__ = ["ControlPlane"]
