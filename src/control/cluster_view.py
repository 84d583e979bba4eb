"""One request's view of the cluster: each inspect kind asked at most once per request.

Fields of many workers all read from the same replies; the process-wide `Inspector` below shares
in-flight broadcasts and a short cache between requests.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from src.control.inspector import InspectKind, Inspector, InspectReply


class ClusterView:
    def __init__(self, inspector: Inspector) -> None:
        self._inspector = inspector
        self._memo: dict[InspectKind, asyncio.Future[InspectReply]] = {}
        self._asked_at = time.monotonic()

    async def reply(self, kind: InspectKind) -> InspectReply:
        future = self._memo.get(kind)
        if future is None:
            future = asyncio.ensure_future(self._inspector.get(kind, asked_at=self._asked_at))
            self._memo[kind] = future
        return await asyncio.shield(future)

    async def of(self, kind: InspectKind, hostname: str) -> Any | None:
        """One worker's reply to `kind`, or None when it did not answer."""
        return (await self.reply(kind)).replies.get(hostname)

    def online_now(self) -> list[str]:
        """Workers counted alive from what this process already knows (discovery pings,
        heartbeats, recent replies), without waiting; a stale stats reply is refreshed in the
        background for the next caller."""
        self._inspector.refresh(InspectKind.STATS)
        return sorted(self._inspector.known_workers())

    async def hostnames(self) -> list[str]:
        """Workers that answer right now (by their stats reply)."""
        return sorted((await self.reply(InspectKind.STATS)).replies)


__all__ = ["ClusterView"]
