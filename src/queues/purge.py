"""Purging a queue: every waiting message, priority sub-queues included, with the depth before and
after for the audit record."""

from __future__ import annotations

from src.control.cluster_view import ClusterView
from src.control.result import CommandResult
from src.errors import BadInput, NotFound
from src.queues.catalog import QueueCatalog


async def purge_queue(
    queues: QueueCatalog, view: ClusterView, name: str, *, confirm: bool
) -> CommandResult:
    if not confirm:
        raise BadInput(
            "confirm: purging deletes messages for good; pass confirm: true", field="confirm"
        )
    found = await queues.get(view, name)
    if found is None:
        raise NotFound(f"unknown queue {name!r}", field="name")
    before = found.depth.messages
    purged = await queues.backend.purge(name)
    after = (await queues.backend.depths([name]))[name].messages
    return CommandResult(
        state_before={"queue": name, "messages": before, "by_priority": found.depth.by_priority},
        state_after={"queue": name, "messages": after},
        observed={"purged": purged},
        data={"purged": purged, "queue": name},
    )


__all__ = ["purge_queue"]
