"""Queues of the cluster: names from the broker, the workers and the app; depths from the broker."""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery

from src.brokers import QueueBackend, QueueDepth
from src.cluster_view import ClusterView
from src.control.inspector import InspectKind


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
        for queue in queues or ():
            name = queue.get("name") if isinstance(queue, dict) else None
            if name:
                consumers.setdefault(str(name), []).append(hostname)
    return consumers


async def list_queues(app: Celery, backend: QueueBackend, view: ClusterView) -> list[QueueInfo]:
    consumers = await consumers_by_queue(view)
    names = sorted((await backend.discover()) | set(consumers) | configured_queue_names(app))
    depths = await backend.depths(names)
    return [QueueInfo(name, depths[name], consumers.get(name, [])) for name in names]


async def get_queue(
    app: Celery, backend: QueueBackend, view: ClusterView, name: str
) -> QueueInfo | None:
    """The named queue, or None when neither the broker nor any worker nor the app knows it."""
    consumers = await consumers_by_queue(view)
    known = (await backend.discover()) | set(consumers) | configured_queue_names(app)
    if name not in known:
        return None
    depth = (await backend.depths([name]))[name]
    return QueueInfo(name, depth, consumers.get(name, []))


__all__ = ["QueueInfo", "configured_queue_names", "consumers_by_queue", "get_queue", "list_queues"]
