"""Control broadcasts off the event loop, on the inspector's bounded thread pool.

Celery's control calls block for up to their timeout and kombu's connection pool deadlocks with
about ten concurrent calls, so every broadcast here runs in the same small executor as inspect.
A broadcast to named workers stops as soon as each has answered (`limit=`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from celery import Celery

from src.control.errors import WorkerUnavailable
from src.control.inspector import Inspector
from src.errors import BadInput, BrokerUnavailable, NotFound

log = logging.getLogger(__name__)

MAX_TARGETS = 200


@dataclass(frozen=True, slots=True)
class WorkerReply:
    hostname: str
    ok: bool
    message: str | None
    data: Any = None


def parse_reply(hostname: str, value: Any) -> WorkerReply:
    if isinstance(value, dict) and "error" in value:
        return WorkerReply(hostname, False, str(value["error"]), value)
    if isinstance(value, dict) and "ok" in value:
        ok = value["ok"]
        return WorkerReply(hostname, True, ok if isinstance(ok, str) else None, value)
    return WorkerReply(hostname, True, None, value)


class Controller:
    """Sends control commands; see the module docstring."""

    def __init__(self, app: Celery, inspector: Inspector, *, timeout: float = 1.0) -> None:
        self.app = app
        self.inspector = inspector
        self.timeout = timeout

    async def call(
        self,
        command: str,
        arguments: dict[str, Any] | None = None,
        *,
        destination: list[str] | None = None,
        reply: bool = True,
        wait: float | None = None,
    ) -> dict[str, Any]:
        """Broadcast `command`; with reply, {hostname: raw reply} of those that answered.

        To named workers it returns once each has answered; to every worker it waits the whole
        timeout, so that a worker this process has not seen yet is not cut off by `limit=`."""
        limit = len(destination) if destination else None
        loop = asyncio.get_running_loop()

        def send() -> dict[str, Any]:
            replies = self.app.control.broadcast(
                command,
                arguments=arguments or {},
                destination=destination,
                reply=reply,
                timeout=wait or self.timeout,
                limit=limit if reply else None,
            )
            merged: dict[str, Any] = {}
            for item in replies or ():
                if isinstance(item, dict):
                    merged.update(item)
            return merged

        try:
            replies = await loop.run_in_executor(self.inspector.executor, send)
        except Exception as exc:  # kombu/redis errors vary by transport
            log.warning("control %s failed: %s", command, exc)
            raise BrokerUnavailable(f"broker unreachable for {command}: {exc}") from exc
        self.inspector.observe_workers(replies)
        return replies

    async def command(
        self,
        command: str,
        arguments: dict[str, Any] | None = None,
        *,
        destination: list[str] | None = None,
        wait: float | None = None,
    ) -> list[WorkerReply]:
        raw = await self.call(command, arguments, destination=destination, wait=wait)
        return [parse_reply(h, v) for h, v in sorted(raw.items())]

    async def ping(self, hostnames: list[str], *, wait: float | None = None) -> set[str]:
        """Which of `hostnames` answer a ping now."""
        return set(await self.call("ping", destination=hostnames, wait=wait))

    async def live_workers(self) -> list[str]:
        """Every worker answering now (waits the whole timeout: finds unknown ones too)."""
        return sorted((await self.inspector.discover()).replies)

    async def resolve(self, hostnames: list[str] | None) -> list[str]:
        """The target workers: the named ones (each must answer) or, for None, every live one.

        NOT_FOUND for a worker nobody has seen, WORKER_UNAVAILABLE for a known one that is silent.
        """
        if hostnames is None:
            live = await self.live_workers()
            if not live:
                raise WorkerUnavailable("no worker answers", field="workers")
            return live
        names = sorted({h.strip() for h in hostnames if h.strip()})
        if not names:
            raise BadInput("no worker named", field="workers")
        if len(names) > MAX_TARGETS:
            raise BadInput(f"at most {MAX_TARGETS} workers at once", field="workers")
        answering = await self.ping(names)
        missing = [h for h in names if h not in answering]
        if missing:
            known = set(self.inspector.recently_seen())
            unknown = [h for h in missing if h not in known]
            if unknown:
                raise NotFound(f"unknown worker(s): {', '.join(unknown)}", field="workers")
            raise WorkerUnavailable(
                f"worker(s) not answering: {', '.join(missing)}", field="workers"
            )
        return names


__all__ = ["Controller", "WorkerReply", "parse_reply"]
