"""The control plane of one process: broadcasts, task lookup, revoke registry and selections.

Built once by the composition root (src/runtime.py) from the parts it needs; the root registers
`on_worker_online` as a worker-online hook, calls `start()` in `Runtime.start` and `stop_listening()`
then `close()` (bounded) in `Runtime.stop`.

With Redis for celery-admin's state it also keeps revokes alive across worker restarts: the mingle
responder (a thread answering starting workers' `hello` with the durable revokes) and the re-send
until acknowledged (asked for on every worker-online hook and for every worker counted alive that
missed a revoke, src/control/revoke_followup.py).
"""

from __future__ import annotations

import asyncio
import contextlib

from celery import Celery
from redis import asyncio as aioredis

from src.control.broadcast import Controller
from src.control.errors import Unsupported
from src.control.inspector import InspectKind, Inspector
from src.control.locate import TaskLocator
from src.control.mingle_responder import MingleResponder
from src.control.revoke_replay import RevokeReplayer
from src.control.revokes import RevokeRegistry
from src.control.selection import SelectionStore
from src.queues.catalog import QueueCatalog
from src.task_store.query import TaskStore


class ControlPlane:
    def __init__(
        self,
        *,
        app: Celery,
        inspector: Inspector,
        queues: QueueCatalog,
        tasks: TaskStore,
        redis: aioredis.Redis | None,
        redis_url: str | None,
        timeout: float,
        remove_queued: bool = True,
    ) -> None:
        """`redis` (on the event loop) and `redis_url` (for the responder's thread) name the same
        Redis for celery-admin's state; `remove_queued` is REVOKE_REMOVE_QUEUED."""
        self.app = app
        self.inspector = inspector
        self.queues = queues
        self.tasks = tasks
        self.remove_queued = remove_queued
        self.controller = Controller(app, inspector, timeout=timeout)
        self.locator = TaskLocator(app, inspector, self.controller, queues, tasks)
        self._redis = redis
        self.replayer = (
            RevokeReplayer(lambda: self.revokes, self.controller, timeout=timeout)
            if redis is not None
            else None
        )
        self.responder = (
            MingleResponder(app, redis_url, on_hello=self._on_hello)
            if redis is not None and redis_url
            else None
        )
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Answer starting workers' hellos from now on; call on the event loop."""
        self._loop = asyncio.get_running_loop()
        if self.responder is not None:
            self.responder.start()

    @property
    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            raise Unsupported(
                "bulk selections and revoke records need Redis: set PUBSUB_URL (or use a Redis broker)"
            )
        return self._redis

    @property
    def revokes(self) -> RevokeRegistry:
        return RevokeRegistry(self.redis)

    @property
    def selections(self) -> SelectionStore:
        return SelectionStore(self.redis)

    def invalidate(self, *kinds: InspectKind) -> None:
        """Cached inspect replies a command changed (none given: all of them)."""
        self.inspector.invalidate(*kinds)

    def _on_hello(self, hostname: str) -> None:
        """From the responder's thread: a worker is starting, so broadcasts wait for it."""
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed: the process is stopping
            loop.call_soon_threadsafe(self.inspector.observe_workers, [hostname])

    async def on_worker_online(self, hostname: str) -> None:
        self.inspector.observe_workers([hostname])  # broadcasts wait for it from now on
        if self.replayer is not None:
            self.replayer.notice(hostname)

    def stop_listening(self) -> None:
        """Tell the responder's thread to stop (it notices within a second); `close` joins it."""
        if self.responder is not None:
            self.responder.stop_listening()

    async def close(self) -> None:
        """Stop the responder and the re-sends (the Redis client belongs to the runtime)."""
        if self.responder is not None:
            self.stop_listening()
            await asyncio.to_thread(self.responder.close)
        if self.replayer is not None:
            await self.replayer.close()


__all__ = ["ControlPlane"]
