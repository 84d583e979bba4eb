"""Control broadcasts off the event loop, on the inspector's bounded thread pool.

Celery's control calls block for up to their timeout and kombu's connection pool deadlocks with
about ten concurrent calls, so every broadcast here runs in the same small executor as inspect.

A broadcast returns as soon as the workers it waits for have answered (src/control/pidbox.py):
the named ones, or, to every worker, those known to be alive (the inspector's set, kept current by
the discovery ping, the collector's worker-online, the monitoring sampler and the mingle `hello`
of every starting worker) plus a short `SETTLE` for workers not known yet. Stopping early never
keeps the command from a worker: everyone listening gets it; only a reply that comes later is not
reported. A known worker that stays silent through a whole broadcast (stopped, or the known set
is stale) is not waited for again until it answers something or `SILENT_FOR` passes, so one dead
worker costs one full timeout rather than one per call. With no worker known at all a broadcast
listens for the whole timeout, which is how unknown workers are found.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from celery import Celery

from src.control.errors import WorkerUnavailable
from src.control.inspector import Inspector
from src.control.pidbox import broadcast_collect
from src.errors import BadInput, BrokerUnavailable, NotFound

log = logging.getLogger(__name__)

MAX_TARGETS = 200
SETTLE = 0.05  # seconds a broadcast to every worker listens on once every known one has answered
SILENT_FOR = 60.0  # how long a known worker that missed a whole broadcast is not waited for


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
        self._silent: dict[str, float] = {}  # hostname -> when it missed a broadcast to all

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

        To named workers it returns once each has answered; to every worker once every worker
        known to be alive has, plus `SETTLE` (see the module docstring)."""
        loop = asyncio.get_running_loop()
        timeout = wait or self.timeout
        awaited = list(destination) if destination else self.awaited_workers()

        def send() -> dict[str, Any]:
            if not reply:
                self.app.control.broadcast(
                    command,
                    arguments=arguments or {},
                    destination=destination,
                    reply=False,
                    timeout=timeout,  # the command's expiry
                )
                return {}
            collected = broadcast_collect(
                self.app,
                command,
                arguments or {},
                destination=destination,
                wait_for=awaited,
                timeout=timeout,
                settle=0.0 if destination else SETTLE,
            )
            return collected.replies

        try:
            replies = await loop.run_in_executor(self.inspector.executor, send)
        except Exception as exc:  # kombu/redis errors vary by transport
            log.warning("control %s failed: %s", command, exc)
            raise BrokerUnavailable(f"broker unreachable for {command}: {exc}") from exc
        if reply and not destination:
            self._note_silent(awaited, replies)
        for hostname in replies:
            self._silent.pop(hostname, None)
        self.inspector.observe_workers(replies)
        return replies

    def awaited_workers(self) -> list[str]:
        """Who a broadcast to every worker waits for: the known-alive, minus the recently silent."""
        now = time.monotonic()
        for hostname, since in list(self._silent.items()):
            if now - since > SILENT_FOR:
                del self._silent[hostname]
        return [h for h in self.inspector.known_workers() if h not in self._silent]

    def _note_silent(self, awaited: list[str], replies: dict[str, Any]) -> None:
        now = time.monotonic()
        for hostname in awaited:
            if hostname not in replies:
                self._silent[hostname] = now

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
        """Every worker answering a ping now (known ones awaited, unknown ones as they come)."""
        return sorted(await self.call("ping"))

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
