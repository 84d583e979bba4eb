"""Selections for bulk actions: the frozen set of task ids a preview showed, behind a token.

A bulk revoke or retry runs in two steps so that what runs is what was previewed: the preview
stores the matching ids in Redis under a random token with a short TTL; the execute step takes the
token exactly once (read and delete in one transaction). Expired, reused or foreign tokens are
BAD_INPUT.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis import asyncio as aioredis

from src.errors import BadInput

PREFIX = "celery-admin:selection:"
TTL_SECONDS = 600
MAX_SELECTION = 10_000


@dataclass(frozen=True, slots=True)
class Selection:
    token: str
    purpose: str
    task_ids: list[str]
    expires_at: datetime
    subject: str | None


class SelectionStore:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def create(self, purpose: str, task_ids: list[str], subject: str | None) -> Selection:
        token = secrets.token_urlsafe(24)
        expires_at = datetime.now(UTC) + timedelta(seconds=TTL_SECONDS)
        body = {"purpose": purpose, "ids": task_ids, "subject": subject}
        await self.redis.set(f"{PREFIX}{purpose}:{token}", json.dumps(body), ex=TTL_SECONDS)
        return Selection(token, purpose, task_ids, expires_at, subject)

    async def take(self, token: str, purpose: str, subject: str | None) -> Selection:
        """The selection, consumed; BAD_INPUT when unknown, expired, used, for another action or
        previewed by someone else (what runs is what its caller saw)."""
        if not token or len(token) > 128:
            raise BadInput("selectionToken: not a selection token", field="selectionToken")
        key = f"{PREFIX}{purpose}:{token}"  # a token of another action is simply unknown here
        gone = BadInput(
            f"selectionToken: unknown, expired or already used for {purpose}; preview again",
            field="selectionToken",
        )
        raw = await self.redis.get(key)
        if raw is None:
            raise gone
        body = json.loads(raw)
        if body.get("subject") != subject:
            raise BadInput(
                "selectionToken: previewed by someone else; preview it yourself",
                field="selectionToken",
            )
        if not await self.redis.delete(key):  # two callers at once: only one deletes it
            raise gone
        return Selection(token, purpose, list(body["ids"]), datetime.now(UTC), body.get("subject"))


__all__ = ["MAX_SELECTION", "TTL_SECONDS", "Selection", "SelectionStore"]
