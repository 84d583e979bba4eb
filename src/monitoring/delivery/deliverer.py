"""The delivery leader job: outbox -> delivery rows -> HTTP, with retries, and test sends.

Registered by the composition root as a leader job, so exactly one process of the deployment
delivers. Every `poll_seconds` it
1. moves what the sampler left in the outbox into `celery_alert_deliveries` (a row per sink that
   wants it: severity, rule ids, resolved or not), then acknowledges the outbox;
2. attempts the due rows, a few at a time (`concurrency`), each claimed first (see store.py), so a
   leader change neither loses a notification (the rows are in the database) nor sends a
   delivered one again (a delivered row is never due; a row claimed by a leader that vanished is
   due again only once its claim has expired, which is the one case a receiver can see a repeat:
   the notification id is in every request for it to drop);
3. re-sends the active alerts to each Alertmanager sink every `resend_seconds`;
4. now and then, reports the backlog per sink (for /metrics) and prunes finished rows older than
   `monitoring.snapshot_retention_days`.

A resolved notification is never sent before its firing one to the same sink has ended. A sink
removed or disabled cancels what was still waiting for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from src.db.models import AlertDelivery
from src.db.models.base import utcnow
from src.db.session import Database
from src.errors import AppError, ErrorCode, NotFound
from src.monitoring import settings as keys
from src.monitoring.alerts import AlertEngine
from src.monitoring.delivery.formats import alertmanager_refresh, build_request
from src.monitoring.delivery.notification import Notification
from src.monitoring.delivery.outbox import Outbox
from src.monitoring.delivery.sender import client, send
from src.monitoring.delivery.sinks import AlertmanagerSink, Sink, load_sinks, scrub
from src.monitoring.delivery.store import DeliveryStore, Outcome, Status
from src.monitoring.state import StateStore
from src.process.bounded import call_within
from src.system.config import ConfigStore

log = logging.getLogger(__name__)

BACKLOG_KEY = "alerts:delivery_backlog"
POLL_SECONDS = 1.0
CONCURRENCY = 4
BATCH = 50
ENQUEUE_CHUNK = 200
REPORT_SECONDS = 5.0
# A round: BATCH attempts, `concurrency` at a time, each within its sink's timeout.
STEP_SECONDS = 120.0
# Pauses between tries to record an attempt's outcome (None: the last try).
COMPLETE_RETRIES: tuple[float | None, ...] = (0.5, 1.0, 2.0, None)
PRUNE_SECONDS = 3600.0


class DeliveryFailed(AppError):
    code = ErrorCode.DELIVERY_FAILED


@dataclass(frozen=True, slots=True)
class SinkBacklog:
    sink: str
    undelivered: int
    oldest_age_seconds: float


@dataclass(frozen=True, slots=True)
class TestResult:
    delivery: AlertDelivery
    outcome: Outcome


class Deliverer:
    def __init__(
        self,
        *,
        db: Database,
        config: ConfigStore,
        state: StateStore,
        alerts: AlertEngine,
        poll_seconds: float = POLL_SECONDS,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self.store = DeliveryStore(db)
        self.outbox = Outbox(state)
        self.config = config
        self.state = state
        self.alerts = alerts
        self.poll_seconds = poll_seconds
        self.concurrency = concurrency
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._refreshed: dict[str, float] = {}
        self._reported = 0.0
        self._pruned = 0.0

    # -- the loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Deliver for as long as this process leads (cancelled when it stops leading)."""
        self._refreshed = {}  # a new term re-sends the active alerts to Alertmanager at once
        async with client() as http:
            while True:
                started = time.monotonic()
                try:
                    # In a task of its own: a library that swallows the cancellation meant for
                    # this job (redis-py while it connects) cannot keep it delivering after the
                    # lease is gone, and a round that hangs is abandoned.
                    await call_within(self.step(http), STEP_SECONDS)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("alert delivery round failed: %s: %s", type(exc).__name__, exc)
                await asyncio.sleep(max(0.05, self.poll_seconds - (time.monotonic() - started)))

    async def step(self, http: httpx.AsyncClient) -> None:
        sinks = await load_sinks(self.config)
        await self.drain(sinks)
        await self.deliver_due(http, sinks)
        await self.refresh_alertmanager(http, sinks)
        now = time.monotonic()
        if now - self._reported >= REPORT_SECONDS:
            self._reported = now
            await self.report()
        if now - self._pruned >= PRUNE_SECONDS:
            self._pruned = now
            days = await keys.get_float(self.config, keys.SNAPSHOT_RETENTION_DAYS.name)
            await self.store.prune(before=utcnow() - timedelta(days=days))

    async def drain(self, sinks: list[Sink]) -> int:
        """Outbox -> delivery rows; returns the rows added."""
        notifications = await self.outbox.take()
        added = 0
        for start in range(0, len(notifications), ENQUEUE_CHUNK):
            chunk = notifications[start : start + ENQUEUE_CHUNK]
            added += await self.store.enqueue(chunk, sinks)
            await self.outbox.ack([n.id for n in chunk])
        return added

    async def deliver_due(self, http: httpx.AsyncClient, sinks: list[Sink]) -> int:
        """Attempt every due row once; returns how many were attempted."""
        by_name = {s.name: s for s in sinks}
        rows = await self.store.due(now=utcnow(), limit=BATCH)
        gate = asyncio.Semaphore(self.concurrency)
        attempts = []
        for row in rows:
            sink = by_name.get(row.sink)
            if sink is None or not sink.enabled:
                reason = "sink removed" if sink is None else "sink disabled"
                await self.store.cancel(row, reason)
                log.info("alert delivery %s to %s cancelled: %s", row.event, row.sink, reason)
                continue
            attempts.append(self._attempt(http, gate, row, sink))
        for failed in await asyncio.gather(*attempts, return_exceptions=True):
            if isinstance(failed, Exception):  # the database away: the row is tried again later
                log.warning("alert delivery attempt failed: %s: %s", type(failed).__name__, failed)
            elif isinstance(failed, BaseException):
                raise failed
        return len(attempts)

    async def _attempt(
        self, http: httpx.AsyncClient, gate: asyncio.Semaphore, row: AlertDelivery, sink: Sink
    ) -> None:
        async with gate:
            now = utcnow()
            attempt = await self.store.claim(
                row, owner=self.owner, seconds=sink.timeout_seconds, now=now
            )
            if attempt is None:
                return  # another process took it first
            notification = Notification.model_validate(row.alert)
            request = build_request(sink, notification, attempt=attempt, now=now)
            outcome = await send(http, sink, request, attempt)
            if outcome.status is Status.RETRYING and attempt >= sink.max_attempts:
                outcome = Outcome(
                    Status.FAILED,
                    response_status=outcome.response_status,
                    error=f"gave up after {attempt} attempts: {outcome.error}",
                )
            recorded = await self._complete(row.id, attempt, outcome)
        _log(row, sink, attempt, outcome, recorded)

    async def _complete(self, row_id: int, attempt: int, outcome: Outcome) -> bool:
        """Record the outcome, trying again over a short database hiccup: a delivered row left
        as `sending` would be sent again once its claim expires."""
        for pause in COMPLETE_RETRIES:
            try:
                return await self.store.complete(
                    row_id, owner=self.owner, attempt=attempt, outcome=outcome, now=utcnow()
                )
            except AppError as exc:
                if pause is None:
                    raise
                log.warning("recording alert delivery %d failed (%s); again", row_id, exc)
                await asyncio.sleep(pause)
        return False

    async def refresh_alertmanager(self, http: httpx.AsyncClient, sinks: list[Sink]) -> None:
        due = [
            s
            for s in sinks
            if isinstance(s, AlertmanagerSink)
            and s.enabled
            and time.monotonic() - self._refreshed.get(s.name, -1e9) >= s.resend_seconds
        ]
        if not due:
            return
        active = await self.alerts.active()
        for sink in due:
            self._refreshed[sink.name] = time.monotonic()
            alerts = [a for a in active if sink.wants(a.rule_id, a.severity, "firing")]
            if not alerts:
                continue
            request = alertmanager_refresh(sink, alerts, datetime.now(UTC))
            try:
                response = await http.post(
                    request.url,
                    content=request.body,
                    headers=request.headers,
                    timeout=sink.timeout_seconds,
                )
                if response.status_code >= 300:
                    log.warning(
                        "re-sending %d active alerts to %s: HTTP %d",
                        len(alerts),
                        sink.name,
                        response.status_code,
                    )
            except httpx.HTTPError as exc:
                log.warning(
                    "re-sending %d active alerts to %s failed: %s",
                    len(alerts),
                    sink.name,
                    scrub(sink, f"{type(exc).__name__}: {exc}"),
                )

    async def report(self) -> list[SinkBacklog]:
        """Store the undelivered rows per sink in the shared state (for /metrics)."""
        now = utcnow()
        backlog = [
            SinkBacklog(
                b.sink, b.undelivered, (now - b.oldest).total_seconds() if b.oldest else 0.0
            )
            for b in await self.store.backlog()
        ]
        document = {b.sink: [b.undelivered, round(b.oldest_age_seconds, 3)] for b in backlog}
        await self.state.set(BACKLOG_KEY, json.dumps(document), ttl=REPORT_SECONDS * 6)
        return backlog

    # -- a test notification, sent at once (any replica) ---------------------------------------

    async def test_sink(self, name: str, *, actor: str | None) -> TestResult:
        """Send a test notification to the sink called `name` (enabled or not), once, and
        record the attempt. Raises NotFound for an unknown sink."""
        sinks = {s.name: s for s in await load_sinks(self.config)}
        sink = sinks.get(name)
        if sink is None:
            known = ", ".join(sorted(sinks)) or "none configured"
            raise NotFound(f"no alert sink {name!r} (known: {known})", field="name")
        notification = Notification.test(sink.name, actor)
        now = utcnow()
        owner = f"{self.owner}:test"
        row_id = await self.store.record(
            notification,
            sink,
            status=Status.SENDING.value,
            attempts=1,
            claimed_by=owner,
            claim_until=now + timedelta(seconds=sink.timeout_seconds + 5),
            last_attempt_at=now,
        )
        request = build_request(sink, notification, attempt=1, now=now)
        async with client() as http:
            outcome = await send(http, sink, request, 1)
        if outcome.status is Status.RETRYING:  # a test is not retried
            outcome = Outcome(Status.FAILED, outcome.response_status, outcome.error)
        await self.store.complete(row_id, owner=owner, attempt=1, outcome=outcome, now=utcnow())
        row = await self.store.get(row_id)
        assert row is not None
        return TestResult(row, outcome)


async def read_backlog(state: StateStore) -> list[SinkBacklog]:
    """The delivery leader's latest backlog report (empty when none is recent)."""
    raw = await state.get(BACKLOG_KEY)
    if not raw:
        return []
    document = json.loads(raw)
    return [SinkBacklog(sink, int(n), float(age)) for sink, (n, age) in sorted(document.items())]


def _log(row: AlertDelivery, sink: Sink, attempt: int, outcome: Outcome, recorded: bool) -> None:
    what = f"alert {row.event} of {row.alert_key} to sink {sink.name} ({sink.kind})"
    if not recorded:
        status = outcome.status.value
        log.warning("%s: attempt %d ended (%s) after its claim was lost", what, attempt, status)
    elif outcome.status is Status.DELIVERED:
        log.info("%s delivered (attempt %d)", what, attempt)
    elif outcome.status is Status.RETRYING:
        wait = outcome.retry_in
        log.warning(
            "%s: attempt %d failed (%s); retry in %.1f s", what, attempt, outcome.error, wait
        )
    else:
        log.error("%s failed for good: %s", what, outcome.error)


__all__ = [
    "BACKLOG_KEY",
    "Deliverer",
    "DeliveryFailed",
    "SinkBacklog",
    "TestResult",
    "read_backlog",
]
