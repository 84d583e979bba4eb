"""Queues of the cluster: names from the broker, the workers and the app; depths from the broker."""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery

from src.brokers import QueueBackend, QueueDepth
from src.control.cluster_view import ClusterView
from src.control.inspector import InspectKind
from src.workers.replies import queue_names


@dataclass(frozen=True, slots=True)
class QueueInfo:
    name: str
    depth: QueueDepth
    consumers: list[str]  # hostnames of workers consuming it


def configured_queue_names(app: Celery) -> set[str]:
    names = {str(app.conf.task_default_queue or "celery")}
    for queue in app.conf.task_queues or ():
        names.add(str(getattr(queue, "name", queue)))
    return names


async def consumers_by_queue(view: ClusterView) -> dict[str, list[str]]:
    reply = await view.reply(InspectKind.ACTIVE_QUEUES)
    consumers: dict[str, list[str]] = {}
    for hostname, queues in sorted(reply.replies.items()):
        for name in queue_names(queues):
            consumers.setdefault(name, []).append(hostname)
    return consumers


class QueueCatalog:
    """The queues of one cluster: the broker's reader (`backend`) and the app's declared names."""

    def __init__(self, app: Celery, backend: QueueBackend) -> None:
        self.app = app
        self.backend = backend

    def configured(self) -> set[str]:
        return configured_queue_names(self.app)

    async def names(self) -> set[str]:
        """Queues the broker knows of or the app declares (not asking the workers)."""
        return (await self.backend.discover()) | self.configured()

    async def list(self, view: ClusterView) -> list[QueueInfo]:
        consumers = await consumers_by_queue(view)
        names = sorted((await self.names()) | set(consumers))
        depths = await self.backend.depths(names)
        return [QueueInfo(name, depths[name], consumers.get(name, [])) for name in names]

    async def get(self, view: ClusterView, name: str) -> QueueInfo | None:
        """The named queue, or None when neither the broker nor any worker nor the app knows it."""
        consumers = await consumers_by_queue(view)
        if name not in (await self.names()) | set(consumers):
            return None
        depth = (await self.backend.depths([name]))[name]
        return QueueInfo(name, depth, consumers.get(name, []))


__all__ = ["QueueCatalog", "QueueInfo", "configured_queue_names", "consumers_by_queue"]
